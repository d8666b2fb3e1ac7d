// N-API entry points of the compress family: quantizeTable and dequantizeTable and their
// Async forms. The TypeScript layer allocates the outputs; everything is validated here
// before a kernel runs, and on any error nothing is written.
#include <memory>
#include <string>
#include <vector>

#include "../kernels/compress/compress.h"
#include "args.h"
#include "async.h"
#include "family.h"
#include "table_args.h"

namespace embedkit::binding {
namespace {

using gather::TableFormat;

struct QuantizeCall {
  ArrayView table, data, scales, biases;
  int64_t rows = 0, dim = 0;
  TableFormat format = TableFormat::F32;
  void run() const {
    compress::quantize_table(static_cast<const float*>(table.data), rows, dim, format,
                             {data.data, static_cast<float*>(scales.data),
                              static_cast<float*>(biases.data)});
  }
  std::vector<HeldArray> held() const {
    std::vector<HeldArray> h{{"table", table.value}, {"out.data", data.value}};
    if (scales.present) h.push_back({"out.scales", scales.value});
    if (biases.present) h.push_back({"out.biases", biases.value});
    return h;
  }
};

// args: table (Float32Array), dim, format, outData, outScales?, outBiases?
QuantizeCall prepare_quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QuantizeCall c;
  c.table = get_float32_array(env, info[0], "table");
  c.dim = get_integer(env, info[1], "dim", 1, kMaxSafeInteger);
  if (c.table.length % c.dim != 0) {
    throw_range_error(env, "table.length " + std::to_string(c.table.length) +
                               " is not a multiple of dim " + std::to_string(c.dim));
  }
  c.rows = c.table.length / c.dim;
  c.format = static_cast<TableFormat>(
      get_integer(env, info[2], "format", 0, gather::kNumTableFormats - 1));
  int64_t out_rows = 0;
  c.data = get_table_rows(env, info[3], "out.data", c.format, c.dim, &out_rows);
  if (out_rows != c.rows) {
    throw_range_error(env, "out.data holds " + std::to_string(out_rows) +
                               " rows, the table has " + std::to_string(c.rows));
  }
  const bool quantized = c.format == TableFormat::Q8 || c.format == TableFormat::Q4;
  if (quantized) {
    c.scales = get_per_row_floats(env, info[4], "out.scales", c.rows);
    c.biases = get_per_row_floats(env, info[5], "out.biases", c.rows);
    const int64_t bad = compress::find_non_finite(static_cast<const float*>(c.table.data),
                                                  c.table.length);
    if (bad >= 0) {
      throw_range_error(env, "table[" + std::to_string(bad) + "] = " +
                                 std::to_string(static_cast<const float*>(c.table.data)[bad]) +
                                 " is not finite: q8 and q4 quantize finite values only");
    }
  }
  const ArrayView* outs[] = {&c.data, &c.scales, &c.biases};
  const char* names[] = {"out.data", "out.scales", "out.biases"};
  for (int i = 0; i < 3; ++i) {
    require_disjoint(env, *outs[i], names[i], c.table, "table");
    for (int j = i + 1; j < 3; ++j) require_disjoint(env, *outs[i], names[i], *outs[j], names[j]);
  }
  return c;
}

struct DequantizeCall {
  TableArg table;
  ArrayView out;
  void run() const { compress::dequantize_table(table.table, static_cast<float*>(out.data)); }
};

// args: data, dim, format, scales?, biases?, out?
DequantizeCall prepare_dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DequantizeCall c;
  c.table = parse_table(env, info, 0, 2, false);
  const int64_t rows = c.table.table.rows;
  const int64_t dim = c.table.table.dim;
  if (rows != 0 && dim > kMaxSafeInteger / rows) throw_range_error(env, "rows x dim overflows");
  c.out = output_float32(env, info[5], rows * dim,
                         std::to_string(rows) + " rows x dim " + std::to_string(dim));
  c.table.require_disjoint_from(env, c.out, "out");
  return c;
}

Napi::Value QuantizeTable(const Napi::CallbackInfo& info) {
  QuantizeCall c = prepare_quantize(info);
  c.run();
  return c.data.value;
}

Napi::Value QuantizeTableAsync(const Napi::CallbackInfo& info) {
  QuantizeCall c = prepare_quantize(info);
  return KernelWorker::Start(info.Env(), "quantizeTableAsync", [c] { c.run(); }, c.data.value,
                             c.held());
}

Napi::Value DequantizeTable(const Napi::CallbackInfo& info) {
  DequantizeCall c = prepare_dequantize(info);
  c.run();
  return c.out.value;
}

Napi::Value DequantizeTableAsync(const Napi::CallbackInfo& info) {
  DequantizeCall c = prepare_dequantize(info);
  std::vector<HeldArray> held = c.table.held();
  held.push_back({"out", c.out.value});
  return KernelWorker::Start(info.Env(), "dequantizeTableAsync", [c] { c.run(); }, c.out.value,
                             held);
}

}  // namespace

void register_compress(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeTable", Napi::Function::New(env, QuantizeTable, "quantizeTable"));
  exports.Set("quantizeTableAsync",
              Napi::Function::New(env, QuantizeTableAsync, "quantizeTableAsync"));
  exports.Set("dequantizeTable", Napi::Function::New(env, DequantizeTable, "dequantizeTable"));
  exports.Set("dequantizeTableAsync",
              Napi::Function::New(env, DequantizeTableAsync, "dequantizeTableAsync"));
}

}  // namespace embedkit::binding
