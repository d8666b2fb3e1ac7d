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

struct TableArg {
  ArrayView view;  // the rows (table, or table.data for a table object)
  ArrayView scales, biases, remap;
  gather::Table table;
  // The table's arrays, for aliasing checks and for keeping them alive in async calls.
  std::vector<HeldArray> held() const {
    std::vector<HeldArray> h{{"table", view.value}};
    if (scales.present) h.push_back({"table.scales", scales.value});
    if (biases.present) h.push_back({"table.biases", biases.value});
    if (remap.present) h.push_back({"remap", remap.value});
    return h;
  }
  void require_disjoint_from(Napi::Env env, const ArrayView& out, const char* out_name) const {
    require_disjoint(env, out, out_name, view, "table");
    require_disjoint(env, out, out_name, scales, "table.scales");
    require_disjoint(env, out, out_name, biases, "table.biases");
    require_disjoint(env, out, out_name, remap, "remap");
  }
};

// args at `at`: table (rows), dim; at `fmt`: format code?, scales?, biases? and, when
// with_remap, remap?. An absent format is a plain float32 table (the original signature).
TableArg parse_table(Napi::Env env, const Napi::CallbackInfo& info, size_t at, size_t fmt,
                     bool with_remap);

// The stored rows of `format` (Float32Array, Uint16Array or Uint8Array) for rows of dim
// columns; sets *rows. `name` names the array in messages.
ArrayView get_table_rows(Napi::Env env, const Napi::Value& v, const char* name,
                         gather::TableFormat format, int64_t dim, int64_t* rows);
// A Float32Array of exactly `rows` entries (a q8 / q4 table's scales or biases).
ArrayView get_per_row_floats(Napi::Env env, const Napi::Value& v, const char* name, int64_t rows);

}  // namespace embedkit::binding
