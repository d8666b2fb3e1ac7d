// N-API entry points of qrEmbeddingBag (quotient-remainder embeddings) and its Async form:
// two tables of one format and dim, bags as embeddingBag takes them, and the combine. Every
// argument is validated first, so a bad call writes nothing.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../kernels/gather/gather.h"
#include "args.h"
#include "async.h"
#include "bag_args.h"
#include "family.h"
#include "table_args.h"

namespace embedkit::binding {
namespace {

using gather::PoolMode;
using gather::QrBagArgs;
using gather::QrCombine;

constexpr TableNames kQuotientNames{"quotient", "quotient.data", "quotient.format",
                                    "quotient.scales", "quotient.biases"};
constexpr TableNames kRemainderNames{"remainder", "remainder.data", "remainder.format",
                                     "remainder.scales", "remainder.biases"};
// TableFormat codes as the TypeScript API spells them.
constexpr const char* kFormatNames[gather::kNumTableFormats] = {"f32", "f16", "bf16", "q8", "q4"};

struct QrCall {
  TableArg quotient, remainder;
  ArrayView indices_view, weights_view, out;
  ArrayView winners[2];  // returnArgmax: the quotient's and the remainder's winning rows
  BagBounds bounds;
  QrBagArgs args;
  void run() const {
    if (winners[0].present) {
      gather::embedding_qr_bag_max_argmax(args, static_cast<int32_t*>(winners[0].data),
                                          static_cast<int32_t*>(winners[1].data));
    } else {
      gather::embedding_qr_bag(args);
    }
  }
  std::vector<HeldArray> held() const {
    std::vector<HeldArray> h = quotient.held();
    for (const HeldArray& r : remainder.held()) h.push_back(r);
    h.push_back({"indices", indices_view.value});
    h.push_back({bounds.name, bounds.view.value});
    h.push_back({"out", out.value});
    if (weights_view.present) h.push_back({"weights", weights_view.value});
    if (winners[0].present) {
      h.push_back({"argmax.quotient", winners[0].value});
      h.push_back({"argmax.remainder", winners[1].value});
    }
    return h;
  }
};

// args: quotient rows, dim, format?, scales?, biases?, remainder rows, dim, format?, scales?,
//       biases?, indices, bounds, boundsKind, mode, combine, weights?, paddingIdx?, out?,
//       argmaxQuotient?, argmaxRemainder? (returnArgmax: both or neither)
std::unique_ptr<QrCall> prepare_qr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_unique<QrCall>();
  c->quotient = parse_table(env, info, 0, 2, false, kQuotientNames);
  c->remainder = parse_table(env, info, 5, 7, false, kRemainderNames);
  const gather::Table& q = c->quotient.table;
  const gather::Table& r = c->remainder.table;
  if (r.format != q.format) {
    throw_type_error(env, std::string("remainder.format '") + kFormatNames[static_cast<int>(r.format)] +
                              "' must match quotient.format '" +
                              kFormatNames[static_cast<int>(q.format)] + "'");
  }
  if (r.dim != q.dim) {
    throw_range_error(env, "remainder dim " + std::to_string(r.dim) + " must equal quotient dim " +
                               std::to_string(q.dim));
  }
  QrBagArgs& a = c->args;
  a.bag.table = q;
  a.remainder = r;
  c->indices_view = get_index_array(env, info[10], "indices", &a.bag.indices);
  const int64_t n = a.bag.indices.length;
  parse_bag_bounds(env, info[11], info[12], n, &c->bounds);
  a.bag.bags = c->bounds.bags;
  a.bag.mode = static_cast<PoolMode>(get_integer(env, info[13], "mode", 0, 2));
  a.combine = static_cast<QrCombine>(get_integer(env, info[14], "combine", 0, 2));

  c->weights_view = get_optional_float32_array(env, info[15], "weights");
  if (c->weights_view.present) {
    if (a.bag.mode == PoolMode::Max) {
      throw_type_error(env, "weights are supported with mode 'sum' and 'mean', not 'max'");
    }
    if (c->weights_view.length != n) {
      throw_range_error(env, "weights.length must equal indices.length " + std::to_string(n) +
                                 ", got " + std::to_string(c->weights_view.length));
    }
    a.bag.weights = static_cast<const float*>(c->weights_view.data);
  }

  // Ids address the product space: id reads quotient row id / m, remainder row id % m.
  const int64_t ids = gather::qr_id_limit(q.rows, r.rows);
  a.bag.padding_idx = get_padding_row(env, info[16], ids);
  const int64_t bad = find_index_out_of_range(a.bag.indices, ids);
  if (bad >= 0) {
    throw_range_error(env, "indices[" + std::to_string(bad) + "] = " +
                               std::to_string(a.bag.indices.at(bad)) + " is out of range for " +
                               std::to_string(ids) + " ids (quotient rows " +
                               std::to_string(q.rows) + " x remainder rows " +
                               std::to_string(r.rows) + ")");
  }

  const int64_t bags = a.bag.bags.num_bags;
  const int64_t out_dim = a.out_dim();
  if (bags != 0 && out_dim > kMaxSafeInteger / bags) {
    throw_range_error(env, "bags x output dim overflows");
  }
  c->out = output_float32(env, info[17], bags * out_dim,
                          std::to_string(bags) + " bags x output dim " + std::to_string(out_dim));
  c->quotient.require_disjoint_from(env, c->out, "out");
  c->remainder.require_disjoint_from(env, c->out, "out");
  require_disjoint(env, c->out, "out", c->indices_view, "indices");
  require_disjoint(env, c->out, "out", c->bounds.view, c->bounds.name);
  require_disjoint(env, c->out, "out", c->weights_view, "weights");
  a.bag.out = static_cast<float*>(c->out.data);

  if (!is_absent(info[18]) || !is_absent(info[19])) {
    // returnArgmax: each table's winning rows, bags x dim Int32 each (rows must fit).
    if (a.bag.mode != PoolMode::Max) throw_type_error(env, "returnArgmax needs mode 'max'");
    const char* names[2] = {"argmax.quotient", "argmax.remainder"};
    const int64_t table_rows[2] = {q.rows, r.rows};
    for (int s = 0; s < 2; ++s) {
      if (table_rows[s] > INT32_MAX) {
        throw_range_error(env, std::string("returnArgmax needs tables of at most 2147483647 rows, ") +
                                   (s == 0 ? "quotient" : "remainder") + " has " + std::to_string(table_rows[s]));
      }
      c->winners[s] = get_typed_array(env, info[18 + s], names[s], napi_int32_array, "Int32Array");
      if (c->winners[s].length != bags * q.dim) {
        throw_range_error(env, std::string(names[s]) + ".length must be " + std::to_string(bags * q.dim) + " (" +
                                   std::to_string(bags) + " bags x dim " + std::to_string(q.dim) + "), got " +
                                   std::to_string(c->winners[s].length));
      }
      c->quotient.require_disjoint_from(env, c->winners[s], names[s]);
      c->remainder.require_disjoint_from(env, c->winners[s], names[s]);
      for (const auto& [view, name] : {std::pair{&c->indices_view, "indices"},
                                       std::pair{&c->bounds.view, c->bounds.name}, std::pair{&c->out, "out"}}) {
        require_disjoint(env, c->winners[s], names[s], *view, name);
      }
    }
    require_disjoint(env, c->winners[1], names[1], c->winners[0], names[0]);
  }
  return c;
}

Napi::Value QrEmbeddingBag(const Napi::CallbackInfo& info) {
  std::unique_ptr<QrCall> c = prepare_qr(info);
  c->run();
  return c->out.value;
}

Napi::Value QrEmbeddingBagAsync(const Napi::CallbackInfo& info) {
  // The call object (with any lengths-derived bounds) lives on the heap until the worker ends.
  std::shared_ptr<QrCall> c = prepare_qr(info);
  return KernelWorker::Start(info.Env(), "qrEmbeddingBagAsync", [c] { c->run(); }, c->out.value,
                             c->held());
}

}  // namespace

void register_qr_bag(Napi::Env env, Napi::Object exports) {
  exports.Set("qrEmbeddingBag", Napi::Function::New(env, QrEmbeddingBag, "qrEmbeddingBag"));
  exports.Set("qrEmbeddingBagAsync",
              Napi::Function::New(env, QrEmbeddingBagAsync, "qrEmbeddingBagAsync"));
}

}  // namespace embedkit::binding
