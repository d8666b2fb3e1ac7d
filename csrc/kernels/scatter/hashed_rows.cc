// A hashed bag's ids turned into the table rows they read, padding dropped (scatter.h
// HashedRows), so that the plain embedding_bag backward over them is the hashed bag's.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/parallel.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

// Hashing an id costs a few multiplies: below this many a task is not worth a hand-off.
constexpr int64_t kMinIdsPerTask = 1 << 15;

// Positions [p0, p1) to rows (and weights) from `base` on, padding skipped; bag starts that
// fall in the range get their compacted position. Returns how many positions were kept.
template <class Row, class Id>
int64_t compact_range(const Id* ids, const HashedRowsArgs& a, int64_t p0, int64_t p1, int64_t base,
                      Row* rows, float* weights, int64_t* starts) {
  const bool skip = a.padding_id >= 0;
  const auto padding = static_cast<uint64_t>(a.padding_id);
  // Bags that start in [p0, p1): the first is the first bag starting at or after p0.
  int64_t bag = starts != nullptr ? gather::first_bag_with_cost(a.bags, p0, 0) : a.bags.num_bags;
  int64_t kept = base;
  for (int64_t p = p0; p < p1; ++p) {
    for (; bag < a.bags.num_bags && a.bags.start(bag) == p; ++bag) starts[bag] = kept;
    const auto id = static_cast<uint64_t>(ids[p]);  // validated non-negative
    if (skip && id == padding) continue;
    if (rows != nullptr) {
      rows[kept] = static_cast<Row>(gather::hashed_row(id, a.seed, a.table_rows));
      if (weights != nullptr) weights[kept] = a.weights[p];
    }
    ++kept;
  }
  return kept - base;
}

template <class Row>
void hash_rows_as(const HashedRowsArgs& a, LargeArray<Row>* rows, HashedRows* out) {
  const int64_t n = a.ids.length;
  const int64_t tasks = task_count_for(n, kMinIdsPerTask);
  visit_index_type(a.ids.type, [&](auto typed) {
    using Id = std::remove_const_t<std::remove_pointer_t<decltype(typed)>>;
    const Id* ids = static_cast<const Id*>(a.ids.data);
    auto range = [&](int64_t t, int64_t& p0, int64_t& p1) {
      p0 = n * t / tasks;
      p1 = n * (t + 1) / tasks;
    };
    // Pass 1, with padding only: how many positions each task keeps, so each knows where its
    // run starts in the compacted arrays.
    std::vector<int64_t> base(static_cast<size_t>(tasks) + 1, 0);
    if (a.padding_id >= 0) {
      parallel_for(tasks, [&](int64_t t) {
        int64_t p0, p1;
        range(t, p0, p1);
        base[t + 1] = compact_range<Row, Id>(ids, a, p0, p1, 0, nullptr, nullptr, nullptr);
      });
      for (int64_t t = 0; t < tasks; ++t) base[t + 1] += base[t];
    } else {
      for (int64_t t = 0; t < tasks; ++t) {
        int64_t p0, p1;
        range(t, p0, p1);
        base[t + 1] = base[t] + (p1 - p0);
      }
    }
    const int64_t kept = base[tasks];
    rows->resize(static_cast<size_t>(kept));
    if (a.weights != nullptr) out->weights.resize(static_cast<size_t>(kept));
    // Every bag start, the end of the last one included (bags that start at n end there too).
    out->starts.assign(static_cast<size_t>(a.bags.num_bags) + 1, kept);
    parallel_for(tasks, [&](int64_t t) {
      int64_t p0, p1;
      range(t, p0, p1);
      compact_range<Row, Id>(ids, a, p0, p1, base[t], rows->data(),
                             a.weights != nullptr ? out->weights.data() : nullptr, out->starts.data());
    });
  });
}

}  // namespace

void hash_rows(const HashedRowsArgs& a, HashedRows* out) {
  out->wide = a.table_rows > INT32_MAX;
  if (out->wide) {
    out->rows32.clear();
    hash_rows_as<int64_t>(a, &out->rows64, out);
  } else {
    out->rows64.clear();
    hash_rows_as<int32_t>(a, &out->rows32, out);
  }
}

IndexArray HashedRows::rows() const {
  return wide ? IndexArray{rows64.data(), static_cast<int64_t>(rows64.size()), IndexType::Int64}
              : IndexArray{rows32.data(), static_cast<int64_t>(rows32.size()), IndexType::Int32};
}

gather::Bags HashedRows::bags() const {
  gather::Bags b;
  b.bounds = IndexArray{starts.data(), static_cast<int64_t>(starts.size()), IndexType::Int64};
  b.num_bags = static_cast<int64_t>(starts.size()) - 1;
  b.num_indices = rows().length;
  return b;
}

}  // namespace embedkit::scatter
