// N-API entry points of the gather family: gather, embeddingBag and their Async forms.
// Each call is parsed and fully validated first (types, lengths, index ranges, bag
// boundaries, aliasing); only then is the output touched.
#include <memory>
#include <string>
#include <vector>

#include "../kernels/gather/gather.h"
#include "args.h"
#include "async.h"
#include "bag_args.h"
#include "family.h"
#include "table_args.h"

namespace embedkit::binding {
namespace {

using gather::BagArgs;
using gather::BagCheck;
using gather::BagError;
using gather::PoolMode;
using gather::Table;

// Indices address rows, or with a remap the ids of the original table.
void check_index_range(Napi::Env env, const IndexArray& indices, const Table& table) {
  const int64_t limit = table.id_limit();
  const int64_t bad = find_index_out_of_range(indices, limit);
  if (bad >= 0) {
    const std::string at = "indices[" + std::to_string(bad) + "] = " + std::to_string(indices.at(bad));
    if (table.hashed) throw_range_error(env, at + ": a hashed id must not be negative");
    throw_range_error(env, at + " is out of range for " +
                               (table.remap != nullptr
                                    ? "a remap of " + std::to_string(limit) + " ids"
                                    : "a table of " + std::to_string(limit) + " rows"));
  }
}

// A gather call, validated and ready to run.
struct GatherCall {
  TableArg table;
  ArrayView indices_view;
  IndexArray indices;
  ArrayView out;
  void run() const { gather::gather(table.table, indices, static_cast<float*>(out.data)); }
};

// args: table, dim, indices, out?, format?, scales?, biases?, remap?
GatherCall prepare_gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GatherCall c;
  c.table = parse_table(env, info, 0, 4, true);
  c.indices_view = get_index_array(env, info[2], "indices", &c.indices);
  check_index_range(env, c.indices, c.table.table);
  const int64_t n = c.indices.length;
  const int64_t dim = c.table.table.dim;
  if (n != 0 && dim > kMaxSafeInteger / n) throw_range_error(env, "indices.length x dim overflows");
  c.out = output_float32(env, info[3], n * dim,
                         "indices.length " + std::to_string(n) + " x dim " + std::to_string(dim));
  c.table.require_disjoint_from(env, c.out, "out");
  require_disjoint(env, c.out, "out", c.indices_view, "indices");
  return c;
}

struct BagCall {
  TableArg table;
  ArrayView indices_view, weights_view, out, argmax;
  BagBounds bounds;
  BagArgs args;
  void run() const {
    if (argmax.present) {
      gather::embedding_bag_max_argmax(args, static_cast<int32_t*>(argmax.data));
    } else {
      gather::embedding_bag(args);
    }
  }
};

}  // namespace

std::string bag_error_message(const BagCheck& check, const char* name, const IndexArray& b,
                              int64_t num_indices) {
  const std::string at = std::string(name) + "[" + std::to_string(check.position) + "]";
  const std::string value = check.position >= 0 && check.position < b.length
                                ? " = " + std::to_string(b.at(check.position))
                                : std::string();
  switch (check.error) {
    case BagError::FirstNotZero:
      return at + value + ": the first bag must start at 0";
    case BagError::Decreasing:
      return at + value + " is less than " + name + "[" + std::to_string(check.position - 1) +
             "] = " + std::to_string(b.at(check.position - 1)) + ": " + name +
             " must not decrease (bag " + std::to_string(check.position) + ")";
    case BagError::PastEnd:
      return at + value + " is past the end of indices (length " +
             std::to_string(num_indices) + ")";
    case BagError::LastNotEnd:
      return at + value + " must equal indices.length " + std::to_string(num_indices) +
             " with includeLastOffset";
    case BagError::NegativeLength:
      return at + value + ": a bag length cannot be negative (bag " +
             std::to_string(check.position) + ")";
    case BagError::LengthSum:
      return std::string(name) + " must add up to indices.length " +
             std::to_string(num_indices) + " (exceeded or not reached at bag " +
             std::to_string(check.position) + ")";
    case BagError::None: break;
  }
  return "invalid bag boundaries";
}

void parse_bag_bounds(Napi::Env env, const Napi::Value& bounds_arg, const Napi::Value& kind_arg,
                      int64_t n, BagBounds* out) {
  const auto kind = static_cast<BoundsKind>(get_integer(env, kind_arg, "boundsKind", 0, 2));
  const char* bounds_name = kind == BoundsKind::Lengths ? "lengths" : "offsets";
  out->name = bounds_name;
  IndexArray bounds;
  out->view = get_index_array(env, bounds_arg, bounds_name, &bounds);
  if (kind == BoundsKind::OffsetsWithEnd && bounds.length == 0) {
    throw_range_error(env, "offsets must have at least one entry with includeLastOffset");
  }
  if (kind == BoundsKind::Lengths) {
    const BagCheck check = gather::offsets_from_lengths(bounds, n, &out->from_lengths);
    if (check.error != BagError::None) {
      throw_range_error(env, bag_error_message(check, "lengths", bounds, n));
    }
    out->bags.bounds = IndexArray{out->from_lengths.data(),
                                  static_cast<int64_t>(out->from_lengths.size()),
                                  IndexType::Int64};
    out->bags.num_bags = bounds.length;
  } else {
    const bool with_end = kind == BoundsKind::OffsetsWithEnd;
    const BagCheck check = gather::validate_offsets(bounds, with_end, n);
    if (check.error != BagError::None) {
      throw_range_error(env, bag_error_message(check, "offsets", bounds, n));
    }
    out->bags.bounds = bounds;
    out->bags.num_bags = with_end ? bounds.length - 1 : bounds.length;
  }
  out->bags.num_indices = n;
}

namespace {

// args: table, dim, indices, bounds, boundsKind, mode, weights?, paddingIdx?, out?, argmax?,
//       format?, scales?, biases?, remap?, hashSeed?
std::unique_ptr<BagCall> prepare_bag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_unique<BagCall>();
  c->table = parse_table(env, info, 0, 10, true);
  BagArgs& a = c->args;
  a.table = c->table.table;
  if (!is_absent(info[14])) {  // hashedEmbeddingBag: ids are hashed into the table's rows
    if (a.table.remap != nullptr) throw_type_error(env, "a hashed bag takes no remap");
    a.table.hashed = true;
    a.table.hash_seed = static_cast<uint64_t>(get_integer(env, info[14], "seed", 0, kMaxSafeInteger));
  }
  c->indices_view = get_index_array(env, info[2], "indices", &a.indices);
  a.mode = static_cast<PoolMode>(get_integer(env, info[5], "mode", 0, 2));
  const int64_t n = a.indices.length;
  // Ids (padding, returned argmax) live in the original id space: rows, or the remap's length.
  const int64_t rows = a.table.id_limit();
  const int64_t dim = a.table.dim;
  parse_bag_bounds(env, info[3], info[4], n, &c->bounds);
  a.bags = c->bounds.bags;

  c->weights_view = get_optional_float32_array(env, info[6], "weights");
  if (c->weights_view.present) {
    if (a.mode == PoolMode::Max) {
      throw_type_error(env, "weights are supported with mode 'sum' and 'mean', not 'max'");
    }
    if (c->weights_view.length != n) {
      throw_range_error(env, "weights.length must equal indices.length " + std::to_string(n) +
                                 ", got " + std::to_string(c->weights_view.length));
    }
    a.weights = static_cast<const float*>(c->weights_view.data);
  }

  a.padding_idx = -1;
  if (a.table.hashed) {
    // Any id may occur, so padding is an id, not counted from the end.
    if (!is_absent(info[7])) a.padding_idx = get_integer(env, info[7], "paddingIdx", 0, kMaxSafeInteger);
    if (a.table.rows == 0 && n > 0) {
      throw_range_error(env, "a hashed bag needs a table of at least one row");
    }
  } else {
    a.padding_idx = get_padding_row(env, info[7], rows);
  }
  check_index_range(env, a.indices, a.table);

  const int64_t bags = a.bags.num_bags;
  if (bags != 0 && dim > kMaxSafeInteger / bags) throw_range_error(env, "bags x dim overflows");
  c->out = output_float32(env, info[8], bags * dim,
                          std::to_string(bags) + " bags x dim " + std::to_string(dim));
  c->table.require_disjoint_from(env, c->out, "out");
  require_disjoint(env, c->out, "out", c->indices_view, "indices");
  require_disjoint(env, c->out, "out", c->bounds.view, c->bounds.name);
  require_disjoint(env, c->out, "out", c->weights_view, "weights");
  if (!is_absent(info[9])) {
    // returnArgmax: the winning ids (a hashed bag's: the rows they hashed to), bags x dim, as
    // Int32, so they must fit.
    if (a.mode != PoolMode::Max) throw_type_error(env, "returnArgmax needs mode 'max'");
    const int64_t winners = a.table.hashed ? a.table.rows : rows;
    if (winners > INT32_MAX) {
      throw_range_error(env, "returnArgmax needs a table of at most 2147483647 rows, got " +
                                 std::to_string(winners));
    }
    c->argmax = get_typed_array(env, info[9], "argmax", napi_int32_array, "Int32Array");
    if (c->argmax.length != bags * dim) {
      throw_range_error(env, "argmax.length must be " + std::to_string(bags * dim) + " (" +
                                 std::to_string(bags) + " bags x dim " + std::to_string(dim) +
                                 "), got " + std::to_string(c->argmax.length));
    }
    c->table.require_disjoint_from(env, c->argmax, "argmax");
    for (const auto& [view, name] : {std::pair{&c->indices_view, "indices"},
                                     std::pair{&c->bounds.view, c->bounds.name},
                                     std::pair{&c->out, "out"}}) {
      require_disjoint(env, c->argmax, "argmax", *view, name);
    }
  }
  a.out = static_cast<float*>(c->out.data);
  return c;
}

Napi::Value Gather(const Napi::CallbackInfo& info) {
  GatherCall c = prepare_gather(info);
  c.run();
  return c.out.value;
}

Napi::Value GatherAsync(const Napi::CallbackInfo& info) {
  GatherCall c = prepare_gather(info);
  std::vector<HeldArray> held = c.table.held();
  held.push_back({"indices", c.indices_view.value});
  held.push_back({"out", c.out.value});
  return KernelWorker::Start(info.Env(), "gatherAsync", [c] { c.run(); }, c.out.value, held);
}

Napi::Value EmbeddingBag(const Napi::CallbackInfo& info) {
  std::unique_ptr<BagCall> c = prepare_bag(info);
  c->run();
  return c->out.value;
}

Napi::Value EmbeddingBagAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<BagCall> c = prepare_bag(info);
  // The call object (with any lengths-derived bounds) lives on the heap until the worker ends.
  std::vector<HeldArray> held = c->table.held();
  held.push_back({"indices", c->indices_view.value});
  held.push_back({c->bounds.name, c->bounds.view.value});
  held.push_back({"out", c->out.value});
  if (c->weights_view.present) held.push_back({"weights", c->weights_view.value});
  if (c->argmax.present) held.push_back({"argmax", c->argmax.value});
  return KernelWorker::Start(info.Env(), "embeddingBagAsync", [c] { c->run(); }, c->out.value,
                             held);
}

}  // namespace

void register_gather(Napi::Env env, Napi::Object exports) {
  exports.Set("gather", Napi::Function::New(env, Gather, "gather"));
  exports.Set("gatherAsync", Napi::Function::New(env, GatherAsync, "gatherAsync"));
  exports.Set("embeddingBag", Napi::Function::New(env, EmbeddingBag, "embeddingBag"));
  exports.Set("embeddingBagAsync",
              Napi::Function::New(env, EmbeddingBagAsync, "embeddingBagAsync"));
}

}  // namespace embedkit::binding
