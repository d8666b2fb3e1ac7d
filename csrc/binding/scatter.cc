// N-API entry points of the scatter / SpMM family: scatterAdd, ScatterPlan, the
// embedding_bag backward pass, CSR construction and transposition, spmm, and Async forms.
// Every argument is validated in full (types, lengths, every index, CSR structure,
// aliasing) before anything is written: a failed scatterAdd leaves dst exactly as it was.
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../kernels/common/memory.h"
#include "../kernels/scatter/scatter.h"
#include "args.h"
#include "async.h"
#include "bag_args.h"
#include "family.h"
#include "scatter_args.h"
#include "table_args.h"

namespace embedkit::binding {
namespace {

using gather::PoolMode;
using scatter::Plan;

// CSR row and column counts are limited to int32 ids (cuSPARSE's default index type): a
// transpose or csrFromCoo allocates a row pointer per row or column, which a count beyond
// 2^31 turns into tens of gigabytes from a three-entry matrix.
constexpr int64_t kMaxCsrDim = (int64_t{1} << 31) - 1;

// ---- ScatterPlan ---------------------------------------------------------------------------

using PlanPtr = std::shared_ptr<Plan>;

// Plan handles are tagged, so a foreign External passed as a plan is refused, never cast.
constexpr napi_type_tag kPlanTag = {0x656d6265646b6974ULL, 0x7363617474657231ULL};

Napi::Value wrap_plan(Napi::Env env, const PlanPtr& plan) {
  auto handle = Napi::External<PlanPtr>::New(env, new PlanPtr(plan),
                                             [](Napi::Env, PlanPtr* p) { delete p; });
  handle.TypeTag(&kPlanTag);
  return handle;
}

PlanPtr unwrap_plan(Napi::Env env, const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<PlanPtr>>().CheckTypeTag(&kPlanTag)) {
    throw_type_error(env, "plan must be a ScatterPlan, got " + describe_value(v));
  }
  return *v.As<Napi::External<PlanPtr>>().Data();
}

struct PlanCall {
  ArrayView indices_view;
  IndexArray indices;
  int64_t num_rows = 0;
  PlanPtr plan = std::make_shared<Plan>();
  void run() const { scatter::build_plan(indices, num_rows, -1, plan.get()); }
};

// args: indices, numRows
PlanCall prepare_plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlanCall c;
  c.indices_view = get_index_array(env, info[0], "indices", &c.indices);
  c.num_rows = get_integer(env, info[1], "numRows", 0, kMaxSafeInteger);
  check_range(env, c.indices, "indices", c.num_rows, "a destination");
  return c;
}

Napi::Value plan_object(Napi::Env env, const PlanCall& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("handle", wrap_plan(env, c.plan));
  o.Set("numRows", Napi::Number::New(env, static_cast<double>(c.num_rows)));
  o.Set("length", Napi::Number::New(env, static_cast<double>(c.indices.length)));
  return o;
}

Napi::Value ScatterPlanBuild(const Napi::CallbackInfo& info) {
  PlanCall c = prepare_plan(info);
  with_memory_check(info.Env(), "scatterPlan", [&] { c.run(); });
  Napi::Object o = plan_object(info.Env(), c).As<Napi::Object>();
  o.Set("uniqueRows", Napi::Number::New(info.Env(), static_cast<double>(c.plan->num_segments())));
  return o;
}

Napi::Value ScatterPlanBuildAsync(const Napi::CallbackInfo& info) {
  PlanCall c = prepare_plan(info);
  Napi::Value result = plan_object(info.Env(), c);
  return KernelWorker::Start(info.Env(), "scatterPlanAsync", [c] { c.run(); }, result,
                             {{"indices", c.indices_view.value}});
}

// The distinct rows a plan touches, ascending (Float64Array: exact up to 2^53).
Napi::Value ScatterPlanRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PlanPtr plan = unwrap_plan(env, info[0]);
  const int64_t n = plan->num_segments();
  Napi::Value array = new_typed_array(env, "Float64Array", n);
  auto* d = reinterpret_cast<double*>(static_cast<char*>(array.As<Napi::TypedArray>().ArrayBuffer().Data()) +
                                      array.As<Napi::TypedArray>().ByteOffset());
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<double>(plan->rows[i]);
  return array;
}

// ---- scatterAdd ----------------------------------------------------------------------------

struct ScatterCall {
  ArrayView dst, indices_view, src, weights;
  IndexArray indices;  // the plan-free form, when no plan was given
  int64_t num_rows = 0;
  PlanPtr plan;
  scatter::ScatterArgs args;
  void run() const {
    if (plan) {
      scatter::scatter_add(*plan, args);
    } else {
      scatter::scatter_add(indices, num_rows, args);
    }
  }
};

// args: dst, dim, indices?, plan?, src, weights?, alpha?
ScatterCall prepare_scatter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ScatterCall c;
  c.dst = get_float32_array(env, info[0], "dst");
  const int64_t dim = get_integer(env, info[1], "dim", 1, kMaxSafeInteger);
  if (c.dst.length % dim != 0) {
    throw_range_error(env, "dst.length " + std::to_string(c.dst.length) +
                               " is not a multiple of dim " + std::to_string(dim));
  }
  const int64_t rows = c.dst.length / dim;
  int64_t n = 0;
  if (!is_absent(info[3])) {
    if (!is_absent(info[2])) throw_type_error(env, "give indices or plan, not both");
    c.plan = unwrap_plan(env, info[3]);
    if (c.plan->num_rows != rows) {
      throw_range_error(env, "the plan was built for " + std::to_string(c.plan->num_rows) +
                                 " destination rows, dst has " + std::to_string(rows));
    }
    n = c.plan->num_indices;
  } else {
    c.indices_view = get_index_array(env, info[2], "indices", &c.indices);
    n = c.indices.length;
    check_range(env, c.indices, "indices", rows, "dst");
    c.num_rows = rows;
  }
  c.src = get_float32_array(env, info[4], "src");
  require_length(env, c.src, "src", checked_product(env, n, dim, "indices x dim"),
                 std::to_string(n) + " indices x dim " + std::to_string(dim));
  c.weights = get_optional_float32_array(env, info[5], "weights");
  if (c.weights.present) require_length(env, c.weights, "weights", n, "one per index");
  double alpha = 1.0;
  if (!is_absent(info[6])) {
    if (napi_get_value_double(env, info[6], &alpha) != napi_ok) {
      throw_type_error(env, "alpha must be a number, got " + describe_value(info[6]));
    }
    if (!std::isfinite(alpha)) throw_range_error(env, "alpha must be finite");
  }
  require_disjoint(env, c.dst, "dst", c.src, "src");
  require_disjoint(env, c.dst, "dst", c.indices_view, "indices");
  require_disjoint(env, c.dst, "dst", c.weights, "weights");
  c.args.dst = static_cast<float*>(c.dst.data);
  c.args.dim = dim;
  c.args.src = static_cast<const float*>(c.src.data);
  c.args.weights = c.weights.present ? static_cast<const float*>(c.weights.data) : nullptr;
  c.args.alpha = static_cast<float>(alpha);
  return c;
}

Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
  ScatterCall c = prepare_scatter(info);
  with_memory_check(info.Env(), "scatterAdd", [&] { c.run(); });
  return c.dst.value;
}

Napi::Value ScatterAddAsync(const Napi::CallbackInfo& info) {
  ScatterCall c = prepare_scatter(info);
  std::vector<HeldArray> held{{"dst", c.dst.value}, {"src", c.src.value}};
  if (c.indices_view.present) held.push_back({"indices", c.indices_view.value});
  if (c.weights.present) held.push_back({"weights", c.weights.value});
  // The plan is held by the shared pointer the lambda copies.
  return KernelWorker::Start(info.Env(), "scatterAddAsync", [c] { c.run(); }, c.dst.value, held);
}

// ---- embeddingBagBackward ------------------------------------------------------------------

// A hashed bag's seed, ids and padding id, checked, as id_rows takes them: ids any
// non-negative value, into a table of at least one row when there are any (`rows_name` says
// where the row count came from); the padding an id, never counted from the end (as in the
// forward, any id may occur).
scatter::IdRowsArgs parse_hashed_ids(Napi::Env env, const Napi::Value& seed, const IndexArray& ids,
                                     const gather::Bags& bags, int64_t rows, const char* rows_name,
                                     const Napi::Value& padding) {
  scatter::IdRowsArgs h;
  h.seed = static_cast<uint64_t>(get_integer(env, seed, "seed", 0, kMaxSafeInteger));
  const int64_t bad = find_index_out_of_range(ids, INT64_MAX);
  if (bad >= 0) {
    throw_range_error(env, "indices[" + std::to_string(bad) + "] = " + std::to_string(ids.at(bad)) +
                               ": a hashed id must not be negative");
  }
  if (rows == 0 && ids.length > 0) {
    throw_range_error(env, std::string("a hashed bag needs ") + rows_name + " of at least 1");
  }
  if (!is_absent(padding)) h.padding_id = get_integer(env, padding, "paddingIdx", 0, kMaxSafeInteger);
  h.ids = ids;
  h.bags = bags;
  h.table_rows = rows;
  return h;
}

struct BackwardCall {
  ArrayView grad, indices_view, weights, argmax, out;
  BagBounds bounds;
  PlanPtr plan;  // a caller's ScatterPlan of the indices, held for the pass
  scatter::IdRows hashed;  // hashedEmbeddingBagBackward: the rows args.indices points into
  scatter::BagBackwardArgs args;
  std::unique_ptr<scatter::BagBackward> prepared;  // built up front for the sparse form
  bool sparse = false;
  Napi::Value result;
  void run() {
    if (!prepared) prepared = std::make_unique<scatter::BagBackward>(args);
    if (sparse) {
      prepared->run_sparse(static_cast<float*>(out.data));
    } else {
      prepared->run_dense(static_cast<float*>(out.data));
    }
  }
};

// args: gradOutput, dim, indices, bounds, boundsKind, mode, weights?, paddingIdx?, numRows,
//       maxIndices?, sparse, out?, plan?, hashSeed?
// With hashSeed (hashedEmbeddingBagBackward) indices are ids of any non-negative value and
// paddingIdx is an id: once everything is validated, the ids become the rows they read,
// padding dropped (scatter::id_rows), and the pass is the plain one over those rows.
std::shared_ptr<BackwardCall> prepare_backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_shared<BackwardCall>();
  scatter::BagBackwardArgs& a = c->args;
  c->grad = get_float32_array(env, info[0], "gradOutput");
  const int64_t dim = get_integer(env, info[1], "dim", 1, kMaxSafeInteger);
  a.dim = dim;
  a.grad = static_cast<const float*>(c->grad.data);
  c->indices_view = get_index_array(env, info[2], "indices", &a.indices);
  const int64_t n = a.indices.length;
  a.mode = static_cast<PoolMode>(get_integer(env, info[5], "mode", 0, 2));
  parse_bag_bounds(env, info[3], info[4], n, &c->bounds);
  a.bags = c->bounds.bags;
  const int64_t bags = a.bags.num_bags;
  const int64_t rows = get_integer(env, info[8], "numRows", 0, kMaxSafeInteger);
  a.num_rows = rows;
  require_length(env, c->grad, "gradOutput", checked_product(env, bags, dim, "bags x dim"),
                 std::to_string(bags) + " bags x dim " + std::to_string(dim));
  const bool hashed = !is_absent(info[13]);
  scatter::IdRowsArgs hash;
  if (hashed) {
    // 'max' sends gradients by maxIndices, which for a hashed bag already hold table rows
    // (hashedEmbeddingBag's returnArgmax): the ids are validated but not hashed.
    hash = parse_hashed_ids(env, info[13], a.indices, a.bags, rows, "numRows", info[7]);
    if (!is_absent(info[12])) throw_type_error(env, "plan does not apply to hashed ids");
  } else {
    check_range(env, a.indices, "indices", rows, "a table");
  }
  c->weights = get_optional_float32_array(env, info[6], "weights");
  if (c->weights.present) {
    if (a.mode == PoolMode::Max) {
      throw_type_error(env, "weights are supported with mode 'sum' and 'mean', not 'max'");
    }
    require_length(env, c->weights, "weights", n, "one per index");
    a.weights = static_cast<const float*>(c->weights.data);
  }
  if (!hashed) a.padding_idx = get_padding_row(env, info[7], rows);
  if (a.mode == PoolMode::Max) {
    if (is_absent(info[9])) {
      throw_type_error(env, "mode 'max' needs maxIndices (embeddingBag with returnArgmax)");
    }
    c->argmax = get_typed_array(env, info[9], "maxIndices", napi_int32_array, "Int32Array");
    require_length(env, c->argmax, "maxIndices", bags * dim,
                   std::to_string(bags) + " bags x dim " + std::to_string(dim));
    // -1 (an empty bag) or a row id.
    const auto* m = static_cast<const int32_t*>(c->argmax.data);
    for (int64_t e = 0; e < c->argmax.length; ++e) {
      if (m[e] < -1 || m[e] >= rows) {
        throw_range_error(env, "maxIndices[" + std::to_string(e) + "] = " +
                                   std::to_string(m[e]) + " is out of range: -1 or a row id below " +
                                   std::to_string(rows));
      }
    }
    a.argmax = m;
  } else if (!is_absent(info[9])) {
    throw_type_error(env, "maxIndices applies to mode 'max' only");
  }
  if (!is_absent(info[12])) {
    if (a.mode == PoolMode::Max) {
      throw_type_error(env, "plan applies to mode 'sum' and 'mean' (max sends gradients by maxIndices)");
    }
    c->plan = unwrap_plan(env, info[12]);
    if (c->plan->num_rows != rows || c->plan->num_indices != n) {
      throw_range_error(env, "the plan was built for " + std::to_string(c->plan->num_indices) +
                                 " indices into " + std::to_string(c->plan->num_rows) +
                                 " rows, this call has " + std::to_string(n) + " indices into numRows " +
                                 std::to_string(rows));
    }
    const int64_t bad = scatter::find_plan_mismatch(*c->plan, a.indices);
    if (bad >= 0) {
      throw_range_error(env, "the plan was not built from these indices: indices[" +
                                 std::to_string(bad) + "] = " + std::to_string(a.indices.at(bad)) +
                                 " differs from the plan's row for that position");
    }
    a.plan = c->plan.get();
  }
  if (!info[10].IsBoolean()) throw_type_error(env, "sparse must be a boolean");
  c->sparse = info[10].As<Napi::Boolean>().Value();
  if (c->sparse && !is_absent(info[11])) throw_type_error(env, "out applies to the dense form only");
  if (hashed && a.mode != PoolMode::Max) {
    hash.weights = a.weights;
    with_memory_check(env, "hashedEmbeddingBagBackward", [&] { scatter::id_rows(hash, &c->hashed); });
    a.indices = c->hashed.rows();
    a.bags = c->hashed.bags();
    if (a.weights != nullptr) a.weights = c->hashed.weights.data();
  }
  if (c->sparse) {
    // The sparse form's size is the number of distinct rows: plan first, then allocate.
    with_memory_check(env, "embeddingBagBackward",
                      [&] { c->prepared = std::make_unique<scatter::BagBackward>(a); });
    const int64_t u = static_cast<int64_t>(c->prepared->rows().size());
    // A new array (advised for huge pages by output_float32), so zero: run_sparse adds each
    // row's contributions into it.
    c->out = output_float32(env, Napi::Value(), checked_product(env, u, dim, "rows x dim"),
                            std::to_string(u) + " rows x dim " + std::to_string(dim));
    Napi::Object result = Napi::Object::New(env);
    result.Set("rows", ids_like(env, c->prepared->rows(), c->indices_view.type));
    result.Set("values", c->out.value);
    c->result = result;
  } else {
    // Without `out`, a new array (advised for huge pages by output_float32): already zero,
    // so not filled again (the fill touched every page of a fresh numRows x dim array, 278 ms
    // for a 10 ms pass at 1 M x 128).
    const bool fresh = is_absent(info[11]);
    c->out = output_float32(env, info[11], checked_product(env, rows, dim, "numRows x dim"),
                            "numRows " + std::to_string(rows) + " x dim " + std::to_string(dim));
    a.out_is_zero = fresh;
    for (const auto& [view, name] :
         {std::pair{&c->grad, "gradOutput"}, std::pair{&c->indices_view, "indices"},
          std::pair{&c->bounds.view, c->bounds.name}, std::pair{&c->weights, "weights"},
          std::pair{&c->argmax, "maxIndices"}}) {
      require_disjoint(env, c->out, "out", *view, name);
    }
    c->result = c->out.value;
  }
  return c;
}

Napi::Value EmbeddingBagBackward(const Napi::CallbackInfo& info) {
  std::shared_ptr<BackwardCall> c = prepare_backward(info);
  with_memory_check(info.Env(), "embeddingBagBackward", [&] { c->run(); });
  return c->result;
}

Napi::Value EmbeddingBagBackwardAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<BackwardCall> c = prepare_backward(info);
  std::vector<HeldArray> held{{"gradOutput", c->grad.value},
                              {"indices", c->indices_view.value},
                              {c->bounds.name, c->bounds.view.value},
                              {"out", c->out.value}};
  if (c->weights.present) held.push_back({"weights", c->weights.value});
  if (c->argmax.present) held.push_back({"maxIndices", c->argmax.value});
  return KernelWorker::Start(info.Env(), "embeddingBagBackwardAsync", [c] { c->run(); },
                             c->result, held);
}

// ---- the per-sample weights' gradient --------------------------------------------------------

struct WeightsGradCall {
  ArrayView grad, table, indices_view, out;
  BagBounds bounds;
  scatter::IdRows hashed;  // hashed: the rows args.indices points into
  scatter::WeightsGradArgs args;
  void run() const { scatter::bag_weights_grad(args); }
};

// args: gradOutput, table, dim, indices, bounds, boundsKind, mode, paddingIdx?, out?, hashSeed?
// With hashSeed (hashedEmbeddingBagWeightsBackward) indices are ids of any non-negative value
// and paddingIdx is an id: once everything is validated, the ids become the rows they read,
// the padding id's positions a sentinel row past the table (which the kernel gives 0 without
// reading it and 'mean' does not count).
std::shared_ptr<WeightsGradCall> prepare_weights_grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_shared<WeightsGradCall>();
  scatter::WeightsGradArgs& a = c->args;
  c->grad = get_float32_array(env, info[0], "gradOutput");
  const int64_t dim = get_integer(env, info[2], "dim", 1, kMaxSafeInteger);
  a.dim = dim;
  int64_t rows = 0;
  c->table = get_table_rows(env, info[1], "table", gather::TableFormat::F32, dim, &rows);
  c->indices_view = get_index_array(env, info[3], "indices", &a.indices);
  const int64_t n = a.indices.length;
  const auto mode = static_cast<PoolMode>(get_integer(env, info[6], "mode", 0, 2));
  if (mode == PoolMode::Max) {
    throw_type_error(env, "mode must be 'sum' or 'mean': 'max' pooling takes no per-sample weights");
  }
  a.mean = mode == PoolMode::Mean;
  parse_bag_bounds(env, info[4], info[5], n, &c->bounds);
  a.bags = c->bounds.bags;
  require_length(env, c->grad, "gradOutput", checked_product(env, a.bags.num_bags, dim, "bags x dim"),
                 std::to_string(a.bags.num_bags) + " bags x dim " + std::to_string(dim));
  const bool hashed = !is_absent(info[9]);
  scatter::IdRowsArgs hash;
  if (hashed) {
    hash = parse_hashed_ids(env, info[9], a.indices, a.bags, rows, "table rows", info[7]);
  } else {
    check_range(env, a.indices, "indices", rows, "table");
    a.padding_idx = get_padding_row(env, info[7], rows);
  }
  c->out = output_float32(env, info[8], n, std::to_string(n) + " indices");
  for (const auto& [view, name] :
       {std::pair{&c->grad, "gradOutput"}, std::pair{&c->table, "table"},
        std::pair{&c->indices_view, "indices"}, std::pair{&c->bounds.view, c->bounds.name}}) {
    require_disjoint(env, c->out, "out", *view, name);
  }
  a.grad = static_cast<const float*>(c->grad.data);
  a.table = static_cast<const float*>(c->table.data);
  a.out = static_cast<float*>(c->out.data);
  if (hashed) {
    hash.keep_padding = true;
    with_memory_check(env, "hashedEmbeddingBagWeightsBackward", [&] { scatter::id_rows(hash, &c->hashed); });
    a.indices = c->hashed.rows();
    if (hash.padding_id >= 0) a.padding_idx = rows;
  }
  return c;
}

Napi::Value EmbeddingBagWeightsBackward(const Napi::CallbackInfo& info) {
  std::shared_ptr<WeightsGradCall> c = prepare_weights_grad(info);
  c->run();
  return c->out.value;
}

Napi::Value EmbeddingBagWeightsBackwardAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<WeightsGradCall> c = prepare_weights_grad(info);
  const std::vector<HeldArray> held{{"gradOutput", c->grad.value},
                                    {"table", c->table.value},
                                    {"indices", c->indices_view.value},
                                    {c->bounds.name, c->bounds.view.value},
                                    {"out", c->out.value}};
  return KernelWorker::Start(info.Env(), "embeddingBagWeightsBackwardAsync", [c] { c->run(); },
                             c->out.value, held);
}

// ---- CSR -------------------------------------------------------------------------------------

struct CsrArg {
  ArrayView row_ptr, col_idx, values;
  scatter::CsrView view;
};

std::string csr_error_message(const scatter::CsrView& a, const scatter::CsrCheck& check) {
  const std::string pos = std::to_string(check.position);
  auto ptr = [&](int64_t i) { return std::to_string(a.row_ptr.at(i)); };
  switch (check.error) {
    case scatter::CsrError::RowPtrLength:
      return "a.rowPtr.length must be numRows + 1 = " + std::to_string(a.num_rows + 1) +
             ", got " + pos;
    case scatter::CsrError::FirstNotZero: return "a.rowPtr[0] = " + ptr(0) + " must be 0";
    case scatter::CsrError::Decreasing:
      return "a.rowPtr[" + pos + "] = " + ptr(check.position) + " is less than a.rowPtr[" +
             std::to_string(check.position - 1) + "] = " + ptr(check.position - 1) +
             ": rowPtr must not decrease";
    case scatter::CsrError::PastEnd:
      return "a.rowPtr[" + pos + "] = " + ptr(check.position) +
             " is past the end of colIdx (nnz " + std::to_string(a.nnz()) + ")";
    case scatter::CsrError::LastNotNnz:
      return "a.rowPtr[" + pos + "] = " + ptr(check.position) +
             " must equal colIdx.length (nnz) " + std::to_string(a.nnz());
    case scatter::CsrError::ColOutOfRange:
      return "a.colIdx[" + pos + "] = " + std::to_string(a.col_idx.at(check.position)) +
             " is out of range for a matrix of " + std::to_string(a.num_cols) + " columns";
    case scatter::CsrError::None: break;
  }
  return "invalid CSR matrix";
}

// args at `first`: rowPtr, colIdx, values?, numRows, numCols
CsrArg parse_csr(const Napi::CallbackInfo& info, size_t first) {
  Napi::Env env = info.Env();
  CsrArg c;
  c.row_ptr = get_index_array(env, info[first], "a.rowPtr", &c.view.row_ptr);
  c.col_idx = get_index_array(env, info[first + 1], "a.colIdx", &c.view.col_idx);
  c.values = get_optional_float32_array(env, info[first + 2], "a.values");
  c.view.num_rows = get_integer(env, info[first + 3], "a.numRows", 0, kMaxCsrDim);
  c.view.num_cols = get_integer(env, info[first + 4], "a.numCols", 0, kMaxCsrDim);
  if (c.values.present) {
    require_length(env, c.values, "a.values", c.view.nnz(), "colIdx.length, the nnz");
    c.view.values = static_cast<const float*>(c.values.data);
  }
  const scatter::CsrCheck check = scatter::validate_csr(c.view);
  if (check.error != scatter::CsrError::None) {
    throw_range_error(env, csr_error_message(c.view, check));
  }
  return c;
}

Napi::Value csr_object(Napi::Env env, const scatter::Csr& m, int64_t num_rows, int64_t num_cols) {
  // Int32 when nnz and the column count fit, the common case; else BigInt64.
  const int64_t nnz = static_cast<int64_t>(m.col_idx.size());
  const bool int32 = nnz <= INT32_MAX && num_cols <= INT32_MAX;
  Napi::Object o = Napi::Object::New(env);
  o.Set("rowPtr", index_output(env, m.row_ptr, int32));
  o.Set("colIdx", index_output(env, m.col_idx, int32));
  if (m.has_values) {
    ArrayView values = output_float32(env, Napi::Value(), nnz, "nnz");  // advised when large
    if (nnz > 0) std::memcpy(values.data, m.values.data(), static_cast<size_t>(nnz) * sizeof(float));
    o.Set("values", values.value);
  }
  o.Set("numRows", Napi::Number::New(env, static_cast<double>(num_rows)));
  o.Set("numCols", Napi::Number::New(env, static_cast<double>(num_cols)));
  return o;
}

struct CooCall {
  ArrayView rows_view, cols_view, values;
  IndexArray rows, cols;
  int64_t num_rows = 0, num_cols = 0;
  bool sum_duplicates = true;
  std::shared_ptr<scatter::Csr> result = std::make_shared<scatter::Csr>();
  void run() const {
    scatter::csr_from_coo(rows, cols, values.present ? static_cast<const float*>(values.data) : nullptr,
                          num_rows, num_cols, sum_duplicates, result.get());
  }
};

// args: rows, cols, values?, numRows, numCols, sumDuplicates
CooCall prepare_coo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CooCall c;
  c.rows_view = get_index_array(env, info[0], "rows", &c.rows);
  c.cols_view = get_index_array(env, info[1], "cols", &c.cols);
  c.values = get_optional_float32_array(env, info[2], "values");
  c.num_rows = get_integer(env, info[3], "numRows", 0, kMaxCsrDim);
  c.num_cols = get_integer(env, info[4], "numCols", 0, kMaxCsrDim);
  if (!info[5].IsBoolean()) throw_type_error(env, "sumDuplicates must be a boolean");
  c.sum_duplicates = info[5].As<Napi::Boolean>().Value();
  if (c.cols.length != c.rows.length) {
    throw_range_error(env, "cols.length must equal rows.length " + std::to_string(c.rows.length) +
                               ", got " + std::to_string(c.cols.length));
  }
  if (c.values.present) require_length(env, c.values, "values", c.rows.length, "one per entry");
  check_range(env, c.rows, "rows", c.num_rows, "a matrix");
  const int64_t bad = find_index_out_of_range(c.cols, c.num_cols);
  if (bad >= 0) {
    throw_range_error(env, "cols[" + std::to_string(bad) + "] = " + std::to_string(c.cols.at(bad)) +
                               " is out of range for a matrix of " + std::to_string(c.num_cols) +
                               " columns");
  }
  return c;
}

Napi::Value CsrFromCoo(const Napi::CallbackInfo& info) {
  const CooCall c = prepare_coo(info);
  with_memory_check(info.Env(), "csrFromCoo", [&] { c.run(); });
  return csr_object(info.Env(), *c.result, c.num_rows, c.num_cols);
}

Napi::Value CsrFromCooAsync(const Napi::CallbackInfo& info) {
  const CooCall c = prepare_coo(info);
  std::vector<HeldArray> held{{"rows", c.rows_view.value}, {"cols", c.cols_view.value}};
  if (c.values.present) held.push_back({"values", c.values.value});
  return KernelWorker::StartThenFinish(
      info.Env(), "csrFromCooAsync", [c] { c.run(); },
      [c](Napi::Env env) { return csr_object(env, *c.result, c.num_rows, c.num_cols); }, held);
}

struct TransposeCall {
  CsrArg a;
  std::shared_ptr<scatter::Csr> result = std::make_shared<scatter::Csr>();
  void run() const { scatter::csr_transpose(a.view, result.get()); }
  Napi::Value finish(Napi::Env env) const { return csr_object(env, *result, a.view.num_cols, a.view.num_rows); }
};

// args: rowPtr, colIdx, values?, numRows, numCols
Napi::Value CsrTranspose(const Napi::CallbackInfo& info) {
  const TransposeCall c{parse_csr(info, 0)};
  with_memory_check(info.Env(), "csrTranspose", [&] { c.run(); });
  return c.finish(info.Env());
}

Napi::Value CsrTransposeAsync(const Napi::CallbackInfo& info) {
  const TransposeCall c{parse_csr(info, 0)};
  std::vector<HeldArray> held{{"a.rowPtr", c.a.row_ptr.value}, {"a.colIdx", c.a.col_idx.value}};
  if (c.a.values.present) held.push_back({"a.values", c.a.values.value});
  return KernelWorker::StartThenFinish(
      info.Env(), "csrTransposeAsync", [c] { c.run(); },
      [c](Napi::Env env) { return c.finish(env); }, held);
}

struct SpmmCall {
  CsrArg a;
  ArrayView b, out;
  int64_t dim = 0;
  PoolMode mode = PoolMode::Sum;
  void run() const { scatter::spmm(a.view, static_cast<const float*>(b.data), dim, mode, static_cast<float*>(out.data)); }
};

// args: rowPtr, colIdx, values?, numRows, numCols, b, dim, mode, out?
SpmmCall prepare_spmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpmmCall c;
  c.a = parse_csr(info, 0);
  c.b = get_float32_array(env, info[5], "b");
  c.dim = get_integer(env, info[6], "dim", 1, kMaxSafeInteger);
  c.mode = static_cast<PoolMode>(get_integer(env, info[7], "reduce", 0, 2));
  const int64_t rows = c.a.view.num_rows, cols = c.a.view.num_cols;
  require_length(env, c.b, "b", checked_product(env, cols, c.dim, "numCols x dim"),
                 "a.numCols " + std::to_string(cols) + " x dim " + std::to_string(c.dim));
  c.out = output_float32(env, info[8], checked_product(env, rows, c.dim, "numRows x dim"),
                         "a.numRows " + std::to_string(rows) + " x dim " + std::to_string(c.dim));
  for (const auto& [view, name] : {std::pair{&c.a.row_ptr, "a.rowPtr"}, std::pair{&c.a.col_idx, "a.colIdx"},
                                   std::pair{&c.a.values, "a.values"}, std::pair{&c.b, "b"}}) {
    require_disjoint(env, c.out, "out", *view, name);
  }
  return c;
}

Napi::Value Spmm(const Napi::CallbackInfo& info) {
  const SpmmCall c = prepare_spmm(info);
  c.run();
  return c.out.value;
}

Napi::Value SpmmAsync(const Napi::CallbackInfo& info) {
  const SpmmCall c = prepare_spmm(info);
  std::vector<HeldArray> held{{"a.rowPtr", c.a.row_ptr.value}, {"a.colIdx", c.a.col_idx.value},
                              {"b", c.b.value}, {"out", c.out.value}};
  if (c.a.values.present) held.push_back({"a.values", c.a.values.value});
  return KernelWorker::Start(info.Env(), "spmmAsync", [c] { c.run(); }, c.out.value, held);
}

}  // namespace

void register_scatter(Napi::Env env, Napi::Object exports) {
  exports.Set("scatterAdd", Napi::Function::New(env, ScatterAdd, "scatterAdd"));
  exports.Set("scatterAddAsync", Napi::Function::New(env, ScatterAddAsync, "scatterAddAsync"));
  exports.Set("scatterPlan", Napi::Function::New(env, ScatterPlanBuild, "scatterPlan"));
  exports.Set("scatterPlanAsync", Napi::Function::New(env, ScatterPlanBuildAsync, "scatterPlanAsync"));
  exports.Set("scatterPlanRows", Napi::Function::New(env, ScatterPlanRows, "scatterPlanRows"));
  exports.Set("embeddingBagBackward",
              Napi::Function::New(env, EmbeddingBagBackward, "embeddingBagBackward"));
  exports.Set("embeddingBagBackwardAsync",
              Napi::Function::New(env, EmbeddingBagBackwardAsync, "embeddingBagBackwardAsync"));
  exports.Set("embeddingBagWeightsBackward",
              Napi::Function::New(env, EmbeddingBagWeightsBackward, "embeddingBagWeightsBackward"));
  exports.Set("embeddingBagWeightsBackwardAsync",
              Napi::Function::New(env, EmbeddingBagWeightsBackwardAsync,
                                  "embeddingBagWeightsBackwardAsync"));
  exports.Set("csrFromCoo", Napi::Function::New(env, CsrFromCoo, "csrFromCoo"));
  exports.Set("csrFromCooAsync", Napi::Function::New(env, CsrFromCooAsync, "csrFromCooAsync"));
  exports.Set("csrTranspose", Napi::Function::New(env, CsrTranspose, "csrTranspose"));
  exports.Set("csrTransposeAsync", Napi::Function::New(env, CsrTransposeAsync, "csrTransposeAsync"));
  exports.Set("spmm", Napi::Function::New(env, Spmm, "spmm"));
  exports.Set("spmmAsync", Napi::Function::New(env, SpmmAsync, "spmmAsync"));
}

}  // namespace embedkit::binding
