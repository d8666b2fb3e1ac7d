// N-API entry points of qrEmbeddingBagBackward and qrEmbeddingBagWeightsBackward and their
// Async forms: the gradients of qrEmbeddingBag with respect to both of its tables (sum /
// mean / max pooling) and to its per-sample weights (sum / mean). Every argument is validated
// first, so a bad call writes nothing. Once it is, the ids become their quotient and
// remainder rows (scatter::id_rows). The tables' gradients drop the padding positions and run
// the plain bag backward over each table's rows: with the whole gradient ('sum'), its half
// ('concat': a bag's gradient row read as two rows of dim floats), or the gradient times the
// other table's row ('mul': a factor per position). 'max' needs no ids: each table's side runs
// the plain max backward over that table's winners (the forward's returnArgmax) with its share
// of each gradient element. The weights' gradient keeps every position (padding as sentinel
// rows) and runs the weights kernel once or twice.
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
using gather::QrCombine;

// What both QR gradients take from the forward's call: ids into quotient rows x m, the bag
// bounds, the mode ('max' refused: `max_refusal` says why) and the combine, with gradOutput's
// length checked against them.
struct QrBagInput {
  ArrayView indices_view;
  IndexArray ids;
  BagBounds bounds;
  PoolMode mode = PoolMode::Sum;
  QrCombine combine = QrCombine::Sum;
  int64_t id_limit = 0;
  // The ids as id_rows maps them: both tables' rows, 64-bit for 'mul' (whose factor rows the
  // kernels read as int64).
  scatter::IdRowsArgs id_rows_args(const int64_t (&rows)[2], int64_t padding_id) const {
    scatter::IdRowsArgs a;
    a.ids = ids;
    a.bags = bounds.bags;
    a.map = scatter::IdMap::QuotientRemainder;
    a.table_rows = rows[0];
    a.remainder_rows = rows[1];
    a.padding_id = padding_id;
    a.wide = combine == QrCombine::Mul;
    return a;
  }
};

// args from `at` on: indices, bounds, boundsKind, mode, combine. rows_names name the two row
// counts in the id range error; a null max_refusal lets mode 'max' through.
void parse_qr_bag(Napi::Env env, const Napi::CallbackInfo& info, size_t at, const ArrayView& grad, int64_t dim,
                  const int64_t (&rows)[2], const char* const (&rows_names)[2], const char* max_refusal,
                  QrBagInput* in) {
  in->indices_view = get_index_array(env, info[at], "indices", &in->ids);
  parse_bag_bounds(env, info[at + 1], info[at + 2], in->ids.length, &in->bounds);
  in->mode = static_cast<PoolMode>(get_integer(env, info[at + 3], "mode", 0, 2));
  if (in->mode == PoolMode::Max && max_refusal != nullptr) {
    throw_type_error(env, std::string("mode must be 'sum' or 'mean': ") + max_refusal);
  }
  in->combine = static_cast<QrCombine>(get_integer(env, info[at + 4], "combine", 0, 2));
  const int64_t bags = in->bounds.bags.num_bags;
  const int64_t out_dim = in->combine == QrCombine::Concat ? checked_product(env, 2, dim, "2 x dim") : dim;
  require_length(env, grad, "gradOutput", checked_product(env, bags, out_dim, "bags x output dim"),
                 std::to_string(bags) + " bags x output dim " + std::to_string(out_dim));
  // Ids address the product space, as in the forward: id reads quotient row id / m and
  // remainder row id % m.
  in->id_limit = gather::qr_id_limit(rows[0], rows[1]);
  const int64_t bad = find_index_out_of_range(in->ids, in->id_limit);
  if (bad >= 0) {
    throw_range_error(env, "indices[" + std::to_string(bad) + "] = " + std::to_string(in->ids.at(bad)) +
                               " is out of range for " + std::to_string(in->id_limit) + " ids (" + rows_names[0] +
                               " " + std::to_string(rows[0]) + " x " + rows_names[1] + " " +
                               std::to_string(rows[1]) + ")");
  }
}

// One table's side of the pass: its rows' gradient, dense or sparse.
struct QrSide {
  QrSide(const char* name_, const char* out_name_, const char* rows_name_)
      : name(name_), out_name(out_name_), rows_name(rows_name_) {}
  const char* name;       // "quotient" / "remainder"
  const char* out_name;   // "outQuotient" / "outRemainder"
  const char* rows_name;  // "quotientRows" / "remainderRows"
  int64_t rows = 0;
  ArrayView table;       // 'mul': the table, read as the other side's factor
  ArrayView winners;     // 'max': this table's winning rows, bags x dim (maxIndices)
  std::vector<float> max_grad;  // 'max' with 'concat' / 'mul': this side's gradient elements
  ArrayView out;
  scatter::BagBackwardArgs args;
  std::unique_ptr<scatter::BagBackward> prepared;
  std::string shape(int64_t dim) const {
    return std::string(rows_name) + " " + std::to_string(rows) + " x dim " + std::to_string(dim);
  }
};

struct QrBackwardCall {
  ArrayView grad, weights;
  QrBagInput in;
  scatter::IdRows id_rows;  // the quotient and remainder rows the sides point into
  QrSide sides[2] = {{"quotient", "outQuotient", "quotientRows"},
                     {"remainder", "outRemainder", "remainderRows"}};
  bool sparse = false;
  Napi::Value result;
  void run() {
    for (QrSide& side : sides) {
      if (!side.prepared) side.prepared = std::make_unique<scatter::BagBackward>(side.args);
      if (sparse) {
        side.prepared->run_sparse(static_cast<float*>(side.out.data));
      } else {
        side.prepared->run_dense(static_cast<float*>(side.out.data));
      }
    }
  }
  std::vector<HeldArray> held() const {
    std::vector<HeldArray> h{{"gradOutput", grad.value}, {"indices", in.indices_view.value},
                             {in.bounds.name, in.bounds.view.value}};
    if (weights.present) h.push_back({"weights", weights.value});
    const char* winners_names[2] = {"maxIndices.quotient", "maxIndices.remainder"};
    for (int s = 0; s < 2; ++s) {
      const QrSide& side = sides[s];
      if (side.table.present) h.push_back({side.name, side.table.value});
      if (side.winners.present) h.push_back({winners_names[s], side.winners.value});
      h.push_back({side.out_name, side.out.value});
    }
    return h;
  }
};

// mode 'max': the winners from `at` on (maxIndices.quotient, maxIndices.remainder), each an
// Int32Array of `entries` (bags x dim) rows of its table or -1, the two -1 together (an empty
// or padding-only bag); any other mode takes none.
void parse_max_winners(Napi::Env env, const Napi::CallbackInfo& info, size_t at, PoolMode mode, int64_t entries,
                       QrSide (&sides)[2]) {
  const char* names[2] = {"maxIndices.quotient", "maxIndices.remainder"};
  if (mode != PoolMode::Max) {
    if (!is_absent(info[at]) || !is_absent(info[at + 1])) throw_type_error(env, "maxIndices applies to mode 'max' only");
    return;
  }
  if (is_absent(info[at]) || is_absent(info[at + 1])) {
    throw_type_error(env, "mode 'max' needs maxIndices { quotient, remainder } (qrEmbeddingBag with returnArgmax)");
  }
  for (int s = 0; s < 2; ++s) {
    QrSide& side = sides[s];
    side.winners = get_typed_array(env, info[at + s], names[s], napi_int32_array, "Int32Array");
    require_length(env, side.winners, names[s], entries, "bags x dim");
    const auto* w = static_cast<const int32_t*>(side.winners.data);
    for (int64_t e = 0; e < entries; ++e) {
      if (w[e] < -1 || w[e] >= side.rows) {
        throw_range_error(env, std::string(names[s]) + "[" + std::to_string(e) + "] = " + std::to_string(w[e]) +
                                   " is out of range: -1 or a row id below " + std::to_string(side.rows));
      }
    }
  }
  const auto* wq = static_cast<const int32_t*>(sides[0].winners.data);
  const auto* wr = static_cast<const int32_t*>(sides[1].winners.data);
  for (int64_t e = 0; e < entries; ++e) {
    if ((wq[e] == -1) != (wr[e] == -1)) {
      throw_range_error(env, "maxIndices.quotient[" + std::to_string(e) + "] = " + std::to_string(wq[e]) +
                                 " but maxIndices.remainder[" + std::to_string(e) + "] = " + std::to_string(wr[e]) +
                                 ": both are -1 exactly where a bag has no entry");
    }
  }
}

// mode 'max': each side runs the plain max backward over its winners, with its share of each
// gradient element: all of it ('sum'), its half of the row ('concat'), or it times the other
// table's winning row ('mul', one float32 product, as the forward's q x r).
void prepare_max_sides(const QrBagInput& in, const float* grad, int64_t dim, QrSide (&sides)[2]) {
  const int64_t bags = in.bounds.bags.num_bags;
  const int64_t entries = bags * dim;
  for (int s = 0; s < 2; ++s) {
    QrSide& side = sides[s];
    const float* share = grad;
    if (in.combine != QrCombine::Sum) {
      side.max_grad.resize(static_cast<size_t>(entries));
      const auto* other = static_cast<const int32_t*>(sides[1 - s].winners.data);
      const auto* other_table = static_cast<const float*>(sides[1 - s].table.data);
      for (int64_t b = 0; b < bags; ++b) {
        for (int64_t c = 0; c < dim; ++c) {
          const int64_t e = b * dim + c;
          side.max_grad[static_cast<size_t>(e)] =
              in.combine == QrCombine::Concat ? grad[(2 * b + s) * dim + c]
              : other[e] < 0                 ? 0.0f
                                             : grad[e] * other_table[int64_t{other[e]} * dim + c];
        }
      }
      share = side.max_grad.data();
    }
    scatter::BagBackwardArgs& a = side.args;
    a.grad = share;
    a.dim = dim;
    a.indices = in.ids;
    a.bags = in.bounds.bags;
    a.mode = PoolMode::Max;
    a.argmax = static_cast<const int32_t*>(side.winners.data);
    a.num_rows = side.rows;
  }
}

// 'sum' / 'mean': the ids become rows, the padding id's positions dropped, and each side pools
// its table's rows.
void prepare_pooled_sides(Napi::Env env, QrBackwardCall& c, int64_t dim, int64_t padding_id) {
  const QrCombine combine = c.in.combine;
  scatter::IdRowsArgs map = c.in.id_rows_args({c.sides[0].rows, c.sides[1].rows}, padding_id);
  map.weights = c.weights.present ? static_cast<const float*>(c.weights.data) : nullptr;
  with_memory_check(env, "qrEmbeddingBagBackward", [&] { scatter::id_rows(map, &c.id_rows); });
  for (int s = 0; s < 2; ++s) {
    QrSide& side = c.sides[s];
    scatter::BagBackwardArgs& a = side.args;
    a.grad = static_cast<const float*>(c.grad.data);
    a.dim = dim;
    a.indices = c.id_rows.rows(s);
    a.bags = c.id_rows.bags();
    a.mode = c.in.mode;
    a.weights = map.weights != nullptr ? c.id_rows.weights.data() : nullptr;
    a.num_rows = side.rows;
    if (combine == QrCombine::Concat) {
      a.grad_rows_per_bag = 2;
      a.grad_row_offset = s;
    } else if (combine == QrCombine::Mul) {
      a.factor = static_cast<const float*>(c.sides[1 - s].table.data);
      a.factor_rows = c.id_rows.rows64[1 - s].data();
      a.factor_table_rows = c.sides[1 - s].rows;
    }
  }
}

// args: gradOutput, dim, indices, bounds, boundsKind, mode, combine, weights?, paddingIdx?,
//       quotientRows, remainderRows, quotient?, remainder?, sparse, outQuotient?, outRemainder?,
//       maxQuotient?, maxRemainder? (mode 'max': maxIndices.quotient / .remainder)
std::shared_ptr<QrBackwardCall> prepare_qr_backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_shared<QrBackwardCall>();
  QrSide& q = c->sides[0];
  QrSide& r = c->sides[1];
  c->grad = get_float32_array(env, info[0], "gradOutput");
  const int64_t dim = get_integer(env, info[1], "dim", 1, kMaxSafeInteger);
  q.rows = get_integer(env, info[9], "quotientRows", 0, kMaxSafeInteger);
  r.rows = get_integer(env, info[10], "remainderRows", 0, kMaxSafeInteger);
  parse_qr_bag(env, info, 2, c->grad, dim, {q.rows, r.rows}, {"quotientRows", "remainderRows"}, nullptr, &c->in);
  const int64_t n = c->in.ids.length;
  const PoolMode mode = c->in.mode;
  const QrCombine combine = c->in.combine;
  c->weights = get_optional_float32_array(env, info[7], "weights");
  if (c->weights.present) {
    if (mode == PoolMode::Max) throw_type_error(env, "weights are supported with mode 'sum' and 'mean', not 'max'");
    require_length(env, c->weights, "weights", n, "one per index");
  }
  parse_max_winners(env, info, 16, mode, c->in.bounds.bags.num_bags * dim, c->sides);
  const int64_t padding_id = get_padding_row(env, info[8], c->in.id_limit);
  // 'mul' reads each table as the other's factor; the other combines read neither.
  for (int s = 0; s < 2; ++s) {
    QrSide& side = c->sides[s];
    const Napi::Value& v = info[11 + s];
    if (combine != QrCombine::Mul) {
      if (!is_absent(v)) throw_type_error(env, std::string(side.name) + " is read by combine 'mul' only");
      continue;
    }
    if (is_absent(v)) {
      throw_type_error(env, std::string("combine 'mul' needs the ") + side.name +
                                " table (a Float32Array): each table's gradient is the other's rows times gradOutput");
    }
    side.table = get_float32_array(env, v, side.name);
    require_length(env, side.table, side.name, checked_product(env, side.rows, dim, "rows x dim"),
                   side.shape(dim));
  }
  if (!info[13].IsBoolean()) throw_type_error(env, "sparse must be a boolean");
  c->sparse = info[13].As<Napi::Boolean>().Value();
  for (int s = 0; s < 2; ++s) {
    if (c->sparse && !is_absent(info[14 + s])) {
      throw_type_error(env, std::string(c->sides[s].out_name) + " applies to the dense form only");
    }
  }
  // Dense outputs: the caller's (checked, disjoint from every input and each other) or fresh.
  if (!c->sparse) {
    for (int s = 0; s < 2; ++s) {
      QrSide& side = c->sides[s];
      const int64_t size = checked_product(env, side.rows, dim, "rows x dim");
      const std::string shape = side.shape(dim);
      side.args.out_is_zero = is_absent(info[14 + s]);
      if (side.args.out_is_zero) {
        side.out = output_float32(env, Napi::Value(), size, shape);
      } else {
        side.out = get_float32_array(env, info[14 + s], side.out_name);
        require_length(env, side.out, side.out_name, size, shape);
      }
    }
    for (const QrSide& side : c->sides) {
      for (const auto& [view, name] :
           {std::pair{&c->grad, "gradOutput"}, std::pair{&c->in.indices_view, "indices"},
            std::pair{&c->in.bounds.view, c->in.bounds.name}, std::pair{&c->weights, "weights"},
            std::pair{&q.table, "quotient"}, std::pair{&r.table, "remainder"},
            std::pair{&q.winners, "maxIndices.quotient"}, std::pair{&r.winners, "maxIndices.remainder"}}) {
        require_disjoint(env, side.out, side.out_name, *view, name);
      }
    }
    require_disjoint(env, r.out, r.out_name, q.out, q.out_name);
  }

  if (mode == PoolMode::Max) {
    with_memory_check(env, "qrEmbeddingBagBackward",
                      [&] { prepare_max_sides(c->in, static_cast<const float*>(c->grad.data), dim, c->sides); });
  } else {
    prepare_pooled_sides(env, *c, dim, padding_id);
  }
  if (c->sparse) {
    // Each side's size is its number of distinct rows: plan first, then allocate (a new
    // array, so zero).
    Napi::Object result = Napi::Object::New(env);
    for (QrSide& side : c->sides) {
      with_memory_check(env, "qrEmbeddingBagBackward",
                        [&] { side.prepared = std::make_unique<scatter::BagBackward>(side.args); });
      const int64_t u = static_cast<int64_t>(side.prepared->rows().size());
      side.out = output_float32(env, Napi::Value(), checked_product(env, u, dim, "rows x dim"),
                                std::to_string(u) + " rows x dim " + std::to_string(dim));
      Napi::Object part = Napi::Object::New(env);
      part.Set("rows", ids_like(env, side.prepared->rows(), c->in.indices_view.type));
      part.Set("values", side.out.value);
      result.Set(side.name, part);
    }
    c->result = result;
  } else {
    Napi::Object result = Napi::Object::New(env);
    for (const QrSide& side : c->sides) result.Set(side.name, side.out.value);
    c->result = result;
  }
  return c;
}

Napi::Value QrEmbeddingBagBackward(const Napi::CallbackInfo& info) {
  std::shared_ptr<QrBackwardCall> c = prepare_qr_backward(info);
  with_memory_check(info.Env(), "qrEmbeddingBagBackward", [&] { c->run(); });
  return c->result;
}

Napi::Value QrEmbeddingBagBackwardAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<QrBackwardCall> c = prepare_qr_backward(info);
  return KernelWorker::Start(info.Env(), "qrEmbeddingBagBackwardAsync", [c] { c->run(); }, c->result,
                             c->held());
}

// ---- the per-sample weights' gradient --------------------------------------------------------

struct QrWeightsCall {
  ArrayView grad, out;
  ArrayView tables[2];  // quotient, remainder
  QrBagInput in;
  scatter::IdRows id_rows;                // quotient and remainder rows, padding as sentinels
  std::vector<scatter::WeightsGradArgs> passes;  // 'sum' / 'concat': one per table; 'mul': one
  void run() const {
    for (const scatter::WeightsGradArgs& a : passes) scatter::bag_weights_grad(a);
  }
};

// args: gradOutput, quotient, remainder, dim, indices, bounds, boundsKind, mode, combine,
//       paddingIdx?, out?
// Id p of bag b gets gradOutput[b] . e_p, e_p its combined row: g . q + g . r ('sum', two
// passes, the second adding into out), g1 . q + g2 . r ('concat', each pass reading its half
// of the gradient row) or g . (q x r) ('mul', one pass with the remainder row as a factor).
std::shared_ptr<QrWeightsCall> prepare_qr_weights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_shared<QrWeightsCall>();
  c->grad = get_float32_array(env, info[0], "gradOutput");
  const int64_t dim = get_integer(env, info[3], "dim", 1, kMaxSafeInteger);
  int64_t rows[2] = {0, 0};
  const char* names[2] = {"quotient", "remainder"};
  for (int s = 0; s < 2; ++s) {
    c->tables[s] = get_table_rows(env, info[1 + s], names[s], gather::TableFormat::F32, dim, &rows[s]);
  }
  parse_qr_bag(env, info, 4, c->grad, dim, rows, {"quotient rows", "remainder rows"},
               "'max' pooling takes no per-sample weights", &c->in);
  const int64_t n = c->in.ids.length;
  const QrCombine combine = c->in.combine;
  const int64_t padding_id = get_padding_row(env, info[9], c->in.id_limit);
  c->out = output_float32(env, info[10], n, std::to_string(n) + " indices");
  for (const auto& [view, name] :
       {std::pair{&c->grad, "gradOutput"}, std::pair{&c->tables[0], "quotient"}, std::pair{&c->tables[1], "remainder"},
        std::pair{&c->in.indices_view, "indices"}, std::pair{&c->in.bounds.view, c->in.bounds.name}}) {
    require_disjoint(env, c->out, "out", *view, name);
  }

  // Validated: every position becomes its two rows, the padding id's a sentinel row past each
  // table (answered with 0, never read, not counted by 'mean').
  scatter::IdRowsArgs map = c->in.id_rows_args(rows, padding_id);
  map.keep_padding = true;
  with_memory_check(env, "qrEmbeddingBagWeightsBackward", [&] { scatter::id_rows(map, &c->id_rows); });
  const int passes = combine == QrCombine::Mul ? 1 : 2;
  for (int s = 0; s < passes; ++s) {
    scatter::WeightsGradArgs a;
    a.grad = static_cast<const float*>(c->grad.data);
    a.table = static_cast<const float*>(c->tables[s].data);
    a.dim = dim;
    a.indices = c->id_rows.rows(s);
    a.bags = c->in.bounds.bags;
    a.mean = c->in.mode == PoolMode::Mean;
    a.padding_idx = padding_id >= 0 ? rows[s] : -1;
    a.out = static_cast<float*>(c->out.data);
    a.accumulate = s == 1;
    if (combine == QrCombine::Concat) {
      a.grad_rows_per_bag = 2;
      a.grad_row_offset = s;
    } else if (combine == QrCombine::Mul) {
      a.factor = static_cast<const float*>(c->tables[1].data);
      a.factor_rows = c->id_rows.rows64[1].data();
    }
    c->passes.push_back(a);
  }
  return c;
}

Napi::Value QrEmbeddingBagWeightsBackward(const Napi::CallbackInfo& info) {
  std::shared_ptr<QrWeightsCall> c = prepare_qr_weights(info);
  c->run();
  return c->out.value;
}

Napi::Value QrEmbeddingBagWeightsBackwardAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<QrWeightsCall> c = prepare_qr_weights(info);
  const std::vector<HeldArray> held{{"gradOutput", c->grad.value},       {"quotient", c->tables[0].value},
                                    {"remainder", c->tables[1].value},   {"indices", c->in.indices_view.value},
                                    {c->in.bounds.name, c->in.bounds.view.value}, {"out", c->out.value}};
  return KernelWorker::Start(info.Env(), "qrEmbeddingBagWeightsBackwardAsync", [c] { c->run(); }, c->out.value, held);
}

}  // namespace

void register_qr_backward(Napi::Env env, Napi::Object exports) {
  exports.Set("qrEmbeddingBagBackward",
              Napi::Function::New(env, QrEmbeddingBagBackward, "qrEmbeddingBagBackward"));
  exports.Set("qrEmbeddingBagBackwardAsync",
              Napi::Function::New(env, QrEmbeddingBagBackwardAsync, "qrEmbeddingBagBackwardAsync"));
  exports.Set("qrEmbeddingBagWeightsBackward",
              Napi::Function::New(env, QrEmbeddingBagWeightsBackward, "qrEmbeddingBagWeightsBackward"));
  exports.Set("qrEmbeddingBagWeightsBackwardAsync",
              Napi::Function::New(env, QrEmbeddingBagWeightsBackwardAsync, "qrEmbeddingBagWeightsBackwardAsync"));
}

}  // namespace embedkit::binding
