// N-API entry points of the codebook family: the VQ map, the VQ-Logits operations, codebook
// assignment and product quantization, each with an Async form. Every output is allocated by
// lib/codebook.ts (or given by the caller) and passed in; each call is parsed and fully
// validated first (types, lengths, code ranges, sizes, aliasing), and only then is anything
// written. No arithmetic on data here.
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../kernels/codebook/codebook.h"
#include "args.h"
#include "seed.h"
#include "async.h"
#include "bag_args.h"
#include "family.h"

namespace embedkit::binding {
namespace {

namespace cb = codebook;

std::string num(int64_t v) { return std::to_string(v); }

constexpr int64_t kMaxInt32 = 2147483647;
constexpr int64_t kMaxBits = 8;

// What every prepared call carries: its result (an array or a plain object of arrays) and
// the arrays an async run must keep alive.
struct CallBase {
  Napi::Value result;
  std::vector<HeldArray> held;
  void hold(const ArrayView& v, const char* name) {
    if (v.present) held.push_back({name, v.value});
  }
};

ArrayView get_int32_array(Napi::Env env, const Napi::Value& v, const char* name) {
  return get_typed_array(env, v, name, napi_int32_array, "Int32Array");
}

// An output array of exactly n elements of `type`, disjoint from every input.
ArrayView get_output(Napi::Env env, const Napi::Value& v, const char* name, napi_typedarray_type type,
                     const char* type_name, int64_t n, const std::string& shape,
                     std::initializer_list<std::pair<const ArrayView*, const char*>> inputs) {
  ArrayView out = get_typed_array(env, v, name, type, type_name);
  if (out.length != n) {
    throw_range_error(env, std::string(name) + ".length must be " + num(n) + " (" + shape + "), got " + num(out.length));
  }
  for (const auto& in : inputs) require_disjoint(env, out, name, *in.first, in.second);
  return out;
}

cb::Metric get_metric(Napi::Env env, const Napi::Value& v) {
  return static_cast<cb::Metric>(get_integer(env, v, "metric", 0, 1));
}

// ---- the VQ map -------------------------------------------------------------------------

// args: tokenToCode, numCodes, counts, logCounts, offsets, tokens
Napi::Value VqMapBuild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayView map = get_int32_array(env, info[0], "tokenToCode");
  if (map.length < 1) throw_range_error(env, "tokenToCode must hold at least one token");
  const int64_t k = get_integer(env, info[1], "numCodes", 1, kMaxInt32 - 1);
  const int32_t* codes = static_cast<const int32_t*>(map.data);
  const int64_t bad = cb::find_code_out_of_range(codes, map.length, k);
  if (bad >= 0) {
    throw_range_error(env, "tokenToCode[" + num(bad) + "] = " + num(codes[bad]) + " is out of range for " +
                               num(k) + " codes (numCodes)");
  }
  const std::string shape = "numCodes " + num(k);
  const ArrayView counts = get_output(env, info[2], "counts", napi_int32_array, "Int32Array", k, shape, {{&map, "tokenToCode"}});
  const ArrayView logs = get_output(env, info[3], "logCounts", napi_float64_array, "Float64Array", k, shape, {{&map, "tokenToCode"}});
  const ArrayView offsets = get_output(env, info[4], "codeOffsets", napi_int32_array, "Int32Array", k + 1, "numCodes + 1", {{&map, "tokenToCode"}});
  const ArrayView tokens = get_output(env, info[5], "codeTokens", napi_int32_array, "Int32Array", map.length, "tokenToCode.length", {{&map, "tokenToCode"}});
  try {
    cb::build_vq_map(codes, map.length, k, static_cast<int32_t*>(counts.data), static_cast<double*>(logs.data),
                     static_cast<int32_t*>(offsets.data), static_cast<int32_t*>(tokens.data));
  } catch (const std::bad_alloc&) {
    throw_range_error(env, "VqMap: cannot allocate its scratch memory");
  }
  return env.Undefined();
}

// The map's arrays, as a VqMap built them (lib/codebook.ts keeps them private); checked for
// type and mutual lengths, not contents, which only the constructor can produce.
struct MapArg {
  ArrayView token_to_code, counts, log_counts, offsets, tokens;
  cb::VqMap map;
};

// args[at .. at + 4]: tokenToCode, counts, logCounts, codeOffsets, codeTokens
void parse_map(const Napi::CallbackInfo& info, int at, MapArg* m) {
  Napi::Env env = info.Env();
  m->token_to_code = get_int32_array(env, info[at], "map.tokenToCode");
  m->counts = get_int32_array(env, info[at + 1], "map.counts");
  m->log_counts = get_typed_array(env, info[at + 2], "map.logCounts", napi_float64_array, "Float64Array");
  m->offsets = get_int32_array(env, info[at + 3], "map.codeOffsets");
  m->tokens = get_int32_array(env, info[at + 4], "map.codeTokens");
  const int64_t k = m->counts.length, v = m->token_to_code.length;
  if (k < 1 || v < 1 || m->log_counts.length != k || m->offsets.length != k + 1 || m->tokens.length != v) {
    throw_type_error(env, "map must be a VqMap");
  }
  m->map = cb::VqMap{v, k, static_cast<const int32_t*>(m->token_to_code.data), static_cast<const int32_t*>(m->counts.data),
                     static_cast<const double*>(m->log_counts.data), static_cast<const int32_t*>(m->offsets.data),
                     static_cast<const int32_t*>(m->tokens.data)};
}

struct VqInput {
  ArrayView logits_view;
  MapArg m;
  cb::CodeLogits logits;
};

// args: codeLogits, then the map's five arrays.
void parse_vq(const Napi::CallbackInfo& info, VqInput* in, CallBase* base) {
  Napi::Env env = info.Env();
  in->logits_view = get_float32_array(env, info[0], "codeLogits");
  parse_map(info, 1, &in->m);
  const int64_t k = in->m.map.num_codes;
  if (in->logits_view.length % k != 0) {
    throw_range_error(env, "codeLogits.length " + num(in->logits_view.length) + " is not a multiple of the map's " +
                               num(k) + " codes");
  }
  in->logits = cb::CodeLogits{static_cast<const float*>(in->logits_view.data), in->logits_view.length / k};
  base->hold(in->logits_view, "codeLogits");
  base->hold(in->m.token_to_code, "map.tokenToCode");
  base->hold(in->m.counts, "map.counts");
  base->hold(in->m.log_counts, "map.logCounts");
  base->hold(in->m.offsets, "map.codeOffsets");
  base->hold(in->m.tokens, "map.codeTokens");
}

std::string rows_by(const VqInput& in, const char* what, int64_t n) {
  return "rows " + num(in.logits.rows) + " x " + what + " " + num(n);
}

// An output of rows x n elements, disjoint from the logits and the map.
ArrayView vq_output(Napi::Env env, const Napi::Value& v, const char* name, napi_typedarray_type type,
                    const char* type_name, const VqInput& in, const char* what, int64_t n) {
  if (n != 0 && in.logits.rows > kMaxSafeInteger / n) throw_range_error(env, std::string(name) + ": rows x " + what + " overflows");
  return get_output(env, v, name, type, type_name, in.logits.rows * n, rows_by(in, what, n),
                    {{&in.logits_view, "codeLogits"}, {&in.m.token_to_code, "map.tokenToCode"}, {&in.m.counts, "map.counts"},
                     {&in.m.log_counts, "map.logCounts"}, {&in.m.offsets, "map.codeOffsets"}, {&in.m.tokens, "map.codeTokens"}});
}

enum class RowOp { Expand, LogSumExp, LogSoftmax };

struct VqRowsCall : CallBase {
  RowOp op = RowOp::Expand;
  VqInput in;
  ArrayView out;
  void run() const {
    float* o = static_cast<float*>(out.data);
    switch (op) {
      case RowOp::Expand: cb::vq_expand(in.logits, in.m.map, o); break;
      case RowOp::LogSumExp: cb::vq_log_sum_exp(in.logits, in.m.map, o); break;
      case RowOp::LogSoftmax: cb::vq_log_softmax(in.logits, in.m.map, o); break;
    }
  }
};

// args: codeLogits, map x5, out
template <RowOp op>
void prepare_vq_rows(const Napi::CallbackInfo& info, VqRowsCall* c) {
  c->op = op;
  parse_vq(info, &c->in, c);
  const int64_t n = op == RowOp::Expand ? c->in.m.map.num_tokens : op == RowOp::LogSoftmax ? c->in.m.map.num_codes : 1;
  const char* what = op == RowOp::Expand ? "tokens" : op == RowOp::LogSoftmax ? "codes" : "1";
  c->out = vq_output(info.Env(), info[6], "out", napi_float32_array, "Float32Array", c->in, what, n);
  c->hold(c->out, "out");
  c->result = c->out.value;
}

struct VqCrossEntropyCall : CallBase {
  VqInput in;
  ArrayView targets_view, loss, grad;
  IndexArray targets;
  void run() const {
    cb::vq_cross_entropy(in.logits, in.m.map, targets, static_cast<float*>(loss.data), static_cast<float*>(grad.data));
  }
};

// args: codeLogits, map x5, targets, loss, grad
void prepare_vq_cross_entropy(const Napi::CallbackInfo& info, VqCrossEntropyCall* c) {
  Napi::Env env = info.Env();
  parse_vq(info, &c->in, c);
  c->targets_view = get_index_array(env, info[6], "targets", &c->targets);
  if (c->targets.length != c->in.logits.rows) {
    throw_range_error(env, "targets.length must equal the rows of codeLogits " + num(c->in.logits.rows) + ", got " +
                               num(c->targets.length));
  }
  const int64_t bad = find_index_out_of_range(c->targets, c->in.m.map.num_tokens);
  if (bad >= 0) {
    throw_range_error(env, "targets[" + num(bad) + "] = " + std::to_string(c->targets.at(bad)) +
                               " is out of range for a vocabulary of " + num(c->in.m.map.num_tokens) + " tokens");
  }
  c->loss = vq_output(env, info[7], "loss", napi_float32_array, "Float32Array", c->in, "1", 1);
  c->grad = vq_output(env, info[8], "grad", napi_float32_array, "Float32Array", c->in, "codes", c->in.m.map.num_codes);
  require_disjoint(env, c->loss, "loss", c->targets_view, "targets");
  require_disjoint(env, c->grad, "grad", c->targets_view, "targets");
  require_disjoint(env, c->grad, "grad", c->loss, "loss");
  c->hold(c->targets_view, "targets");
  c->hold(c->loss, "loss");
  c->hold(c->grad, "grad");
  Napi::Object r = Napi::Object::New(env);
  r.Set("loss", c->loss.value);
  r.Set("grad", c->grad.value);
  c->result = r;
}

struct VqTopKCall : CallBase {
  VqInput in;
  int64_t k = 0;
  ArrayView ids, log_probs;
  void run() const {
    cb::vq_top_k(in.logits, in.m.map, k, static_cast<int32_t*>(ids.data), static_cast<float*>(log_probs.data));
  }
};

// args: codeLogits, map x5, k, ids, logProbs
void prepare_vq_top_k(const Napi::CallbackInfo& info, VqTopKCall* c) {
  Napi::Env env = info.Env();
  parse_vq(info, &c->in, c);
  c->k = get_integer(env, info[6], "k", 1, c->in.m.map.num_tokens);
  c->ids = vq_output(env, info[7], "ids", napi_int32_array, "Int32Array", c->in, "k", c->k);
  c->log_probs = vq_output(env, info[8], "logProbs", napi_float32_array, "Float32Array", c->in, "k", c->k);
  require_disjoint(env, c->log_probs, "logProbs", c->ids, "ids");
  c->hold(c->ids, "ids");
  c->hold(c->log_probs, "logProbs");
  Napi::Object r = Napi::Object::New(env);
  r.Set("ids", c->ids.value);
  r.Set("logProbs", c->log_probs.value);
  c->result = r;
}

struct VqSampleCall : CallBase {
  VqInput in;
  uint64_t seed = 0;
  double temperature = 1;
  ArrayView out;
  void run() const { cb::vq_sample(in.logits, in.m.map, seed, temperature, static_cast<int32_t*>(out.data)); }
};

// args: codeLogits, map x5, seed, temperature, out
void prepare_vq_sample(const Napi::CallbackInfo& info, VqSampleCall* c) {
  Napi::Env env = info.Env();
  parse_vq(info, &c->in, c);
  c->seed = get_seed(env, info[6]);
  if (!info[7].IsNumber()) throw_type_error(env, "temperature must be a number, got " + describe_value(info[7]));
  c->temperature = info[7].As<Napi::Number>().DoubleValue();
  if (!(c->temperature > 0) || !std::isfinite(c->temperature)) {
    throw_range_error(env, "temperature must be a finite number > 0, got " + info[7].ToString().Utf8Value());
  }
  c->out = vq_output(env, info[8], "out", napi_int32_array, "Int32Array", c->in, "1", 1);
  c->hold(c->out, "out");
  c->result = c->out.value;
}

// ---- codebooks and product quantization -------------------------------------------------

// x: rows of dim floats.
struct RowsArg {
  ArrayView view;
  cb::Rows rows;
};

RowsArg parse_rows(Napi::Env env, const Napi::Value& x_arg, const char* name, const Napi::Value& dim_arg) {
  RowsArg r;
  r.view = get_float32_array(env, x_arg, name);
  const int64_t dim = get_integer(env, dim_arg, "dim", 1, kMaxInt32);
  if (r.view.length % dim != 0) {
    throw_range_error(env, std::string(name) + ".length " + num(r.view.length) + " is not a multiple of dim " + num(dim));
  }
  r.rows = cb::Rows{static_cast<const float*>(r.view.data), r.view.length / dim, dim, dim};
  return r;
}

struct AssignCall : CallBase {
  RowsArg x;
  ArrayView codebook_view, codes, dist;
  int64_t num_codes = 0;
  cb::Metric metric = cb::Metric::L2;
  void run() const {
    cb::assign(x.rows, static_cast<const float*>(codebook_view.data), num_codes, metric, static_cast<int32_t*>(codes.data),
               static_cast<float*>(dist.data));
  }
};

// args: x, dim, codebook, numCodes, metric, codes, distances
void prepare_assign(const Napi::CallbackInfo& info, AssignCall* c) {
  Napi::Env env = info.Env();
  c->x = parse_rows(env, info[0], "x", info[1]);
  c->codebook_view = get_float32_array(env, info[2], "codebook");
  c->num_codes = get_integer(env, info[3], "numCodes", 1, kMaxInt32);
  if (c->codebook_view.length / c->x.rows.dim != c->num_codes || c->codebook_view.length % c->x.rows.dim != 0) {
    throw_range_error(env, "codebook.length must be numCodes " + num(c->num_codes) + " x dim " + num(c->x.rows.dim) +
                               ", got " + num(c->codebook_view.length));
  }
  c->metric = get_metric(env, info[4]);
  const std::string shape = "rows of x " + num(c->x.rows.rows);
  c->codes = get_output(env, info[5], "codes", napi_int32_array, "Int32Array", c->x.rows.rows, shape,
                        {{&c->x.view, "x"}, {&c->codebook_view, "codebook"}});
  c->dist = get_output(env, info[6], "distances", napi_float32_array, "Float32Array", c->x.rows.rows, shape,
                       {{&c->x.view, "x"}, {&c->codebook_view, "codebook"}, {&c->codes, "codes"}});
  c->hold(c->x.view, "x");
  c->hold(c->codebook_view, "codebook");
  c->hold(c->codes, "codes");
  c->hold(c->dist, "distances");
  Napi::Object r = Napi::Object::New(env);
  r.Set("codes", c->codes.value);
  r.Set("distances", c->dist.value);
  c->result = r;
}

// A product quantizer's shape and codebooks. args[at..at+3]: dim, m, bits, codebooks
struct PqArg {
  ArrayView codebooks;
  cb::Pq pq;
};

int64_t parse_pq_shape(Napi::Env env, const Napi::Value& dim_arg, const Napi::Value& m_arg,
                       const Napi::Value& bits_arg, cb::Pq* pq) {
  pq->dim = get_integer(env, dim_arg, "dim", 1, kMaxInt32);
  pq->m = get_integer(env, m_arg, "m", 1, pq->dim);
  if (pq->dim % pq->m != 0) {
    throw_range_error(env, "dim " + num(pq->dim) + " is not divisible by m " + num(pq->m));
  }
  const int64_t bits = get_integer(env, bits_arg, "bits", 1, kMaxBits);
  pq->ksub = int64_t{1} << bits;
  return bits;
}

void parse_pq(const Napi::CallbackInfo& info, int at, PqArg* p) {
  Napi::Env env = info.Env();
  parse_pq_shape(env, info[at], info[at + 1], info[at + 2], &p->pq);
  p->codebooks = get_float32_array(env, info[at + 3], "pq.codebooks");
  if (p->codebooks.length != p->pq.ksub * p->pq.dim) {
    throw_range_error(env, "pq.codebooks.length must be m " + num(p->pq.m) + " x 2^bits " + num(p->pq.ksub) + " x dim/m " +
                               num(p->pq.dsub()) + " = " + num(p->pq.ksub * p->pq.dim) + ", got " + num(p->codebooks.length));
  }
  p->pq.codebooks = static_cast<const float*>(p->codebooks.data);
}

// Codes: n x m bytes, each below 2^bits.
int64_t parse_codes(Napi::Env env, const Napi::Value& v, const cb::Pq& pq, ArrayView* view) {
  *view = get_typed_array(env, v, "codes", napi_uint8_array, "Uint8Array");
  if (view->length % pq.m != 0) {
    throw_range_error(env, "codes.length " + num(view->length) + " is not a multiple of m " + num(pq.m));
  }
  if (view->length / pq.m > kMaxInt32) throw_range_error(env, "codes holds more than 2^31 - 1 vectors");
  if (pq.ksub < 256) {
    const uint8_t* c = static_cast<const uint8_t*>(view->data);
    for (int64_t i = 0; i < view->length; ++i) {
      if (c[i] >= pq.ksub) {
        throw_range_error(env, "codes[" + num(i) + "] = " + num(c[i]) + " is out of range for 2^bits = " + num(pq.ksub) + " codes");
      }
    }
  }
  return view->length / pq.m;
}

struct PqTrainCall : CallBase {
  RowsArg x;
  cb::Pq shape;
  int iterations = 0;
  uint64_t seed = 0;
  ArrayView out;
  void run() const {
    cb::pq_train(x.rows.data, x.rows.rows, shape.dim, shape.m, shape.ksub, iterations, seed, static_cast<float*>(out.data));
  }
};

// args: x, dim, m, bits, iterations, seed, codebooks (out)
void prepare_pq_train(const Napi::CallbackInfo& info, PqTrainCall* c) {
  Napi::Env env = info.Env();
  c->x = parse_rows(env, info[0], "x", info[1]);
  parse_pq_shape(env, info[1], info[2], info[3], &c->shape);
  if (c->x.rows.rows < c->shape.ksub) {
    throw_range_error(env, "pqTrain needs at least 2^bits = " + num(c->shape.ksub) + " rows of x, got " + num(c->x.rows.rows));
  }
  c->iterations = static_cast<int>(get_integer(env, info[4], "iterations", 0, 1000));
  c->seed = get_seed(env, info[5]);
  c->out = get_output(env, info[6], "codebooks", napi_float32_array, "Float32Array", c->shape.ksub * c->shape.dim,
                      "2^bits x dim", {{&c->x.view, "x"}});
  c->hold(c->x.view, "x");
  c->hold(c->out, "codebooks");
  c->result = c->out.value;
}

struct PqEncodeCall : CallBase {
  RowsArg x;
  PqArg p;
  ArrayView out;
  void run() const { cb::pq_encode(p.pq, x.rows.data, x.rows.rows, static_cast<uint8_t*>(out.data)); }
};

// args: x, dim, m, bits, codebooks, codes (out)
void prepare_pq_encode(const Napi::CallbackInfo& info, PqEncodeCall* c) {
  Napi::Env env = info.Env();
  parse_pq(info, 1, &c->p);
  c->x = parse_rows(env, info[0], "x", info[1]);
  if (c->x.rows.rows > kMaxInt32) throw_range_error(env, "x holds more than 2^31 - 1 vectors");
  c->out = get_output(env, info[5], "codes", napi_uint8_array, "Uint8Array", c->x.rows.rows * c->p.pq.m, "rows x m",
                      {{&c->x.view, "x"}, {&c->p.codebooks, "pq.codebooks"}});
  c->hold(c->x.view, "x");
  c->hold(c->p.codebooks, "pq.codebooks");
  c->hold(c->out, "codes");
  c->result = c->out.value;
}

struct PqDecodeCall : CallBase {
  PqArg p;
  ArrayView codes, out;
  int64_t n = 0;
  void run() const { cb::pq_decode(p.pq, static_cast<const uint8_t*>(codes.data), n, static_cast<float*>(out.data)); }
};

// args: codes, dim, m, bits, codebooks, out
void prepare_pq_decode(const Napi::CallbackInfo& info, PqDecodeCall* c) {
  Napi::Env env = info.Env();
  parse_pq(info, 1, &c->p);
  c->n = parse_codes(env, info[0], c->p.pq, &c->codes);
  c->out = get_output(env, info[5], "out", napi_float32_array, "Float32Array", c->n * c->p.pq.dim, "vectors x dim",
                      {{&c->codes, "codes"}, {&c->p.codebooks, "pq.codebooks"}});
  c->hold(c->codes, "codes");
  c->hold(c->p.codebooks, "pq.codebooks");
  c->hold(c->out, "out");
  c->result = c->out.value;
}

struct PqTableCall : CallBase {
  RowsArg q;
  PqArg p;
  cb::Metric metric = cb::Metric::L2;
  ArrayView out;
  void run() const { cb::pq_distance_table(p.pq, q.rows.data, q.rows.rows, metric, static_cast<float*>(out.data)); }
};

// args: queries, dim, m, bits, codebooks, metric, out
void prepare_pq_table(const Napi::CallbackInfo& info, PqTableCall* c) {
  Napi::Env env = info.Env();
  parse_pq(info, 1, &c->p);
  c->q = parse_rows(env, info[0], "queries", info[1]);
  c->metric = get_metric(env, info[5]);
  if (c->q.rows.rows > kMaxSafeInteger / (c->p.pq.m * c->p.pq.ksub)) throw_range_error(env, "queries x m x 2^bits overflows");
  c->out = get_output(env, info[6], "out", napi_float32_array, "Float32Array", c->q.rows.rows * c->p.pq.m * c->p.pq.ksub,
                      "queries x m x 2^bits", {{&c->q.view, "queries"}, {&c->p.codebooks, "pq.codebooks"}});
  c->hold(c->q.view, "queries");
  c->hold(c->p.codebooks, "pq.codebooks");
  c->hold(c->out, "out");
  c->result = c->out.value;
}

struct PqScanCall : CallBase {
  PqArg p;
  ArrayView tables, codes, ids, dists;
  int64_t nq = 0, n = 0, k = 0;
  cb::Metric metric = cb::Metric::L2;
  void run() const {
    cb::pq_scan(p.pq, static_cast<const float*>(tables.data), nq, metric, static_cast<const uint8_t*>(codes.data), n, k,
                static_cast<int32_t*>(ids.data), static_cast<float*>(dists.data));
  }
};

// args: tables, codes, dim, m, bits, codebooks, metric, k, ids, distances
void prepare_pq_scan(const Napi::CallbackInfo& info, PqScanCall* c) {
  Napi::Env env = info.Env();
  parse_pq(info, 2, &c->p);
  c->tables = get_float32_array(env, info[0], "tables");
  const int64_t per_query = c->p.pq.m * c->p.pq.ksub;
  if (c->tables.length % per_query != 0) {
    throw_range_error(env, "tables.length " + num(c->tables.length) + " is not a multiple of m x 2^bits = " + num(per_query));
  }
  c->nq = c->tables.length / per_query;
  c->n = parse_codes(env, info[1], c->p.pq, &c->codes);
  c->metric = get_metric(env, info[6]);
  if (c->n < 1) throw_range_error(env, "codes must hold at least one vector");
  c->k = get_integer(env, info[7], "k", 1, c->n);
  if (c->nq > kMaxSafeInteger / c->k) throw_range_error(env, "queries x k overflows");
  const std::string shape = "queries " + num(c->nq) + " x k " + num(c->k);
  c->ids = get_output(env, info[8], "ids", napi_int32_array, "Int32Array", c->nq * c->k, shape,
                      {{&c->tables, "tables"}, {&c->codes, "codes"}, {&c->p.codebooks, "pq.codebooks"}});
  c->dists = get_output(env, info[9], "distances", napi_float32_array, "Float32Array", c->nq * c->k, shape,
                        {{&c->tables, "tables"}, {&c->codes, "codes"}, {&c->p.codebooks, "pq.codebooks"}, {&c->ids, "ids"}});
  c->hold(c->tables, "tables");
  c->hold(c->codes, "codes");
  c->hold(c->ids, "ids");
  c->hold(c->dists, "distances");
  Napi::Object r = Napi::Object::New(env);
  r.Set("ids", c->ids.value);
  r.Set("distances", c->dists.value);
  c->result = r;
}

struct PqBagCall : CallBase {
  PqArg p;
  ArrayView codes, indices_view, weights, out;
  IndexArray indices;
  BagBounds bounds;
  bool mean = false;
  void run() const {
    cb::pq_embedding_bag(p.pq, static_cast<const uint8_t*>(codes.data), indices, bounds.bags,
                         weights.present ? static_cast<const float*>(weights.data) : nullptr, mean, static_cast<float*>(out.data));
  }
};

// args: codes, dim, m, bits, codebooks, indices, bounds, boundsKind, mode (0 sum, 1 mean), weights?, out
void prepare_pq_bag(const Napi::CallbackInfo& info, PqBagCall* c) {
  Napi::Env env = info.Env();
  parse_pq(info, 1, &c->p);
  const int64_t rows = parse_codes(env, info[0], c->p.pq, &c->codes);
  c->indices_view = get_index_array(env, info[5], "indices", &c->indices);
  const int64_t bad = find_index_out_of_range(c->indices, rows);
  if (bad >= 0) {
    throw_range_error(env, "indices[" + num(bad) + "] = " + std::to_string(c->indices.at(bad)) + " is out of range for " +
                               num(rows) + " coded rows");
  }
  parse_bag_bounds(env, info[6], info[7], c->indices.length, &c->bounds);
  c->mean = get_integer(env, info[8], "mode", 0, 1) == 1;
  c->weights = get_optional_float32_array(env, info[9], "weights");
  if (c->weights.present && c->weights.length != c->indices.length) {
    throw_range_error(env, "weights.length must equal indices.length " + num(c->indices.length) + ", got " + num(c->weights.length));
  }
  const int64_t bags = c->bounds.bags.num_bags;
  if (bags > kMaxSafeInteger / c->p.pq.dim) throw_range_error(env, "bags x dim overflows");
  c->out = get_output(env, info[10], "out", napi_float32_array, "Float32Array", bags * c->p.pq.dim, "bags x dim",
                      {{&c->codes, "codes"}, {&c->p.codebooks, "pq.codebooks"}, {&c->indices_view, "indices"},
                       {&c->bounds.view, c->bounds.name}, {&c->weights, "weights"}});
  c->hold(c->codes, "codes");
  c->hold(c->p.codebooks, "pq.codebooks");
  c->hold(c->indices_view, "indices");
  c->hold(c->bounds.view, c->bounds.name);
  c->hold(c->weights, "weights");
  c->hold(c->out, "out");
  c->result = c->out.value;
}

// ---- sync and async entry points ----------------------------------------------------------

template <class Call, void (*Prepare)(const Napi::CallbackInfo&, Call*)>
Napi::Value Sync(const Napi::CallbackInfo& info) {
  Call c;
  Prepare(info, &c);
  try {
    c.run();
  } catch (const std::bad_alloc&) {
    throw_range_error(info.Env(), "cannot allocate the call's scratch memory");
  }
  return c.result;
}

template <class Call, void (*Prepare)(const Napi::CallbackInfo&, Call*)>
Napi::Value Async(const Napi::CallbackInfo& info) {
  auto c = std::make_shared<Call>();
  Prepare(info, c.get());
  return KernelWorker::Start(info.Env(), static_cast<const char*>(info.Data()), [c] { c->run(); }, c->result, c->held);
}

template <class Call, void (*Prepare)(const Napi::CallbackInfo&, Call*)>
void export_pair(Napi::Env env, Napi::Object exports, const char* name, const char* async_name) {
  exports.Set(name, Napi::Function::New(env, Sync<Call, Prepare>, name));
  exports.Set(async_name, Napi::Function::New(env, Async<Call, Prepare>, async_name, const_cast<char*>(async_name)));
}

}  // namespace

void register_codebook(Napi::Env env, Napi::Object exports) {
  exports.Set("vqMapBuild", Napi::Function::New(env, VqMapBuild, "vqMapBuild"));
  export_pair<VqRowsCall, prepare_vq_rows<RowOp::Expand>>(env, exports, "vqLogits", "vqLogitsAsync");
  export_pair<VqRowsCall, prepare_vq_rows<RowOp::LogSumExp>>(env, exports, "vqLogSumExp", "vqLogSumExpAsync");
  export_pair<VqRowsCall, prepare_vq_rows<RowOp::LogSoftmax>>(env, exports, "vqLogSoftmax", "vqLogSoftmaxAsync");
  export_pair<VqCrossEntropyCall, prepare_vq_cross_entropy>(env, exports, "vqCrossEntropy", "vqCrossEntropyAsync");
  export_pair<VqTopKCall, prepare_vq_top_k>(env, exports, "vqTopK", "vqTopKAsync");
  export_pair<VqSampleCall, prepare_vq_sample>(env, exports, "vqSample", "vqSampleAsync");
  export_pair<AssignCall, prepare_assign>(env, exports, "codebookAssign", "codebookAssignAsync");
  export_pair<PqTrainCall, prepare_pq_train>(env, exports, "pqTrain", "pqTrainAsync");
  export_pair<PqEncodeCall, prepare_pq_encode>(env, exports, "pqEncode", "pqEncodeAsync");
  export_pair<PqDecodeCall, prepare_pq_decode>(env, exports, "pqDecode", "pqDecodeAsync");
  export_pair<PqTableCall, prepare_pq_table>(env, exports, "pqDistanceTable", "pqDistanceTableAsync");
  export_pair<PqScanCall, prepare_pq_scan>(env, exports, "pqScan", "pqScanAsync");
  export_pair<PqBagCall, prepare_pq_bag>(env, exports, "pqEmbeddingBag", "pqEmbeddingBagAsync");
}

}  // namespace embedkit::binding
