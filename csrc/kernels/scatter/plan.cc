// Stable sorting of positions by key, and the scatter plan built from it.
#include <algorithm>

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
  // Gather (key, position) pairs once, so the passes read keys sequentially.
  std::vector<uint64_t> key(static_cast<size_t>(n));
  std::vector<int64_t> pos(static_cast<size_t>(n));
  int64_t m = 0;
  visit_index_type(keys.type, [&](auto tag) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(tag)>>;
    const T* k = static_cast<const T*>(keys.data);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = static_cast<int64_t>(k[i]);
      if (v == skip) continue;
      key[static_cast<size_t>(m)] = static_cast<uint64_t>(v);
      pos[static_cast<size_t>(m)] = i;
      ++m;
    }
  });
  key.resize(static_cast<size_t>(m));
  pos.resize(static_cast<size_t>(m));
  const int bits = bit_width(limit > 0 ? static_cast<uint64_t>(limit - 1) : 0);
  // One counting pass over the whole key when its range is small next to the data (a
  // counter per key is cheap then); otherwise LSD radix passes of equal width.
  int passes, digit_bits;
  if (bits <= kRadixBits || (int64_t{1} << bits) <= 2 * m + 65536) {
    passes = bits == 0 ? 0 : 1;
    digit_bits = bits;
  } else {
    passes = (bits + kRadixBits - 1) / kRadixBits;
    digit_bits = (bits + passes - 1) / passes;
  }
  std::vector<uint64_t> key2(static_cast<size_t>(passes > 1 ? m : 0));
  std::vector<int64_t> pos2(static_cast<size_t>(passes > 0 ? m : 0));
  std::vector<int64_t> count;
  for (int pass = 0; pass < passes; ++pass) {
    const int shift = pass * digit_bits;
    const uint64_t mask = (uint64_t{1} << digit_bits) - 1;
    count.assign(static_cast<size_t>(mask) + 2, 0);
    for (int64_t i = 0; i < m; ++i) ++count[((key[i] >> shift) & mask) + 1];
    for (size_t d = 1; d < count.size(); ++d) count[d] += count[d - 1];
    const bool last = pass + 1 == passes;
    for (int64_t i = 0; i < m; ++i) {
      const int64_t to = count[(key[i] >> shift) & mask]++;
      pos2[to] = pos[i];
      if (!last) key2[to] = key[i];
    }
    pos.swap(pos2);
    if (!last) key.swap(key2);
  }
  *order = std::move(pos);
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
  plan->rows.clear();
  plan->bounds.clear();
  const int64_t m = static_cast<int64_t>(plan->order.size());
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

}  // namespace embedkit::scatter
