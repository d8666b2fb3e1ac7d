// The rows a max pooling's argmax names, and each entry's winner as a slot among them: what
// the sparse max backward needs to reuse the dense column kernel on a compact output, without
// sorting the num_bags x dim entries (scatter.h, index_winners).
#include <algorithm>

#include "../common/parallel.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

// Entries per task of the marking and slot passes: a few random bit reads each.
constexpr int64_t kMinEntriesPerTask = 1 << 15;
// A bitmap of the row range (1 bit per row, plus a 64-bit prefix per 64 rows) is used while it
// is at most this many rows per entry, i.e. no bigger than twice the argmax itself; past that
// (a huge, sparsely hit table) the entries are sorted instead, which costs nothing per row.
constexpr int64_t kBitmapRowsPerEntry = 64;

inline int popcount64(uint64_t v) { return __builtin_popcountll(v); }

void index_by_bitmap(const int32_t* argmax, int64_t entries, int64_t num_rows, Winners* out) {
  const int64_t words = (num_rows + 63) / 64;
  std::vector<uint64_t> hit(static_cast<size_t>(words), 0);
  const int64_t tasks = task_count_for(entries, kMinEntriesPerTask);
  // Integer OR commutes, so the bitmap is the same whichever task sets a bit first. The plain
  // read first skips the atomic (a locked cache-line write) for rows already marked.
  parallel_for(tasks, [&](int64_t t) {
    const int64_t b = entries * t / tasks, e = entries * (t + 1) / tasks;
    for (int64_t k = b; k < e; ++k) {
      const int32_t row = argmax[k];
      if (row < 0) continue;
      uint64_t* word = &hit[static_cast<size_t>(row >> 6)];
      const uint64_t bit = uint64_t{1} << (row & 63);
      if ((__atomic_load_n(word, __ATOMIC_RELAXED) & bit) == 0) {
        __atomic_fetch_or(word, bit, __ATOMIC_RELAXED);
      }
    }
  });
  // Slot of a row = marked rows before it: a prefix count per word plus a popcount within it.
  std::vector<int64_t> before(static_cast<size_t>(words) + 1, 0);
  for (int64_t w = 0; w < words; ++w) before[w + 1] = before[w] + popcount64(hit[w]);
  out->rows.resize(static_cast<size_t>(before[words]));
  int64_t* rows = out->rows.data();
  const int64_t word_tasks = task_count_for(words, kMinEntriesPerTask / 8);
  parallel_for(word_tasks, [&](int64_t t) {
    for (int64_t w = words * t / word_tasks; w < words * (t + 1) / word_tasks; ++w) {
      int64_t u = before[w];
      for (uint64_t bits = hit[w]; bits != 0; bits &= bits - 1) {
        rows[u++] = w * 64 + __builtin_ctzll(bits);
      }
    }
  });
  out->slots.resize(static_cast<size_t>(entries));
  int32_t* slots = out->slots.data();
  parallel_for(tasks, [&](int64_t t) {
    const int64_t b = entries * t / tasks, e = entries * (t + 1) / tasks;
    for (int64_t k = b; k < e; ++k) {
      const int32_t row = argmax[k];
      if (row < 0) {
        slots[k] = -1;
        continue;
      }
      const uint64_t below = (uint64_t{1} << (row & 63)) - 1;
      slots[k] = static_cast<int32_t>(before[row >> 6] + popcount64(hit[row >> 6] & below));
    }
  });
}

void index_by_sorting(const int32_t* argmax, int64_t entries, int64_t num_rows, Winners* out) {
  Plan plan;
  build_plan(IndexArray{argmax, entries, IndexType::Int32}, num_rows, -1, &plan);
  out->slots.assign(static_cast<size_t>(entries), -1);
  for (int64_t u = 0; u < plan.num_segments(); ++u) {
    for (int64_t k = plan.bounds[u]; k < plan.bounds[u + 1]; ++k) {
      out->slots[static_cast<size_t>(plan.order[k])] = static_cast<int32_t>(u);
    }
  }
  out->rows = std::move(plan.rows);
}

}  // namespace

void index_winners(const int32_t* argmax, int64_t entries, int64_t num_rows, Winners* out) {
  if (num_rows <= kBitmapRowsPerEntry * std::max<int64_t>(entries, 1)) {
    index_by_bitmap(argmax, entries, num_rows, out);
  } else {
    index_by_sorting(argmax, entries, num_rows, out);
  }
}

}  // namespace embedkit::scatter
