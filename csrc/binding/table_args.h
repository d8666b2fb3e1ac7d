// Table arguments as gather, embeddingBag and the compress functions take them: a float32
// array, or a table object's format, rows, per-row scales / biases and a pruned table's
// remap, all validated (types, lengths, remap range) before any kernel runs.
#pragma once

#include <napi.h>

#include <vector>

#include "../kernels/gather/gather.h"
#include "args.h"
#include "async.h"

namespace embedkit::binding {

// What messages call a table argument and its parts (string literals: they outlive the call).
struct TableNames {
  const char* table;  // a plain float32 table
  const char* data;   // a table object's rows
  const char* format;
  const char* scales;
  const char* biases;
};
constexpr TableNames kTableNames{"table", "table.data", "table.format", "table.scales",
                                 "table.biases"};

struct TableArg {
  ArrayView view;  // the rows (table, or table.data for a table object)
  ArrayView scales, biases, remap;
  gather::Table table;
  TableNames names = kTableNames;
  // The table's arrays, for aliasing checks and for keeping them alive in async calls.
  std::vector<HeldArray> held() const {
    std::vector<HeldArray> h{{names.table, view.value}};
    if (scales.present) h.push_back({names.scales, scales.value});
    if (biases.present) h.push_back({names.biases, biases.value});
    if (remap.present) h.push_back({"remap", remap.value});
    return h;
  }
  void require_disjoint_from(Napi::Env env, const ArrayView& out, const char* out_name) const {
    require_disjoint(env, out, out_name, view, names.table);
    require_disjoint(env, out, out_name, scales, names.scales);
    require_disjoint(env, out, out_name, biases, names.biases);
    require_disjoint(env, out, out_name, remap, "remap");
  }
};

// args at `at`: table (rows), dim; at `fmt`: format code?, scales?, biases? and, when
// with_remap, remap?. An absent format is a plain float32 table (the original signature).
TableArg parse_table(Napi::Env env, const Napi::CallbackInfo& info, size_t at, size_t fmt,
                     bool with_remap, const TableNames& names = kTableNames);

// The stored rows of `format` (Float32Array, Uint16Array or Uint8Array) for rows of dim
// columns; sets *rows. `name` names the array in messages.
ArrayView get_table_rows(Napi::Env env, const Napi::Value& v, const char* name,
                         gather::TableFormat format, int64_t dim, int64_t* rows);
// A Float32Array of exactly `rows` entries (a q8 / q4 table's scales or biases).
ArrayView get_per_row_floats(Napi::Env env, const Napi::Value& v, const char* name, int64_t rows);

}  // namespace embedkit::binding
