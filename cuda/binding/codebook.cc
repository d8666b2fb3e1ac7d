// cuda.vqLogits, cuda.vqLogSumExp, cuda.vqLogSoftmax, cuda.vqCrossEntropy, cuda.vqTopK and cuda.vqSample
// over a map copied to the device once (lib/cuda/codebook.ts DeviceVqMap). Checked as the
// CPU binding checks them (targets from their host-side summary) before anything is queued.
#include <cmath>
#include <string>

#include "../../csrc/binding/seed.h"
#include "../codebook/vq.h"
#include "args.h"
#include "ops.h"
#include "temp.h"

namespace embedkit::cuda::binding {
namespace {

using codebook::DeviceVqMap;

std::string num(int64_t v) { return std::to_string(v); }

struct VqCall {
  DeviceBuffer* logits = nullptr;
  DeviceVqMap map;
  int64_t rows = 0;
};

// args from `at`: codeLogits, [tokenToCode, counts, logCounts, offsets, tokens] handles.
VqCall parse_vq(Napi::Env env, const Napi::CallbackInfo& info) {
  VqCall c;
  c.logits = &float32_arg(env, info[0], "codeLogits");
  if (!info[1].IsArray()) throw_type_error(env, "map must be a DeviceVqMap");
  Napi::Array parts = info[1].As<Napi::Array>();
  const char* names[5] = {"map.tokenToCode", "map.counts", "map.logCounts", "map.offsets", "map.tokens"};
  const Dtype dtypes[5] = {Dtype::Int32, Dtype::Int32, Dtype::Float64, Dtype::Int32, Dtype::Int32};
  DeviceBuffer* b[5];
  for (uint32_t i = 0; i < 5; ++i) {
    b[i] = &unwrap_buffer(env, parts.Get(i), names[i]);
    if (b[i]->dtype != dtypes[i]) throw_type_error(env, std::string(names[i]) + " has the wrong element type");
    require_same_device(env, *c.logits, *b[i], names[i]);
  }
  c.map.num_tokens = b[0]->length;
  c.map.num_codes = b[1]->length;
  if (b[2]->length != c.map.num_codes || b[3]->length != c.map.num_codes + 1 || b[4]->length != c.map.num_tokens) {
    throw_type_error(env, "map is not a DeviceVqMap's arrays");
  }
  c.map.token_to_code = static_cast<const int32_t*>(b[0]->data);
  c.map.counts = static_cast<const int32_t*>(b[1]->data);
  c.map.log_counts = static_cast<const double*>(b[2]->data);
  c.map.offsets = static_cast<const int32_t*>(b[3]->data);
  c.map.tokens = static_cast<const int32_t*>(b[4]->data);
  const int64_t k = c.map.num_codes;
  if (k == 0 || c.logits->length % k != 0) {
    throw_range_error(env, "codeLogits.length " + num(c.logits->length) + " is not a multiple of the map's K " + num(k));
  }
  c.rows = c.logits->length / k;
  if (c.rows > INT32_MAX) throw_range_error(env, "codeLogits has more than 2147483647 rows");
  return c;
}

DeviceBuffer& output(Napi::Env env, const Napi::Value& v, const char* name, Dtype dtype, const VqCall& c,
                     int64_t per_row, const char* per_row_name) {
  DeviceBuffer& out = unwrap_buffer(env, v, name);
  if (out.dtype != dtype) throw_type_error(env, std::string(name) + " has the wrong element type");
  require_same_device(env, *c.logits, out, name);
  require_length(env, out, c.rows * per_row, num(c.rows) + " rows x " + per_row_name);
  require_distinct(env, out, *c.logits, "codeLogits");
  return out;
}

}  // namespace

// vqLogits(codeLogits, map, out)
Napi::Value VqLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const VqCall c = parse_vq(env, info);
  if (c.rows != 0 && c.map.num_tokens > kMaxSafeInteger / c.rows) throw_range_error(env, "rows x V overflows");
  DeviceBuffer& out = output(env, info[2], "out", Dtype::Float32, c, c.map.num_tokens, "V");
  use_device(env, out.device);
  check_cuda(env, codebook::vq_expand(static_cast<const float*>(c.logits->data), c.rows, c.map,
                                      static_cast<float*>(out.data), stream_for(env, out.device)),
             "cuda.vqLogits");
  return info[2];
}

// vqRows(codeLogits, map, logZ?, logSoftmax?, targets?, loss?, grad?)
Napi::Value VqRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const VqCall c = parse_vq(env, info);
  codebook::RowOutputs o;
  if (!is_absent(info[2])) o.log_z = static_cast<float*>(output(env, info[2], "out", Dtype::Float32, c, 1, "1").data);
  if (!is_absent(info[3])) {
    o.log_softmax = static_cast<float*>(output(env, info[3], "out", Dtype::Float32, c, c.map.num_codes, "K").data);
  }
  if (!is_absent(info[4])) {
    DeviceBuffer& targets = index_arg(env, info[4], "targets");
    require_same_device(env, *c.logits, targets, "targets");
    if (targets.length != c.rows) {
      throw_range_error(env, "targets.length must equal the rows of codeLogits " + num(c.rows) + ", got " + num(targets.length));
    }
    check_index_range(env, targets, "targets", c.map.num_tokens);
    o.targets = DeviceIndices{targets.data, targets.dtype, targets.length};
    DeviceBuffer& loss = output(env, info[5], "loss", Dtype::Float32, c, 1, "1");
    DeviceBuffer& grad = output(env, info[6], "grad", Dtype::Float32, c, c.map.num_codes, "K");
    require_distinct(env, grad, loss, "loss");
    o.loss = static_cast<float*>(loss.data);
    o.grad = static_cast<float*>(grad.data);
  }
  use_device(env, c.logits->device);
  check_cuda(env, codebook::vq_rows(static_cast<const float*>(c.logits->data), c.rows, c.map, o,
                                    stream_for(env, c.logits->device)),
             "cuda.vq");
  return env.Undefined();
}

// vqTopK(codeLogits, map, k, ids, logProbs)
Napi::Value VqTopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const VqCall c = parse_vq(env, info);
  const int64_t k = get_integer(env, info[2], "k", 1, c.map.num_tokens);
  if (c.rows > kMaxSafeInteger / k) throw_range_error(env, "rows x k overflows");
  DeviceBuffer& ids = output(env, info[3], "ids", Dtype::Int32, c, k, "k");
  DeviceBuffer& log_probs = output(env, info[4], "logProbs", Dtype::Float32, c, k, "k");
  const int device = ids.device;
  use_device(env, device);
  Temp temp(env, device, codebook::vq_top_k_scratch_bytes(c.rows, c.map), "cuda.vqTopK");
  forget_values(ids);
  check_cuda(env, codebook::vq_top_k(static_cast<const float*>(c.logits->data), c.rows, c.map, k,
                                     static_cast<int32_t*>(ids.data), static_cast<float*>(log_probs.data),
                                     temp.at<void>(0), stream_for(env, device)),
             "cuda.vqTopK");
  return env.Undefined();
}

// vqSample(codeLogits, map, seed, temperature, out)
Napi::Value VqSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const VqCall c = parse_vq(env, info);
  const uint64_t seed = embedkit::binding::get_seed(env, info[2]);
  if (!info[3].IsNumber()) throw_type_error(env, "temperature must be a number");
  const double temperature = info[3].As<Napi::Number>().DoubleValue();
  if (!(temperature > 0) || !std::isfinite(temperature)) {
    throw_range_error(env, "temperature must be a finite number > 0, got " + info[3].ToString().Utf8Value());
  }
  DeviceBuffer& out = output(env, info[4], "out", Dtype::Int32, c, 1, "1");
  use_device(env, out.device);
  forget_values(out);
  check_cuda(env, codebook::vq_sample(static_cast<const float*>(c.logits->data), c.rows, c.map, seed, temperature,
                                      static_cast<int32_t*>(out.data), stream_for(env, out.device)),
             "cuda.vqSample");
  return info[4];
}

}  // namespace embedkit::cuda::binding
