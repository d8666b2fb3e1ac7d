// cuda.codebookAssign and the product quantizer (cuda.pqEncode, pqDecode, pqDistanceTable,
// pqScan), checked as the CPU binding (csrc/binding/codebook.cc) checks them before
// anything is queued. PQ codes are bytes: with bits < 8 their values are checked against
// 2^bits from the array's host-side summary (fromHost), or known from cuda.pqEncode.
#include <string>

#include "../codebook/pq.h"
#include "args.h"
#include "ops.h"
#include "temp.h"

namespace embedkit::cuda::binding {
namespace {

using codebook::DevicePq;
using codebook::Metric;

constexpr int64_t kMaxInt32 = 2147483647;
// A PQ's subspaces are a grid dimension of the encode kernel.
constexpr int64_t kMaxSubspaces = 65535;

std::string num(int64_t v) { return std::to_string(v); }

// rows x dim floats.
int64_t rows_of(Napi::Env env, const DeviceBuffer& x, const char* name, int64_t dim) {
  if (x.length % dim != 0) {
    throw_range_error(env, std::string(name) + ".length " + num(x.length) + " is not a multiple of dim " + num(dim));
  }
  if (x.length / dim > kMaxInt32) throw_range_error(env, std::string(name) + " holds more than 2^31 - 1 vectors");
  return x.length / dim;
}

DeviceBuffer& output(Napi::Env env, const Napi::Value& v, const char* name, Dtype dtype, const char* dtype_name,
                     const DeviceBuffer& input, int64_t length, const std::string& shape) {
  DeviceBuffer& out = unwrap_buffer(env, v, name);
  if (out.dtype != dtype) throw_type_error(env, std::string(name) + " must be a " + dtype_name + " DeviceArray");
  require_same_device(env, input, out, name);
  if (out.length != length) {
    throw_range_error(env, std::string(name) + ".length must be " + num(length) + " (" + shape + "), got " + num(out.length));
  }
  return out;
}

Metric metric_arg(Napi::Env env, const Napi::Value& v) {
  return static_cast<Metric>(get_integer(env, v, "metric", 0, 1));
}

// args from `at`: dim, m, bits, codebooks.
struct PqArg {
  DevicePq pq;
  DeviceBuffer* codebooks = nullptr;
};
PqArg parse_pq(Napi::Env env, const Napi::CallbackInfo& info, int at) {
  PqArg p;
  p.pq.dim = get_integer(env, info[at], "pq.dim", 1, kMaxInt32);
  p.pq.m = get_integer(env, info[at + 1], "pq.m", 1, std::min(p.pq.dim, kMaxSubspaces));
  if (p.pq.dim % p.pq.m != 0) throw_range_error(env, "pq.dim " + num(p.pq.dim) + " is not divisible by pq.m " + num(p.pq.m));
  p.pq.ksub = int64_t{1} << get_integer(env, info[at + 2], "pq.bits", 1, 8);
  p.codebooks = &float32_arg(env, info[at + 3], "pq.codebooks");
  if (p.codebooks->length != p.pq.ksub * p.pq.dim) {
    throw_range_error(env, "pq.codebooks.length must be m " + num(p.pq.m) + " x 2^bits " + num(p.pq.ksub) + " x dim/m " +
                               num(p.pq.dsub()) + " = " + num(p.pq.ksub * p.pq.dim) + ", got " + num(p.codebooks->length));
  }
  p.pq.codebooks = static_cast<const float*>(p.codebooks->data);
  return p;
}

// args 0-4: vectors (n x pq.dim floats, named `name`), then the quantizer.
struct PqRows {
  DeviceBuffer* x;
  PqArg p;
  int64_t n;
};
PqRows parse_pq_rows(Napi::Env env, const Napi::CallbackInfo& info, const char* name) {
  PqRows r;
  r.x = &float32_arg(env, info[0], name);
  r.p = parse_pq(env, info, 1);
  r.n = rows_of(env, *r.x, name, r.p.pq.dim);
  require_same_device(env, *r.x, *r.p.codebooks, "pq.codebooks");
  return r;
}

// n x m codes, each below 2^bits; returns n.
int64_t parse_codes(Napi::Env env, const DeviceBuffer& codes, const DevicePq& pq) {
  if (codes.dtype != Dtype::Uint8) throw_type_error(env, "codes must be a uint8 DeviceArray");
  if (codes.length % pq.m != 0) throw_range_error(env, "codes.length " + num(codes.length) + " is not a multiple of m " + num(pq.m));
  if (codes.length / pq.m > kMaxInt32) throw_range_error(env, "codes holds more than 2^31 - 1 vectors");
  if (pq.ksub == 256) return codes.length / pq.m;  // every byte is a code
  const IndexSummary& s = codes.summary;
  if (!s.known) {
    throw_type_error(env, "codes for 2^bits < 256 codes must be a DeviceArray made by fromHost or cuda.pqEncode (its values "
                          "are then known on the host)");
  }
  if (codes.length > 0 && s.max >= pq.ksub) {
    throw_range_error(env, (s.bounds_only ? "codes (from cuda.pqEncode) up to " + num(s.max) : "codes[" + num(s.max_at) + "] = " + num(s.max)) +
                               " is out of range for 2^bits = " + num(pq.ksub) + " codes");
  }
  return codes.length / pq.m;
}

}  // namespace

// codebookAssign(x, dim, codebook, numCodes, metric, codes, distances)
Napi::Value CodebookAssign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& x = float32_arg(env, info[0], "x");
  const int64_t dim = get_integer(env, info[1], "dim", 1, kMaxInt32);
  const int64_t rows = rows_of(env, x, "x", dim);
  DeviceBuffer& book = float32_arg(env, info[2], "codebook");
  const int64_t num_codes = get_integer(env, info[3], "numCodes", 1, kMaxInt32);
  if (book.length / dim != num_codes || book.length % dim != 0) {
    throw_range_error(env, "codebook.length must be numCodes " + num(num_codes) + " x dim " + num(dim) + ", got " +
                               num(book.length));
  }
  require_same_device(env, x, book, "codebook");
  const Metric metric = metric_arg(env, info[4]);
  DeviceBuffer& codes = output(env, info[5], "codes", Dtype::Int32, "int32", x, rows, num(rows) + " rows");
  DeviceBuffer& distances = output(env, info[6], "distances", Dtype::Float32, "float32", x, rows, num(rows) + " rows");
  require_distinct(env, distances, x, "x");
  require_distinct(env, distances, book, "codebook");
  const int device = x.device;
  use_device(env, device);
  Temp temp(env, device, aligned(static_cast<size_t>(num_codes) * 4), "cuda.codebookAssign");
  forget_values(codes);
  cudaStream_t stream = stream_for(env, device);
  float* norms = temp.at<float>(0);
  cudaError_t e = codebook::code_norms(static_cast<const float*>(book.data), 1, num_codes, dim, norms, stream);
  if (e == cudaSuccess) {
    codebook::NearestArgs a;
    a.x = static_cast<const float*>(x.data);
    a.rows = rows;
    a.dim = dim;
    a.row_stride = dim;
    a.codebooks = static_cast<const float*>(book.data);
    a.norms = norms;
    a.num_codes = num_codes;
    a.metric = metric;
    a.codes32 = static_cast<int32_t*>(codes.data);
    a.distances = static_cast<float*>(distances.data);
    e = codebook::nearest_codes(a, stream);
  }
  check_cuda(env, e, "cuda.codebookAssign");
  return env.Undefined();
}

// pqEncode(x, dim, m, bits, codebooks, codes)
Napi::Value PqEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto [xp, p, n] = parse_pq_rows(env, info, "x");
  DeviceBuffer& x = *xp;
  DeviceBuffer& codes = output(env, info[5], "codes", Dtype::Uint8, "uint8", x, n * p.pq.m, num(n) + " vectors x m");
  const int device = x.device;
  use_device(env, device);
  Temp temp(env, device, codebook::pq_encode_scratch_bytes(p.pq), "cuda.pqEncode");
  // The kernel writes codes below 2^bits only: what a later decode or scan needs to know.
  bound_values(codes, 0, p.pq.ksub - 1);
  check_cuda(env, codebook::pq_encode(p.pq, static_cast<const float*>(x.data), n, static_cast<uint8_t*>(codes.data),
                                      temp.at<void>(0), stream_for(env, device)),
             "cuda.pqEncode");
  return env.Undefined();
}

// pqDecode(codes, dim, m, bits, codebooks, out)
Napi::Value PqDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& codes = unwrap_buffer(env, info[0], "codes");
  const PqArg p = parse_pq(env, info, 1);
  const int64_t n = parse_codes(env, codes, p.pq);
  require_same_device(env, codes, *p.codebooks, "pq.codebooks");
  if (n > kMaxSafeInteger / p.pq.dim) throw_range_error(env, "vectors x dim overflows");
  DeviceBuffer& out = output(env, info[5], "out", Dtype::Float32, "float32", codes, n * p.pq.dim, num(n) + " vectors x dim");
  require_distinct(env, out, *p.codebooks, "pq.codebooks");
  use_device(env, out.device);
  check_cuda(env, codebook::pq_decode(p.pq, static_cast<const uint8_t*>(codes.data), n, static_cast<float*>(out.data),
                                      stream_for(env, out.device)),
             "cuda.pqDecode");
  return env.Undefined();
}

// pqDistanceTable(queries, dim, m, bits, codebooks, metric, out)
Napi::Value PqDistanceTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto [qp, p, nq] = parse_pq_rows(env, info, "queries");
  DeviceBuffer& queries = *qp;
  const Metric metric = metric_arg(env, info[5]);
  if (nq > kMaxSafeInteger / (p.pq.m * p.pq.ksub)) throw_range_error(env, "queries x m x 2^bits overflows");
  DeviceBuffer& out = output(env, info[6], "out", Dtype::Float32, "float32", queries, nq * p.pq.m * p.pq.ksub,
                             num(nq) + " queries x m x 2^bits");
  require_distinct(env, out, queries, "queries");
  require_distinct(env, out, *p.codebooks, "pq.codebooks");
  use_device(env, out.device);
  check_cuda(env, codebook::pq_distance_table(p.pq, static_cast<const float*>(queries.data), nq, metric,
                                              static_cast<float*>(out.data), stream_for(env, out.device)),
             "cuda.pqDistanceTable");
  return env.Undefined();
}

// pqScan(tables, codes, dim, m, bits, codebooks, metric, k, ids, distances)
Napi::Value PqScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& tables = float32_arg(env, info[0], "tables");
  DeviceBuffer& codes = unwrap_buffer(env, info[1], "codes");
  const PqArg p = parse_pq(env, info, 2);
  const int64_t per_query = p.pq.m * p.pq.ksub;
  if (tables.length % per_query != 0) {
    throw_range_error(env, "tables.length " + num(tables.length) + " is not a multiple of m x 2^bits = " + num(per_query));
  }
  const int64_t nq = tables.length / per_query;
  const int64_t n = parse_codes(env, codes, p.pq);
  if (n < 1) throw_range_error(env, "codes must hold at least one vector");
  require_same_device(env, tables, codes, "codes");
  const Metric metric = metric_arg(env, info[6]);
  const int64_t k = get_integer(env, info[7], "k", 1, n);
  if (nq > kMaxSafeInteger / k) throw_range_error(env, "queries x k overflows");
  DeviceBuffer& ids = output(env, info[8], "ids", Dtype::Int32, "int32", tables, nq * k, num(nq) + " queries x k");
  DeviceBuffer& distances = output(env, info[9], "distances", Dtype::Float32, "float32", tables, nq * k,
                                   num(nq) + " queries x k");
  require_distinct(env, distances, tables, "tables");
  const int device = tables.device;
  use_device(env, device);
  Temp temp(env, device, codebook::pq_scan_scratch_bytes(nq, n), "cuda.pqScan");
  forget_values(ids);
  check_cuda(env, codebook::pq_scan(p.pq, static_cast<const float*>(tables.data), nq, metric,
                                    static_cast<const uint8_t*>(codes.data), n, k, static_cast<int32_t*>(ids.data),
                                    static_cast<float*>(distances.data), temp.at<void>(0), stream_for(env, device)),
             "cuda.pqScan");
  return env.Undefined();
}

}  // namespace embedkit::cuda::binding
