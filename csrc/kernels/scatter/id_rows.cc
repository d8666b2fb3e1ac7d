// A compressed bag's ids turned into the table rows they read, padding dropped (scatter.h
// IdRows), so that the plain embedding_bag backward over them is the compressed bag's: the
// hashed bag's one row per id, or the quotient-remainder bag's two.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/parallel.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

// Mapping an id costs a few multiplies or a division: below this many a task is not worth a
// hand-off.
constexpr int64_t kMinIdsPerTask = 1 << 15;

// How one id becomes its row(s): writes them at position k of the output arrays; a kept
// padding position gets the sentinel rows (each table's row count) instead.
template <class Row>
struct HashedMap {
  uint64_t seed;
  int64_t table_rows;
  Row* rows;
  void put(int64_t k, uint64_t id) const {
    rows[k] = static_cast<Row>(gather::hashed_row(id, seed, table_rows));
  }
  void put_padding(int64_t k) const { rows[k] = static_cast<Row>(table_rows); }
};
template <class Row>
struct QuotientRemainderMap {
  int64_t quotient_rows;
  uint64_t m;  // the remainder table's rows
  Row* quotient;
  Row* remainder;
  void put(int64_t k, uint64_t id) const {
    quotient[k] = static_cast<Row>(id / m);
    remainder[k] = static_cast<Row>(id % m);
  }
  void put_padding(int64_t k) const {
    quotient[k] = static_cast<Row>(quotient_rows);
    remainder[k] = static_cast<Row>(m);
  }
};

// Positions [p0, p1) to rows (and weights) from `base` on, padding skipped (or kept as the
// sentinel rows); bag starts that fall in the range get their compacted position. map null:
// only counts. Returns how many positions were kept.
template <class Id, class Map>
int64_t compact_range(const Id* ids, const IdRowsArgs& a, int64_t p0, int64_t p1, int64_t base,
                      const Map* map, float* weights, int64_t* starts) {
  const bool skip = a.padding_id >= 0;
  const auto padding = static_cast<uint64_t>(a.padding_id);
  // Bags that start in [p0, p1): the first is the first bag starting at or after p0.
  int64_t bag = starts != nullptr ? gather::first_bag_with_cost(a.bags, p0, 0) : a.bags.num_bags;
  int64_t kept = base;
  for (int64_t p = p0; p < p1; ++p) {
    for (; bag < a.bags.num_bags && a.bags.start(bag) == p; ++bag) starts[bag] = kept;
    const auto id = static_cast<uint64_t>(ids[p]);  // validated non-negative
    const bool pad = skip && id == padding;
    if (pad && !a.keep_padding) continue;
    if (map != nullptr) {
      if (pad) {
        map->put_padding(kept);
      } else {
        map->put(kept, id);
      }
      if (weights != nullptr) weights[kept] = a.weights[p];
    }
    ++kept;
  }
  return kept - base;
}

template <class Row>
void id_rows_as(const IdRowsArgs& a, LargeArray<Row> (&rows)[2], IdRows* out) {
  const int64_t n = a.ids.length;
  const int64_t tasks = task_count_for(n, kMinIdsPerTask);
  const bool two = a.map == IdMap::QuotientRemainder;
  visit_index_type(a.ids.type, [&](auto typed) {
    using Id = std::remove_const_t<std::remove_pointer_t<decltype(typed)>>;
    const Id* ids = static_cast<const Id*>(a.ids.data);
    auto range = [&](int64_t t, int64_t& p0, int64_t& p1) {
      p0 = n * t / tasks;
      p1 = n * (t + 1) / tasks;
    };
    auto each_range = [&](auto&& fn) {
      parallel_for(tasks, [&](int64_t t) {
        int64_t p0, p1;
        range(t, p0, p1);
        fn(t, p0, p1);
      });
    };
    // Pass 1, with padding only: how many positions each task keeps, so each knows where its
    // run starts in the compacted arrays.
    std::vector<int64_t> base(static_cast<size_t>(tasks) + 1, 0);
    if (a.padding_id >= 0 && !a.keep_padding) {
      each_range([&](int64_t t, int64_t p0, int64_t p1) {
        base[t + 1] = compact_range<Id, HashedMap<Row>>(ids, a, p0, p1, 0, nullptr, nullptr, nullptr);
      });
      for (int64_t t = 0; t < tasks; ++t) base[t + 1] += base[t];
    } else {
      for (int64_t t = 0; t < tasks; ++t) base[t + 1] = n * (t + 1) / tasks;
    }
    const int64_t kept = base[tasks];
    rows[0].resize(static_cast<size_t>(kept));
    rows[1].resize(two ? static_cast<size_t>(kept) : 0);
    if (a.weights != nullptr) out->weights.resize(static_cast<size_t>(kept));
    // Every bag start, the end of the last one included (bags that start at n end there too).
    out->starts.assign(static_cast<size_t>(a.bags.num_bags) + 1, kept);
    float* const weights = a.weights != nullptr ? out->weights.data() : nullptr;
    each_range([&](int64_t t, int64_t p0, int64_t p1) {
      if (two) {
        const QuotientRemainderMap<Row> map{a.table_rows, static_cast<uint64_t>(a.remainder_rows), rows[0].data(),
                                            rows[1].data()};
        compact_range(ids, a, p0, p1, base[t], &map, weights, out->starts.data());
      } else {
        const HashedMap<Row> map{a.seed, a.table_rows, rows[0].data()};
        compact_range(ids, a, p0, p1, base[t], &map, weights, out->starts.data());
      }
    });
  });
}

}  // namespace

void id_rows(const IdRowsArgs& a, IdRows* out) {
  const int64_t largest = a.map == IdMap::QuotientRemainder ? std::max(a.table_rows, a.remainder_rows) : a.table_rows;
  out->wide = a.wide || largest > INT32_MAX;
  for (int part = 0; part < 2; ++part) {
    out->rows32[part].clear();
    out->rows64[part].clear();
  }
  if (out->wide) {
    id_rows_as<int64_t>(a, out->rows64, out);
  } else {
    id_rows_as<int32_t>(a, out->rows32, out);
  }
}

IndexArray IdRows::rows(int part) const {
  return wide ? IndexArray{rows64[part].data(), static_cast<int64_t>(rows64[part].size()), IndexType::Int64}
              : IndexArray{rows32[part].data(), static_cast<int64_t>(rows32[part].size()), IndexType::Int32};
}

gather::Bags IdRows::bags() const {
  gather::Bags b;
  b.bounds = IndexArray{starts.data(), static_cast<int64_t>(starts.size()), IndexType::Int64};
  b.num_bags = static_cast<int64_t>(starts.size()) - 1;
  b.num_indices = static_cast<int64_t>(std::max(rows32[0].size(), rows64[0].size()));
  return b;
}

}  // namespace embedkit::scatter
