// The rows a max pooling's argmax names, and each entry's winner as a slot among them: what
// the sparse max backward needs to reuse the dense column kernel on a compact output, without
// sorting the num_bags x dim entries (scatter.h, index_winners).
#include <algorithm>

#include "../common/isa.h"
#include "../common/parallel.h"
#include "../common/target.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

// Entries per task of the marking and slot passes: a few random bit reads each.
constexpr int64_t kMinEntriesPerTask = 1 << 15;
// A bitmap of the row range (1 bit per row, plus a 64-bit prefix per 64 rows) is used while it
// is at most this many rows per entry, i.e. no bigger than twice the argmax itself; past that
// (a huge, sparsely hit table) the entries are sorted instead, which costs nothing per row.
constexpr int64_t kBitmapRowsPerEntry = 64;

// The marking pass gives each task a bitmap of its own while all of them together take at
// most this much memory: no locked writes and no bitmap line bounced between cores, then the
// bitmaps ORed word by word in parallel. C++ harness, the bench's sparse max backward argmax
// (16,384 bags x 128 columns, each won by one of its bag's 32 uniform rows of 1 M; 8 tasks on
// 2 threads), medians of 15, three alternations, 2026-11-28: index_winners 8.9-9.0 ms with
// one shared bitmap, 6.2-6.4 with private ones.
constexpr int64_t kPrivateBitmapBytes = int64_t{16} << 20;

// The POPCNT instruction where kPopcnt (x86 paths past scalar, whose CPUs have it:
// CpuFeatures::has_avx2_path); otherwise the compiler's popcount, which the base-ISA x86 build
// makes a libgcc call. The slot pass does one per entry: 2 M entries (the bench's argmax)
// took 3.6 ms on two threads with the call, 1.8 with the instruction (C++ harness,
// 2026-11-29).
template <bool kPopcnt>
inline int popcount64(uint64_t v) {
#if defined(EMBEDKIT_X86_64)
  if constexpr (kPopcnt) {
    uint64_t count;
    __asm__("popcntq %1, %0" : "=r"(count) : "rm"(v) : "cc");
    return static_cast<int>(count);
  }
#endif
  return __builtin_popcountll(v);
}

// Bit r of the result is set when some entry names row r. Integer OR commutes, so the bitmap
// is the same however the entries are split.
std::vector<uint64_t> mark_rows(const int32_t* argmax, int64_t entries, int64_t words,
                                int64_t tasks) {
  auto slice = [&](int64_t t, auto&& mark) {
    for (int64_t k = entries * t / tasks; k < entries * (t + 1) / tasks; ++k) {
      if (argmax[k] >= 0) mark(argmax[k]);
    }
  };
  std::vector<uint64_t> hit(static_cast<size_t>(words), 0);
  if (tasks == 1 || tasks * words * 8 > kPrivateBitmapBytes) {
    // One shared bitmap; the plain read first skips the atomic (a locked cache-line write)
    // for rows already marked.
    parallel_for(tasks, [&](int64_t t) {
      slice(t, [&](int32_t row) {
        uint64_t* word = &hit[static_cast<size_t>(row >> 6)];
        const uint64_t bit = uint64_t{1} << (row & 63);
        if ((__atomic_load_n(word, __ATOMIC_RELAXED) & bit) == 0) {
          __atomic_fetch_or(word, bit, __ATOMIC_RELAXED);
        }
      });
    });
    return hit;
  }
  std::vector<uint64_t> own(static_cast<size_t>(tasks * words), 0);
  parallel_for(tasks, [&](int64_t t) {
    uint64_t* mine = own.data() + t * words;
    slice(t, [&](int32_t row) { mine[row >> 6] |= uint64_t{1} << (row & 63); });
  });
  const int64_t word_tasks = task_count_for(words, kMinEntriesPerTask / 8);
  parallel_for(word_tasks, [&](int64_t t) {
    for (int64_t w = words * t / word_tasks; w < words * (t + 1) / word_tasks; ++w) {
      uint64_t any = 0;
      for (int64_t u = 0; u < tasks; ++u) any |= own[static_cast<size_t>(u * words + w)];
      hit[static_cast<size_t>(w)] = any;
    }
  });
  return hit;
}

template <bool kPopcnt>
void index_by_bitmap(const int32_t* argmax, int64_t entries, int64_t num_rows, Winners* out) {
  const int64_t words = (num_rows + 63) / 64;
  const int64_t tasks = task_count_for(entries, kMinEntriesPerTask);
  std::vector<uint64_t> hit = mark_rows(argmax, entries, words, tasks);
  // Slot of a row = marked rows before it: a prefix count per word plus a popcount within it.
  std::vector<int64_t> before(static_cast<size_t>(words) + 1, 0);
  for (int64_t w = 0; w < words; ++w) before[w + 1] = before[w] + popcount64<kPopcnt>(hit[w]);
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
      slots[k] = static_cast<int32_t>(before[row >> 6] + popcount64<kPopcnt>(hit[row >> 6] & below));
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
    const Isa isa = active_isa();
    const bool popcnt = isa == Isa::Avx2 || isa == Isa::Avx512;
    (popcnt ? index_by_bitmap<true> : index_by_bitmap<false>)(argmax, entries, num_rows, out);
  } else {
    index_by_sorting(argmax, entries, num_rows, out);
  }
}

}  // namespace embedkit::scatter
