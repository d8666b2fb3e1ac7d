// Stable sorting of positions by key, and the scatter plan built from it.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "scatter.h"

namespace embedkit::scatter {
namespace {

constexpr int kRadixBits = 11;  // 2048 counters: one pass's histogram stays in L1

int bit_width(uint64_t v) {
  int bits = 0;
  while (v != 0) {
    ++bits;
    v >>= 1;
  }
  return bits;
}

}  // namespace

void stable_order_by_key(const IndexArray& keys, int64_t limit, int64_t skip,
                         std::vector<int64_t>* order) {
  const int64_t n = keys.length;
  const int bits = bit_width(limit > 0 ? static_cast<uint64_t>(limit - 1) : 0);
  std::vector<int64_t> count;
  visit_index_type(keys.type, [&](auto tag) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(tag)>>;
    const T* k = static_cast<const T*>(keys.data);
    // A small key range next to the data: one counting pass straight from the caller's keys
    // (a counter per key is cheap then, and nothing else is copied).
    if (bits <= kRadixBits || (int64_t{1} << bits) <= 2 * n + 65536) {
      count.assign(static_cast<size_t>(int64_t{1} << bits) + 1, 0);
      int64_t m = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = static_cast<int64_t>(k[i]);
        if (v == skip) continue;
        ++count[static_cast<size_t>(v) + 1];
        ++m;
      }
      for (size_t d = 1; d < count.size(); ++d) count[d] += count[d - 1];
      order->resize(static_cast<size_t>(m));
      int64_t* out = order->data();
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = static_cast<int64_t>(k[i]);
        if (v != skip) out[count[static_cast<size_t>(v)]++] = i;
      }
      return;
    }
    // Otherwise LSD radix passes of equal width over (key, position) pairs gathered once, so
    // the passes read keys sequentially and no O(limit) memory is spent.
    std::vector<uint64_t> key;
    std::vector<int64_t> pos;
    key.reserve(static_cast<size_t>(n));
    pos.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = static_cast<int64_t>(k[i]);
      if (v == skip) continue;
      key.push_back(static_cast<uint64_t>(v));
      pos.push_back(i);
    }
    const int64_t m = static_cast<int64_t>(key.size());
    const int passes = (bits + kRadixBits - 1) / kRadixBits;
    const int digit_bits = (bits + passes - 1) / passes;
    std::vector<uint64_t> key2(static_cast<size_t>(m));
    std::vector<int64_t> pos2(static_cast<size_t>(m));
    for (int pass = 0; pass < passes; ++pass) {
      const int shift = pass * digit_bits;
      const uint64_t mask = (uint64_t{1} << digit_bits) - 1;
      count.assign(static_cast<size_t>(mask) + 2, 0);
      for (int64_t i = 0; i < m; ++i) ++count[((key[i] >> shift) & mask) + 1];
      for (size_t d = 1; d < count.size(); ++d) count[d] += count[d - 1];
      for (int64_t i = 0; i < m; ++i) {
        const int64_t to = count[(key[i] >> shift) & mask]++;
        pos2[to] = pos[i];
        key2[to] = key[i];
      }
      pos.swap(pos2);
      key.swap(key2);
    }
    *order = std::move(pos);
  });
}

gather::Bags Plan::segments() const {
  gather::Bags bags;
  bags.bounds = IndexArray{bounds.data(), static_cast<int64_t>(bounds.size()), IndexType::Int64};
  bags.num_bags = num_segments();
  bags.num_indices = static_cast<int64_t>(order.size());
  return bags;
}

void build_plan(const IndexArray& indices, int64_t num_rows, int64_t skip, Plan* plan) {
  plan->num_rows = num_rows;
  plan->num_indices = indices.length;
  stable_order_by_key(indices, num_rows, skip, &plan->order);
  const int64_t m = static_cast<int64_t>(plan->order.size());
  plan->rows.clear();
  plan->bounds.clear();
  plan->rows.reserve(static_cast<size_t>(m));
  plan->bounds.reserve(static_cast<size_t>(m) + 1);
  int64_t previous = -1;
  for (int64_t k = 0; k < m; ++k) {
    const int64_t row = indices.at(plan->order[k]);
    if (row != previous) {
      plan->rows.push_back(row);
      plan->bounds.push_back(k);
      previous = row;
    }
  }
  plan->bounds.push_back(m);
}

int64_t find_plan_mismatch(const Plan& plan, const IndexArray& indices) {
  if (plan.num_indices != indices.length || static_cast<int64_t>(plan.order.size()) != indices.length) {
    return 0;
  }
  for (int64_t u = 0; u < plan.num_segments(); ++u) {
    for (int64_t k = plan.bounds[u]; k < plan.bounds[u + 1]; ++k) {
      const int64_t p = plan.order[k];
      if (indices.at(p) != plan.rows[u]) return p;
    }
  }
  return -1;
}

void plan_without_row(const Plan& plan, int64_t row, Plan* out) {
  out->num_rows = plan.num_rows;
  out->num_indices = plan.num_indices;
  const auto it = std::lower_bound(plan.rows.begin(), plan.rows.end(), row);
  if (it == plan.rows.end() || *it != row) {
    *out = plan;
    return;
  }
  const size_t u = static_cast<size_t>(it - plan.rows.begin());
  const int64_t begin = plan.bounds[u], end = plan.bounds[u + 1];
  out->rows = plan.rows;
  out->rows.erase(out->rows.begin() + static_cast<std::ptrdiff_t>(u));
  out->order.assign(plan.order.begin(), plan.order.begin() + begin);
  out->order.insert(out->order.end(), plan.order.begin() + end, plan.order.end());
  out->bounds.assign(plan.bounds.begin(), plan.bounds.begin() + static_cast<std::ptrdiff_t>(u));
  for (size_t v = u + 1; v < plan.bounds.size(); ++v) out->bounds.push_back(plan.bounds[v] - (end - begin));
}

}  // namespace embedkit::scatter
