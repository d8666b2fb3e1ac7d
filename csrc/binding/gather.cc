// N-API entry points of the gather family: gather, embeddingBag and their Async forms.
// Each call is parsed and fully validated first (types, lengths, index ranges, bag
// boundaries, aliasing); only then is the output touched.
#include <memory>
#include <string>
#include <vector>

#include "../kernels/gather/gather.h"
#include "args.h"
#include "async.h"
#include "family.h"

namespace embedkit::binding {
namespace {

using gather::BagArgs;
using gather::BagCheck;
using gather::BagError;
using gather::PoolMode;
using gather::Table;

struct TableArg {
  ArrayView view;
  Table table;
};

TableArg parse_table(Napi::Env env, const Napi::Value& table_arg, const Napi::Value& dim_arg) {
  TableArg t;
  t.view = get_float32_array(env, table_arg, "table");
  const int64_t dim = get_integer(env, dim_arg, "dim", 1, kMaxSafeInteger);
  if (t.view.length % dim != 0) {
    throw_range_error(env, "table.length " + std::to_string(t.view.length) +
                               " is not a multiple of dim " + std::to_string(dim));
  }
  t.table = Table{static_cast<const float*>(t.view.data), t.view.length / dim, dim};
  return t;
}

void check_index_range(Napi::Env env, const IndexArray& indices, int64_t rows) {
  const int64_t bad = find_index_out_of_range(indices, rows);
  if (bad >= 0) {
    throw_range_error(env, "indices[" + std::to_string(bad) + "] = " +
                               std::to_string(indices.at(bad)) +
                               " is out of range for a table of " + std::to_string(rows) +
                               " rows");
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

// args: table, dim, indices, out?
GatherCall prepare_gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GatherCall c;
  c.table = parse_table(env, info[0], info[1]);
  c.indices_view = get_index_array(env, info[2], "indices", &c.indices);
  check_index_range(env, c.indices, c.table.table.rows);
  const int64_t n = c.indices.length;
  const int64_t dim = c.table.table.dim;
  if (n != 0 && dim > kMaxSafeInteger / n) throw_range_error(env, "indices.length x dim overflows");
  c.out = output_float32(env, info[3], n * dim,
                         "indices.length " + std::to_string(n) + " x dim " + std::to_string(dim));
  require_disjoint(env, c.out, "out", c.table.view, "table");
  require_disjoint(env, c.out, "out", c.indices_view, "indices");
  return c;
}

enum class BoundsKind : int { Offsets = 0, OffsetsWithEnd = 1, Lengths = 2 };

struct BagCall {
  TableArg table;
  ArrayView indices_view, bounds_view, weights_view, out;
  const char* bounds_name = "offsets";
  std::vector<int64_t> bounds_from_lengths;  // set when lengths were given
  BagArgs args;
  void run() const { gather::embedding_bag(args); }
};

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

// args: table, dim, indices, bounds, boundsKind, mode, weights?, paddingIdx?, out?
std::unique_ptr<BagCall> prepare_bag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto c = std::make_unique<BagCall>();
  c->table = parse_table(env, info[0], info[1]);
  BagArgs& a = c->args;
  a.table = c->table.table;
  c->indices_view = get_index_array(env, info[2], "indices", &a.indices);
  const auto kind = static_cast<BoundsKind>(get_integer(env, info[4], "boundsKind", 0, 2));
  const char* bounds_name = kind == BoundsKind::Lengths ? "lengths" : "offsets";
  c->bounds_name = bounds_name;
  IndexArray bounds;
  c->bounds_view = get_index_array(env, info[3], bounds_name, &bounds);
  a.mode = static_cast<PoolMode>(get_integer(env, info[5], "mode", 0, 2));
  const int64_t n = a.indices.length;
  const int64_t rows = a.table.rows;
  const int64_t dim = a.table.dim;

  if (kind == BoundsKind::OffsetsWithEnd && bounds.length == 0) {
    throw_range_error(env, "offsets must have at least one entry with includeLastOffset");
  }
  if (kind == BoundsKind::Lengths) {
    const BagCheck check = gather::offsets_from_lengths(bounds, n, &c->bounds_from_lengths);
    if (check.error != BagError::None) {
      throw_range_error(env, bag_error_message(check, "lengths", bounds, n));
    }
    a.bags.bounds = IndexArray{c->bounds_from_lengths.data(),
                               static_cast<int64_t>(c->bounds_from_lengths.size()),
                               IndexType::Int64};
    a.bags.num_bags = bounds.length;
  } else {
    const bool with_end = kind == BoundsKind::OffsetsWithEnd;
    const BagCheck check = gather::validate_offsets(bounds, with_end, n);
    if (check.error != BagError::None) {
      throw_range_error(env, bag_error_message(check, "offsets", bounds, n));
    }
    a.bags.bounds = bounds;
    a.bags.num_bags = with_end ? bounds.length - 1 : bounds.length;
  }
  a.bags.num_indices = n;

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
  if (!is_absent(info[7])) {
    if (rows == 0) throw_range_error(env, "paddingIdx cannot be used with an empty table");
    int64_t p = get_integer(env, info[7], "paddingIdx", -rows, rows - 1);
    a.padding_idx = p < 0 ? p + rows : p;  // negative counts from the end, as in PyTorch
  }
  check_index_range(env, a.indices, rows);

  const int64_t bags = a.bags.num_bags;
  if (bags != 0 && dim > kMaxSafeInteger / bags) throw_range_error(env, "bags x dim overflows");
  c->out = output_float32(env, info[8], bags * dim,
                          std::to_string(bags) + " bags x dim " + std::to_string(dim));
  require_disjoint(env, c->out, "out", c->table.view, "table");
  require_disjoint(env, c->out, "out", c->indices_view, "indices");
  require_disjoint(env, c->out, "out", c->bounds_view, bounds_name);
  require_disjoint(env, c->out, "out", c->weights_view, "weights");
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
  const std::vector<HeldArray> held{
      {"table", c.table.view.value}, {"indices", c.indices_view.value}, {"out", c.out.value}};
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
  std::vector<HeldArray> held{{"table", c->table.view.value},
                              {"indices", c->indices_view.value},
                              {c->bounds_name, c->bounds_view.value},
                              {"out", c->out.value}};
  if (c->weights_view.present) held.push_back({"weights", c->weights_view.value});
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
