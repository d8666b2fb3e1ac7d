// Parsing of table arguments (table_args.h).
#include "table_args.h"

#include <string>

#include "../kernels/compress/compress.h"

namespace embedkit::binding {

// The stored rows of `format` and what they imply: rows = length / stride. `name` names the
// array in messages ("table", or "table.data" for a table object).
ArrayView get_table_rows(Napi::Env env, const Napi::Value& v, const char* name,
                         gather::TableFormat format, int64_t dim, int64_t* rows) {
  ArrayView view;
  switch (format) {
    case gather::TableFormat::F32: view = get_float32_array(env, v, name); break;
    case gather::TableFormat::F16:
    case gather::TableFormat::BF16:
      view = get_typed_array(env, v, name, napi_uint16_array, "Uint16Array");
      break;
    case gather::TableFormat::Q8:
    case gather::TableFormat::Q4:
      view = get_typed_array(env, v, name, napi_uint8_array, "Uint8Array");
      break;
  }
  const int64_t elements_per_row =
      format == gather::TableFormat::Q4 ? (dim + 1) / 2 : dim;  // Q4: two columns per byte
  if (view.length % elements_per_row != 0) {
    throw_range_error(env, std::string(name) + ".length " + std::to_string(view.length) +
                               " is not a multiple of " +
                               (format == gather::TableFormat::Q4
                                    ? "ceil(dim / 2) = " + std::to_string(elements_per_row)
                                    : "dim " + std::to_string(dim)));
  }
  *rows = view.length / elements_per_row;
  return view;
}

// One float per row: a q8 / q4 table's scales or biases.
ArrayView get_per_row_floats(Napi::Env env, const Napi::Value& v, const char* name, int64_t rows) {
  ArrayView view = get_float32_array(env, v, name);
  if (view.length != rows) {
    throw_range_error(env, std::string(name) + ".length must equal the table's rows " +
                               std::to_string(rows) + ", got " + std::to_string(view.length));
  }
  return view;
}

TableArg parse_table(Napi::Env env, const Napi::CallbackInfo& info, size_t at, size_t fmt,
                     bool with_remap, const TableNames& names) {
  TableArg t;
  t.names = names;
  const bool is_object = !is_absent(info[fmt]);
  const auto format = static_cast<gather::TableFormat>(
      is_object ? get_integer(env, info[fmt], names.format, 0, gather::kNumTableFormats - 1) : 0);
  const int64_t dim = get_integer(env, info[at + 1], "dim", 1, kMaxSafeInteger);
  int64_t rows = 0;
  t.view = get_table_rows(env, info[at], is_object ? names.data : names.table, format, dim, &rows);
  const bool quantized = format == gather::TableFormat::Q8 || format == gather::TableFormat::Q4;
  if (quantized) {
    t.scales = get_per_row_floats(env, info[fmt + 1], names.scales, rows);
    t.biases = get_per_row_floats(env, info[fmt + 2], names.biases, rows);
  } else if (!is_absent(info[fmt + 1]) || !is_absent(info[fmt + 2])) {
    throw_type_error(env, std::string(names.scales) + " and " + names.biases +
                              " belong to q8 and q4 tables only");
  }
  t.table.rows = rows;
  t.table.dim = dim;
  t.table.format = format;
  if (format == gather::TableFormat::F32) {
    t.table.data = static_cast<const float*>(t.view.data);
  } else {
    t.table.codes = t.view.data;
  }
  t.table.scales = static_cast<const float*>(t.scales.data);
  t.table.biases = static_cast<const float*>(t.biases.data);
  if (with_remap && !is_absent(info[fmt + 3])) {
    t.remap = get_typed_array(env, info[fmt + 3], "remap", napi_int32_array, "Int32Array");
    const auto* remap = static_cast<const int32_t*>(t.remap.data);
    const int64_t bad = compress::find_remap_out_of_range(remap, t.remap.length, rows);
    if (bad >= 0) {
      throw_range_error(env, "remap[" + std::to_string(bad) + "] = " + std::to_string(remap[bad]) +
                                 " is out of range for a table of " + std::to_string(rows) +
                                 " rows (use -1 for a pruned id)");
    }
    t.table.remap = remap;
    t.table.remap_length = t.remap.length;
  }
  return t;
}

}  // namespace embedkit::binding
