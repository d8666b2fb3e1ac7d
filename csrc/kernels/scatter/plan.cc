// Stable sorting of positions by key, and the scatter plan built from it.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "../common/parallel.h"
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


// The parallel build's shape: a key is split into a bucket (its high bits) and a low part of
// at most kLowBits bits. One stable pass moves the positions into their buckets (a histogram
// per slice of positions, so each slice writes its own part of every bucket: positions stay
// in index order); each bucket is then counting-sorted by its low part with counters that
// fit in L1, independently of the others.
constexpr int kLowBits = 12;
constexpr int kMaxBucketBits = 16;
// Below this many positions the serial sort is as fast (its counters stay cached).
constexpr int64_t kMinParallelSort = int64_t{1} << 15;
constexpr int64_t kMinPositionsPerSlice = int64_t{1} << 15;
// A bucket with fewer positions than 1 / kFewPerCounter of its counters is sorted directly.
constexpr int64_t kFewPerCounter = 8;

bool parallel_regime(int64_t n, int bits) {
  return n >= kMinParallelSort && bits > kLowBits && bits <= kLowBits + kMaxBucketBits;
}

// Positions of `indices` not holding `skip`, stably sorted by index, into *order; with
// `segments`, also its rows and bounds (a plan's). Keys have `bits` bits, kLowBits <
// bits <= kLowBits + kMaxBucketBits.
void stable_order_parallel(const IndexArray& indices, int64_t skip, int bits,
                           LargeArray<int64_t>* order, Plan* segments) {
  const int64_t n = indices.length;
  const int low_bits = kLowBits;
  const int64_t buckets = int64_t{1} << (bits - low_bits);
  const uint32_t low_mask = (uint32_t{1} << low_bits) - 1;
  const int64_t slices = task_count_for(n, kMinPositionsPerSlice);
  // start[t * buckets + b]: where slice t's positions of bucket b go.
  std::vector<int64_t> start(static_cast<size_t>(slices * buckets), 0);
  auto slice_begin = [&](int64_t t) { return n * t / slices; };
  visit_index_type(indices.type, [&](auto tag) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(tag)>>;
    const T* key = static_cast<const T*>(indices.data);
    parallel_for(slices, [&](int64_t t) {
      int64_t* count = start.data() + t * buckets;
      for (int64_t i = slice_begin(t); i < slice_begin(t + 1); ++i) {
        const int64_t v = static_cast<int64_t>(key[i]);
        if (v != skip) ++count[v >> low_bits];
      }
    });
    int64_t total = 0;  // exclusive prefix in (bucket, slice) order
    for (int64_t b = 0; b < buckets; ++b) {
      for (int64_t t = 0; t < slices; ++t) {
        const int64_t c = start[t * buckets + b];
        start[t * buckets + b] = total;
        total += c;
      }
    }
    std::vector<int64_t> bucket_end(static_cast<size_t>(buckets));
    for (int64_t b = 0; b < buckets; ++b) {
      bucket_end[b] = b + 1 < buckets ? start[b + 1] : total;  // slice 0 of bucket b + 1
    }
    // Positions and low keys in bucket order, each bucket in index order.
    LargeArray<int64_t> moved(static_cast<size_t>(total));
    LargeArray<uint32_t> low(static_cast<size_t>(total));
    parallel_for(slices, [&](int64_t t) {
      int64_t* next = start.data() + t * buckets;
      for (int64_t i = slice_begin(t); i < slice_begin(t + 1); ++i) {
        const int64_t v = static_cast<int64_t>(key[i]);
        if (v == skip) continue;
        const int64_t to = next[v >> low_bits]++;
        moved[to] = i;
        low[to] = static_cast<uint32_t>(v) & low_mask;
      }
    });
    // Each bucket counting-sorted by its low key into the plan's order; sorted low keys kept
    // for the segment pass, and each bucket's count of distinct rows.
    (*order).resize(static_cast<size_t>(total));
    LargeArray<uint32_t> sorted_low(segments != nullptr ? static_cast<size_t>(total) : 0);
    const bool keep_low = segments != nullptr;
    std::vector<int64_t> distinct(static_cast<size_t>(buckets) + 1, 0);
    auto bucket_begin = [&](int64_t b) { return b == 0 ? int64_t{0} : bucket_end[b - 1]; };
    const int64_t groups = task_count_for(total, kMinPositionsPerSlice);
    parallel_for(groups, [&](int64_t g) {
      std::vector<int64_t> count(static_cast<size_t>(low_mask) + 2);
      std::vector<int64_t> few;
      for (int64_t b = buckets * g / groups; b < buckets * (g + 1) / groups; ++b) {
        const int64_t s = bucket_begin(b), e = bucket_end[b];
        if (s == e) continue;
        if ((e - s) * kFewPerCounter < static_cast<int64_t>(count.size())) {
          // Few positions for the counters (a table much larger than the batch): a stable
          // sort of just these, so the work stays O(n log) however many rows there are.
          few.resize(static_cast<size_t>(e - s));
          for (int64_t k = s; k < e; ++k) few[k - s] = k;
          std::stable_sort(few.begin(), few.end(), [&](int64_t x, int64_t y) { return low[x] < low[y]; });
          int64_t rows = 0;
          for (int64_t j = 0; j < e - s; ++j) {
            const int64_t k = few[j];
            rows += j == 0 || low[k] != low[few[j - 1]];
            (*order)[s + j] = moved[k];
            if (keep_low) sorted_low[s + j] = low[k];
          }
          distinct[b + 1] = rows;
          continue;
        }
        std::fill(count.begin(), count.end(), 0);
        for (int64_t k = s; k < e; ++k) ++count[low[k] + 1];
        int64_t rows = 0;
        for (size_t d = 1; d < count.size(); ++d) {
          rows += count[d] != 0;
          count[d] += count[d - 1];
        }
        distinct[b + 1] = rows;
        for (int64_t k = s; k < e; ++k) {
          const int64_t to = s + count[low[k]]++;
          (*order)[to] = moved[k];
          if (keep_low) sorted_low[to] = low[k];
        }
      }
    });
    if (segments == nullptr) return;
    for (int64_t b = 0; b < buckets; ++b) distinct[b + 1] += distinct[b];
    segments->rows.resize(static_cast<size_t>(distinct[buckets]));
    segments->bounds.resize(static_cast<size_t>(distinct[buckets]) + 1);
    parallel_for(groups, [&](int64_t g) {
      for (int64_t b = buckets * g / groups; b < buckets * (g + 1) / groups; ++b) {
        int64_t u = distinct[b];
        int64_t previous = -1;
        for (int64_t k = bucket_begin(b); k < bucket_end[b]; ++k) {
          if (sorted_low[k] == previous) continue;
          previous = sorted_low[k];
          segments->rows[u] = (b << low_bits) | sorted_low[k];
          segments->bounds[u] = k;
          ++u;
        }
      }
    });
    segments->bounds.back() = total;
  });
}

}  // namespace

void stable_order_by_key(const IndexArray& keys, int64_t limit, int64_t skip,
                         LargeArray<int64_t>* order) {
  const int64_t n = keys.length;
  const int bits = bit_width(limit > 0 ? static_cast<uint64_t>(limit - 1) : 0);
  if (parallel_regime(n, bits)) return stable_order_parallel(keys, skip, bits, order, nullptr);
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
    LargeArray<uint64_t> key;
    LargeArray<int64_t> pos;
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
    LargeArray<uint64_t> key2(static_cast<size_t>(m));
    LargeArray<int64_t> pos2(static_cast<size_t>(m));
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

namespace {

// The serial build: a stable order, then one pass for the segments. Small inputs, small or
// very large key ranges.
void build_plan_serial(const IndexArray& indices, int64_t skip, Plan* plan) {
  stable_order_by_key(indices, plan->num_rows, skip, &plan->order);
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

}  // namespace

void build_plan(const IndexArray& indices, int64_t num_rows, int64_t skip, Plan* plan) {
  plan->num_rows = num_rows;
  plan->num_indices = indices.length;
  const int bits = bit_width(num_rows > 0 ? static_cast<uint64_t>(num_rows - 1) : 0);
  if (parallel_regime(indices.length, bits)) {
    stable_order_parallel(indices, skip, bits, &plan->order, plan);
  } else {
    build_plan_serial(indices, skip, plan);
  }
}

int64_t find_plan_mismatch(const Plan& plan, const IndexArray& indices) {
  if (plan.num_indices != indices.length || static_cast<int64_t>(plan.order.size()) != indices.length) {
    return 0;
  }
  // Tasks check equal runs of segments; the first mismatch in plan order is reported
  // whichever task finds it, so the answer does not depend on the thread count.
  const int64_t segments = plan.num_segments();
  const int64_t tasks = task_count_for(indices.length, kMinPositionsPerSlice);
  std::vector<int64_t> first_bad(static_cast<size_t>(tasks), -1);
  visit_index_type(indices.type, [&](auto tag) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(tag)>>;
    const T* key = static_cast<const T*>(indices.data);
    parallel_for(tasks, [&](int64_t t) {
      for (int64_t u = segments * t / tasks; u < segments * (t + 1) / tasks; ++u) {
        for (int64_t k = plan.bounds[u]; k < plan.bounds[u + 1]; ++k) {
          const int64_t p = plan.order[k];
          if (static_cast<int64_t>(key[p]) != plan.rows[u]) {
            first_bad[t] = p;
            return;
          }
        }
      }
    });
  });
  for (const int64_t p : first_bad) {
    if (p >= 0) return p;
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
