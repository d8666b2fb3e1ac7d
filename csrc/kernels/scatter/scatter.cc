// Scatter-add, the embedding_bag backward pass and SpMM: the row kernel (body.h) in index or
// plan order, or the gather family's pooling kernels where the plan (or the CSR row pointer)
// makes each destination row a bag (see scatter.h).
#include <cstring>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "../common/kernel_stats.h"
#include "../common/kernel_table.h"
#include "../common/memory.h"
#include "../common/parallel.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

using gather::BagArgs;
using gather::PoolMode;

// Below this many floats a memset is not worth a thread hand-off.
constexpr int64_t kMinFillPerTask = 1 << 16;

void fill_zero(float* out, int64_t n) {
  if (n == 0) return;  // out may be null then, which memset must not get
  const int64_t tasks = task_count_for(n, kMinFillPerTask);
  parallel_for(tasks, [&](int64_t t) {
    const int64_t b = n * t / tasks, e = n * (t + 1) / tasks;
    std::memset(out + b, 0, static_cast<size_t>(e - b) * sizeof(float));
  });
}

size_t float_bytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }

// Below this many floats moved, a task is not worth a thread hand-off (as gather.cc).
constexpr int64_t kMinFloatsPerTask = 8192;
// Indices sampled per range to cut the destination rows into ranges of about equal work
// (quantiles of 256 samples are within ~1/16 of the true ones; the sampling is paid on every
// call, which small calls feel: a sorted sample of 1,024 took a 1,024-row call from ~40 to
// ~75 us).
constexpr int64_t kSplitSamplesPerRange = 256;
// Tasks of the plan-free scatter-add per thread. Every row-range task scans all the indices
// and reads the src rows of its own, so more tasks cost more scans and sparser src reads.
// Two per thread (to even out a thread slowed down) made Zipf(1.1) indices slower on two
// threads than on one: 26.4-27.4 ms against 21.4 with one per thread (524,288 x 128 into
// 1 M rows, AVX-512 VM, npm run bench, 2026-11-27); uniform indices 34.7-35.2 ms either way.
// Under the column split below, 4 or 8 column groups on two threads were slower than 2 as well
// (bench/scatter-probe, 2026-11-28: Zipf 28.5 / 22.9 ms against 19.5, uniform 40-41 against 31).
constexpr int kScatterTasksPerThread = 1;
// Positions a scatter-add task collects before handing them to the kernel: enough for the
// kernel's row prefetch to run ahead (kRowPrefetchDistance in body.h) over most of them,
// 4 KiB of stack.
constexpr int64_t kScatterBatch = 512;

// Two column groups split a row 3 : 1, not evenly. Plain scatterAdd of 524,288 rows into
// 1,000,000 (AVX-512 VM, 2 vCPUs, medians of 11, two sweeps of the cut in one run each,
// 2026-11-28): dim 128 with dst line-aligned, uniform / Zipf(1.1), cut at 64 columns 15.6 /
// 14.1 ms, at 96 14.4 / 12.3; dst 16 bytes into a line (a plain Float32Array), cut at 76
// (the even split's boundary) 19.8 / 18.6, at 108 15.5 / 12.7; dim 64 cut at 32 9.5 / 9.5,
// at 48 6.6 / 5.3; dim 256 cut at 128 36.6 / 33.6, at 192 33.8 / 33.0. Every even split
// measured was the slowest or next to it. Why is not known (bench/NOTES.md); with more than two
// groups (more threads) nothing was measured, so those stay even.
constexpr int64_t kTwoGroupFirstShares = 3;

constexpr int64_t kLineBytes = 64;
constexpr int64_t kLineFloats = kLineBytes / static_cast<int64_t>(sizeof(float));

}  // namespace

// Cuts the columns [0, dim) of rows that start at `rows`, one every dim floats, into at most
// `groups` runs for tasks that each own a run: [0, c1, ..., dim]. The first run is meant to
// hold `first_shares` shares of the row and each other run one; each cut falls on the line
// boundary nearest its target (a lower one on a tie), so no line inside a row is shared by two
// runs. When a row is whole lines (dim % 16 == 0) every row starts at the same phase and the
// boundaries are the row's own: a row that starts `lead` floats before a line boundary shares
// one line with the next row's start, which the first and last runs then share. Otherwise the
// cuts fall every 16 columns from the row's start and runs share a line only where a row
// straddles one.
std::vector<int64_t> line_cuts(const float* rows, int64_t dim, int64_t groups, int64_t first_shares) {
  const int64_t lines = (dim + kLineFloats - 1) / kLineFloats;
  groups = std::max<int64_t>(1, std::min(groups, lines));
  const int64_t misalign = static_cast<int64_t>(reinterpret_cast<uintptr_t>(rows) % kLineBytes);
  const int64_t lead = dim % kLineFloats != 0 ? 0
                       : (kLineBytes - misalign) % kLineBytes / static_cast<int64_t>(sizeof(float));
  // Boundary k is column lead + 16 k; those inside (0, dim) are k = first..last, at least
  // groups - 1 of them.
  const int64_t first = lead > 0 ? 0 : 1, last = (dim - 1 - lead) / kLineFloats;
  std::vector<int64_t> cuts{0};
  int64_t k = first - 1;
  for (int64_t g = 1; g < groups; ++g) {
    const int64_t target = dim * (first_shares + g - 1) / (first_shares + groups - 1);
    const int64_t nearest = std::max<int64_t>(0, target - lead + kLineFloats / 2 - 1) / kLineFloats;
    // Strictly after the previous cut, and leaving a boundary for each cut still to come.
    k = std::min(std::max(nearest, k + 1), last - (groups - 1 - g));
    cuts.push_back(lead + k * kLineFloats);
  }
  cuts.push_back(dim);
  return cuts;
}

namespace {

// Row boundaries at quantiles of a sample of the indices, so that skewed destinations (a hub
// row) still split the work about evenly: range r holds rows [b[r-1], b[r]). Which task owns a
// row never changes the order in which that row's contributions are added, so results do not
// depend on it.
std::vector<int64_t> split_rows(const IndexArray& indices, int64_t ranges) {
  const int64_t n = indices.length;
  const int64_t samples = std::min(n, kSplitSamplesPerRange * ranges);
  std::vector<int64_t> sample(static_cast<size_t>(samples));
  for (int64_t j = 0; j < samples; ++j) sample[j] = indices.at(j * n / samples);
  // Each boundary is a quantile of the sample: selected in turn from what lies above the
  // previous one (no full sort).
  std::vector<int64_t> bounds(static_cast<size_t>(ranges) - 1);
  for (int64_t r = 1; r < ranges; ++r) {
    const auto nth = sample.begin() + r * samples / ranges;
    std::nth_element(sample.begin() + (r - 1) * samples / ranges, nth, sample.end());
    bounds[r - 1] = *nth;
  }
  return bounds;
}

// The plan-free scatter-add splits its work by columns first and by destination rows only
// when there are more tasks than cache lines in a row. A column task walks every position in
// order over its own columns, so each task reads src (and dst) as the same sequence of rows,
// and skewed destinations load every task alike; a row-range task reads only the src rows
// of its own destinations, a random half of them, which the hardware prefetcher follows
// badly (bench/scatter-probe "read interleaved": 13.5 ms against 7.4 for contiguous halves).
// bench/scatter-probe "cols split 16" against the row split, 524,288 rows into 1 M, 2
// threads, medians of 7-9, AVX-512 VM, 2026-11-27 23:58: dim 128 uniform 26.1 vs 31.5 ms,
// Zipf(1.1) 19.2 vs 24.1; dim 32 7.2 vs 10.4; dim 64 16.2 vs 17.3; dim 256 61.2 vs 60.2. The
// shipped kernel split both ways in one run (2026-11-28 00:05): uniform 26.3 vs 29.0 ms,
// Zipf 19.9 vs 23.6. An odd number of lines leaves one task a line more (dim 48: 16 columns
// against 32), and still (01:30): dim 48 uniform 16.5 vs 17.6 ms, Zipf 11.2 vs 13.0; dim 80
// 18.6 vs 23.2, Zipf 11.0 vs 15.5.
//
// Columns are cut at cache-line boundaries of dst (line_cuts), so no two tasks write one line
// of a row. That holds in every row only when a row is whole lines (dim a multiple of 16
// floats); other dims keep the row split: on the 2-vCPU VM a column split with lines shared
// at the cut was still faster (dim 120 / 136), but there both tasks may run on one physical
// core, and on separate cores every row would move its shared line between them.

struct ScatterSplit {
  std::vector<int64_t> columns;  // column groups: group g is [columns[g], columns[g + 1])
  std::vector<int64_t> rows;     // row ranges as split_rows gives them (empty: one range)
  int64_t tasks() const {
    return static_cast<int64_t>(columns.size() - 1) * static_cast<int64_t>(rows.size() + 1);
  }
};

// Up to this much src (indices.length x dim floats), the plan-free scatter-add splits by
// destination rows alone: src then stays in cache, where reading it interleaved costs little,
// and each task does half the positions instead of part of every one. A C++ loop of calls of
// the shipped kernel (2 threads, 1 M x 128 dst, 64 index sets in turn so that dst rows come
// from memory, src reused; medians of 9, two rounds, AVX-512 VM, 2026-11-28): 4,096 rows x
// 128 (2 MiB of src) by rows 193 / 212 us against 233 / 264 by columns (1 thread 301 / 338);
// 16,384 x 128 (8 MiB) 963 / 912 against 1,193 / 1,113; 4,096 x 64 107 / 114 against 158 /
// 133; 16,384 x 64 467 / 471 against 703 / 661; 65,536 x 128 (32 MiB) 4,701 / 4,467 against
// 5,371 / 4,761; 131,072 x 128 and 262,144 x 128 (64, 128 MiB) even, by turns; at the bench's
// 268 MiB the columns won (above). With the same index set every call (dst rows cached too):
// 1,024 x 128 11.4-13.0 us against 19.7-20.6 (1 thread 17.4-19.0).
constexpr int64_t kRowSplitMaxSrcBytes = int64_t{8} << 20;
std::atomic<int64_t> g_row_split_max_src_bytes{kRowSplitMaxSrcBytes};  // tests may change it

ScatterSplit split_scatter(const IndexArray& indices, const float* dst, int64_t dim, int64_t tasks) {
  ScatterSplit split;
  // As many column groups as tasks, up to one per line of a row (1 when rows are not whole
  // lines, or src is small); the 3 : 1 rule goes by the groups there will be, not the tasks
  // asked for.
  const bool small_src = indices.length * dim * static_cast<int64_t>(sizeof(float)) <=
                         g_row_split_max_src_bytes.load(std::memory_order_relaxed);
  const int64_t groups = dim % kLineFloats == 0 && !small_src
                             ? std::max<int64_t>(1, std::min(tasks, dim / kLineFloats))
                             : 1;
  split.columns = line_cuts(dst, dim, groups, groups == 2 ? kTwoGroupFirstShares : 1);
  const int64_t ranges = std::max<int64_t>(1, tasks / groups);
  if (ranges > 1) split.rows = split_rows(indices, ranges);
  return split;
}

}  // namespace

int64_t set_row_split_max_src_bytes(int64_t bytes) {
  return g_row_split_max_src_bytes.exchange(bytes, std::memory_order_relaxed);
}

const Kernels& kernels_for(Isa isa) {
  return select_kernels(isa, reference_kernels(), avx2_kernels, avx512_kernels, neon_kernels);
}

void scatter_add(const IndexArray& indices, int64_t num_rows, const ScatterArgs& a,
                 int64_t skip) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  const int64_t n = indices.length;
  if (n == 0 || a.dim == 0) return;
  const int64_t tasks = std::min(task_count_for(n * a.dim, kMinFloatsPerTask),
                                 int64_t{kScatterTasksPerThread} * thread_count());
  const ScatterSplit split = split_scatter(indices, a.dst, a.dim, tasks);
  const int64_t groups = static_cast<int64_t>(split.columns.size()) - 1;
  // Task t takes column group t % groups of row range t / groups. A task with every row and
  // no row to skip applies all positions directly; the others scan every index and apply, in
  // index order, the positions whose row is theirs, a batch at a time. There is no serial
  // bucketing pass and no n-long position array: rescanning the indices costs a few
  // instructions per index and task, next to the ~150 ns of memory traffic of each random
  // destination row (bench/scatter-probe).
  parallel_for(split.tasks(), [&](int64_t t) {
    const int64_t c0 = split.columns[t % groups], c1 = split.columns[t % groups + 1];
    const int64_t range = t / groups, ranges = static_cast<int64_t>(split.rows.size()) + 1;
    const int64_t lo = range == 0 ? 0 : split.rows[range - 1];
    const int64_t hi = range == ranges - 1 ? num_rows : split.rows[range];
    if (lo >= hi || c0 >= c1) return;
    if (ranges == 1 && skip < 0) {
      k.scatter_rows(a, indices, nullptr, n, c0, c1);
      return;
    }
    int64_t batch[kScatterBatch];
    int64_t m = 0;
    visit_index_type(indices.type, [&](auto tag) {
      using T = std::remove_cv_t<std::remove_pointer_t<decltype(tag)>>;
      const T* idx = static_cast<const T*>(indices.data);
      // Branch-free: each position is written to the batch and kept only when its row is
      // this task's, so random rows cost no mispredicted branch.
      for (int64_t i = 0; i < n; ++i) {
        const int64_t row = static_cast<int64_t>(idx[i]);
        batch[m] = i;
        m += static_cast<int64_t>((row >= lo) & (row < hi) & (row != skip));
        if (m == kScatterBatch) {
          k.scatter_rows(a, indices, batch, m, c0, c1);
          m = 0;
        }
      }
    });
    if (m > 0) k.scatter_rows(a, indices, batch, m, c0, c1);
  });
}

namespace {

// The rows of `indices` (but `skip`) as bits of `touched`, and first[i] = 1 where position i
// is the first to name its row. One pass in index order; a bit per row keeps the bitmap in L2
// (1 M rows: 125 KiB), so the pass is a few ms at most next to the scatter's tens.
void mark_first_touches(const IndexArray& indices, int64_t skip, std::vector<uint64_t>* touched,
                        LargeArray<uint8_t>* first) {
  visit_index_type(indices.type, [&](auto tag) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(tag)>>;
    const T* idx = static_cast<const T*>(indices.data);
    uint64_t* bits = touched->data();
    uint8_t* flag = first->data();
    for (int64_t i = 0; i < indices.length; ++i) {
      const int64_t row = static_cast<int64_t>(idx[i]);
      if (row == skip) {
        flag[i] = 0;
        continue;
      }
      const uint64_t bit = uint64_t{1} << (row & 63);
      flag[i] = (bits[row >> 6] & bit) == 0;
      bits[row >> 6] |= bit;
    }
  });
}

// Below this much dst a zero fill and the adds stay in the last-level cache, where streaming
// stores would send dst to memory for the caller to read back: the sum backward into a kept
// 2 / 8 / 12 MiB out ran 0-27% slower streamed, 16 MiB 6% faster to 31% slower over four
// runs, and 9-61% faster from 24 MiB up (1 M x 128: 2.6x); 2 threads, this VM's 32 MiB L3
// (/tmp A/B of the two builds in one process, 2026-11-29). 24 MiB is 3/4 of that L3, the
// share from which glibc's memset and memcpy stream too; a larger cache would want more.
constexpr int64_t kStreamMinBytes = int64_t{24} << 20;
std::atomic<int64_t> g_stream_min_bytes{kStreamMinBytes};  // tests may change it

// Whether scatter_add_into_zeros streams rows into dst: the kernels stream, dst is large,
// and every row, and so every column group's part of it (line_cuts), is whole aligned
// cache lines.
bool streams_rows(const Kernels& k, const float* dst, int64_t num_rows, int64_t dim) {
  const int64_t bytes = num_rows * dim * static_cast<int64_t>(sizeof(float));
  return k.streams && dim % kLineFloats == 0 && reinterpret_cast<uintptr_t>(dst) % kLineBytes == 0 &&
         bytes >= g_stream_min_bytes.load(std::memory_order_relaxed);
}

}  // namespace

int64_t set_stream_min_bytes(int64_t bytes) {
  return g_stream_min_bytes.exchange(bytes, std::memory_order_relaxed);
}

void scatter_add_into_zeros(const IndexArray& indices, int64_t num_rows, const ScatterArgs& a,
                            int64_t skip, bool dst_is_zero) {
  const Kernels& k = kernels_for(active_isa());
  if (indices.length == 0 || !streams_rows(k, a.dst, num_rows, a.dim)) {
    if (!dst_is_zero) fill_zero(a.dst, num_rows * a.dim);
    scatter_add(indices, num_rows, a, skip);
    return;
  }
  std::vector<uint64_t> touched(static_cast<size_t>((num_rows + 63) / 64), 0);
  LargeArray<uint8_t> first(static_cast<size_t>(indices.length));
  mark_first_touches(indices, skip, &touched, &first);
  if (!dst_is_zero) {
    // Row ranges whose floats fill a task; a range boundary between two rows shares no line.
    const int64_t tasks = task_count_for(num_rows * a.dim, kMinFillPerTask);
    parallel_for(tasks, [&](int64_t t) {
      k.zero_untouched_rows(a.dst, a.dim, touched.data(), num_rows * t / tasks, num_rows * (t + 1) / tasks);
    });
  }
  ScatterArgs onto_zeros = a;
  onto_zeros.first_touch = first.data();
  scatter_add(indices, num_rows, onto_zeros, skip);
}

namespace {

// Applies a plan's contributions in plan order with the plan-free kernel: contribution k goes
// to its segment's row (ascending) from source row a.src_rows[k] (in plan order, not
// position order), scaled by a.weights[k] when set (a.alpha must be 1 then; the kernel
// multiplies by it, which is exact). Each row's contributions stay in index order, so the
// sums are the plan-free form's, bit for bit. The kernel prefetches the random source rows
// for reading and the ascending destination rows for writing, as it does the other way round
// without a plan, and a row's contributions are adjacent: its read-modify-writes after the
// first hit L1. Used where rows mostly differ (pool_plan says which; the pooling kernels
// ran 2-3x slower on uniform indices before they kept their accumulators in registers).
void scatter_in_plan_order(const Plan& plan, const ScatterArgs& a) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  const int64_t m = static_cast<int64_t>(plan.order.size());
  if (m == 0 || a.dim == 0) return;
  LargeArray<int64_t> dst_rows(static_cast<size_t>(m));
  const int64_t segments = plan.num_segments();
  const int64_t tasks = std::min(task_count_for(m * a.dim, kMinFloatsPerTask), segments);
  // Task t owns the segments holding contributions [m t / tasks, m (t + 1) / tasks), moved to
  // segment boundaries: no destination row is split between tasks.
  auto first_segment = [&](int64_t t) {
    if (t == 0) return int64_t{0};
    if (t == tasks) return segments;
    const int64_t target = m * t / tasks;
    return static_cast<int64_t>(std::lower_bound(plan.bounds.begin(), plan.bounds.end() - 1, target) -
                                plan.bounds.begin());
  };
  parallel_for(tasks, [&](int64_t t) {
    const int64_t u0 = first_segment(t), u1 = first_segment(t + 1);
    if (u0 >= u1) return;
    const int64_t k0 = plan.bounds[u0], k1 = plan.bounds[u1];
    for (int64_t u = u0; u < u1; ++u) {
      std::fill(dst_rows.begin() + plan.bounds[u], dst_rows.begin() + plan.bounds[u + 1],
                plan.rows[u]);
    }
    // The kernel numbers positions from 0: shift the views to this task's first one.
    ScatterArgs part = a;
    part.src_rows += k0;
    if (part.weights != nullptr) part.weights += k0;
    const IndexArray rows{dst_rows.data() + k0, k1 - k0, IndexType::Int64};
    k.scatter_rows(part, rows, nullptr, k1 - k0, 0, a.dim);
  });
}

// Plans whose destination rows take at least this many contributions on average are
// applied by the gather family's pooling kernels (pool_segments), the others by the row
// kernel in plan order. Pooling keeps a row's sum in registers and writes the row once,
// which pays where rows repeat; the row kernel prefetches its destination rows for the
// store, which pays where they are mostly distinct. bench/scatter-probe, 524,288 x 128 into
// 1 M rows, medians of 9, 2026-11-27: Zipf(1.1) indices (6.1 per row) pooled 18.6-18.8 ms
// against 21.6-22.1 on 2 threads, 35.0 against 40.0-41.4 on 1 (AVX2 and AVX-512 alike);
// uniform indices (1.3 per row) pooled 2-5% slower on AVX2, 5% faster on AVX-512.
constexpr int64_t kPoolMinContributionsPerRow = 2;

bool pool_plan(const Plan& plan) {
  return static_cast<int64_t>(plan.order.size()) >= kPoolMinContributionsPerRow * plan.num_segments();
}

// Plan segment u as a bag: rows sources[k] of `table` for its contributions k, scaled by
// scales[k] when set, summed in plan order into out row out_rows[u] (u when null), from the
// row's current value (accumulate) or from zero. Each term is the row kernel's operation
// (an add, or fma(scale, row, acc)) in the same order: the same bits.
void pool_segments(const Plan& plan, const gather::Table& table, const int64_t* sources,
                   const float* scales, float* out, const int64_t* out_rows, bool accumulate) {
  BagArgs pool;
  pool.table = table;
  pool.indices = IndexArray{sources, static_cast<int64_t>(plan.order.size()), IndexType::Int64};
  pool.bags = plan.segments();
  pool.mode = PoolMode::Sum;
  pool.weights = scales;
  pool.out = out;
  pool.out_rows = out_rows;
  pool.accumulate = accumulate;
  gather::embedding_bag(pool);
}

// On one thread the plan-free kernel runs a plan's work faster than the plan forms do on
// every shape measured: it reads src in order and the destination rows at random, where a
// plan reads src at random and its destination rows ascending with gaps, two streams of
// misses for the core to keep in flight instead of one. bench/scatter-probe, 1 thread,
// "scatter_add" against "plan scatter_add", 524,288 source rows into 1 M (dim 8: 4 M, dim
// 256: 262,144), uniform / Zipf(1.1) indices, AVX-512 VM, 2026-11-28: dim 8 61.4 / 32.1 ms
// against 68.6 / 55.9; dim 16 6.3 / 6.2 against 11.1 / 8.3; dim 32 16.0 / 6.3 against 23.4 /
// 12.5; dim 64 20.1 / 12.6 against 30.0 / 21.2; dim 128 36.5 / 25.9 against 54.1 / 36.3; dim
// 256 36.5 / 28.2 against 52.0 / 32.3. With the plan's rows put back in index order (a pass over
// the plan) the plan form then took 35.0-35.8 / 25.5-25.7 ms at dim 128 (before: 51.5-54.3
// / 34.8-36.3; two alternations). On two threads the plan forms were as fast or faster
// (dim 16 7.0 / 4.2 ms against 10.0 / 9.0), so they run from two threads on. Both ways give
// the same bits.
bool plan_free_is_faster() { return thread_count() == 1; }

// A dense backward pass with no plan given sorts its indices into one and pools when they
// hold at least this many positions per table row: rows then repeat so often that summing
// each in registers and writing it once beats adding into it once per position, even
// counting the sort (a small key range: one counting pass). A QR bag's backward over two
// 1,000-row tables (524,288 ids x 128, sum; medians of 25, alternated, AVX-512 VM,
// 2026-11-28): 2 threads 16.8 ms pooled against 27.1 plan-free, 1 thread 20.6 against 20.8.
// The embedding backward bench's shape (0.5 positions per row) stays plan-free.
constexpr int64_t kSortMinPositionsPerRow = 8;

}  // namespace

void scatter_add(const Plan& plan, const ScatterArgs& a) {
  if (plan_free_is_faster() && static_cast<int64_t>(plan.order.size()) == plan.num_indices) {
    // The plan's positions back in index order: the destination row of each.
    LargeArray<int64_t> row_of(static_cast<size_t>(plan.num_indices));
    for (int64_t u = 0; u < plan.num_segments(); ++u) {
      for (int64_t k = plan.bounds[u]; k < plan.bounds[u + 1]; ++k) {
        row_of[plan.order[k]] = plan.rows[u];
      }
    }
    scatter_add(IndexArray{row_of.data(), plan.num_indices, IndexType::Int64}, plan.num_rows, a);
    return;
  }
  // The scale of each contribution, alpha * w rounded to float, in plan order.
  std::vector<float> scales;
  if (a.weights != nullptr || a.alpha != 1.0f) {
    scales.resize(plan.order.size());
    for (size_t k = 0; k < scales.size(); ++k) {
      scales[k] = a.weights != nullptr ? a.alpha * a.weights[plan.order[k]] : a.alpha;
    }
  }
  const float* ordered_scales = scales.empty() ? nullptr : scales.data();
  if (pool_plan(plan)) {
    // The source row of a contribution is its position.
    pool_segments(plan, gather::Table{a.src, plan.num_indices, a.dim}, plan.order.data(), ordered_scales,
                  a.dst, plan.rows.data(), true);
    return;
  }
  ScatterArgs ordered = a;
  ordered.src_rows = plan.order.data();  // the source row of a contribution is its position
  ordered.weights = ordered_scales;
  ordered.alpha = 1.0f;
  scatter_in_plan_order(plan, ordered);
}

BagBackward::BagBackward(const BagBackwardArgs& args) : args_(args) {
  if (args.mode == PoolMode::Max) return;  // the argmax plan is built by rows() / run
  const gather::Bags& bags = args.bags;
  // The bag of every position and, with weights or Mean, its scale: PyTorch divides a bag's
  // gradient by its count of non-padding entries; a weighted mean also scales by w.
  bag_of_.resize(static_cast<size_t>(bags.num_indices));
  const bool scaled = args.weights != nullptr || args.mode == PoolMode::Mean;
  if (scaled) scale_.resize(static_cast<size_t>(bags.num_indices));
  for (int64_t b = 0; b < bags.num_bags; ++b) {
    const int64_t begin = bags.start(b), end = bags.end(b);
    int64_t count = 0;
    if (args.mode == PoolMode::Mean) {
      for (int64_t p = begin; p < end; ++p) count += args.indices.at(p) != args.padding_idx;
    }
    const int64_t grad_row = b * args.grad_rows_per_bag + args.grad_row_offset;
    for (int64_t p = begin; p < end; ++p) {
      bag_of_[p] = grad_row;
      if (!scaled) continue;
      const float w = args.weights != nullptr ? args.weights[p] : 1.0f;
      scale_[p] = args.mode == PoolMode::Mean ? w / static_cast<float>(count) : w;
    }
  }
}

const LargeArray<int64_t>& BagBackward::rows() {
  if (args_.mode == PoolMode::Max) {
    if (!winners_ready_) {
      index_winners(args_.argmax, args_.bags.num_bags * args_.dim, args_.num_rows, &winners_);
      winners_ready_ = true;
    }
    return winners_.rows;
  }
  if (plan_ == nullptr) {
    if (args_.plan != nullptr && args_.padding_idx >= 0) {
      plan_without_row(*args_.plan, args_.padding_idx, &own_plan_);
      plan_ = &own_plan_;
    } else if (args_.plan != nullptr) {
      plan_ = args_.plan;
    } else {
      build_plan(args_.indices, args_.num_rows, args_.padding_idx, &own_plan_);
      plan_ = &own_plan_;
    }
  }
  return plan_->rows;
}

bool BagBackward::dense_through_plan(const float* out) const {
  if (args_.factor != nullptr) return factor_pools();
  if (args_.plan == nullptr) return rows_repeat();
  if (plan_free_is_faster()) return false;
  return pool_plan(*args_.plan) || !streams_rows(kernels_for(active_isa()), out, args_.num_rows, args_.dim);
}

void BagBackward::run_dense(float* out) {
  const int64_t floats = args_.num_rows * args_.dim;
  if (args_.mode == PoolMode::Max) {
    // The column walk writes out at random: a fresh out is mapped in first (prefault_zeroed).
    if (args_.out_is_zero) {
      prefault_zeroed(out, float_bytes(floats));
    } else {
      fill_zero(out, floats);
    }
    return run_max_columns(out, args_.argmax);
  }
  if (dense_through_plan(out)) {
    if (!args_.out_is_zero) fill_zero(out, floats);
    return args_.factor != nullptr ? run_factor_pooled(out, true) : run_planned(out, true);
  }
  // A plan-free scatter-add of gradient rows onto zeros: out[indices[p]] += scale_p *
  // grad[bag(p)], in index order per row, the sums the plan form computes, bit for bit.
  scatter_add_into_zeros(args_.indices, args_.num_rows,
                         gradient_rows(out, bag_of_.data(), scale_.empty() ? nullptr : scale_.data()),
                         args_.padding_idx, args_.out_is_zero);
}

ScatterArgs BagBackward::gradient_rows(float* out, const int64_t* src_rows, const float* scales) const {
  ScatterArgs a;
  a.dst = out;
  a.dim = args_.dim;
  a.src = args_.grad;
  a.src_rows = src_rows;
  a.weights = scales;
  a.factor = args_.factor;
  a.factor_rows = args_.factor_rows;
  return a;
}

void BagBackward::run_sparse(float* out) {
  if (args_.mode == PoolMode::Max) {
    // Row u of out is rows()[u]: the same column walk with each winner renamed to its slot,
    // into a fresh array, mapped in first as the dense form's (prefault_zeroed).
    prefault_zeroed(out, float_bytes(static_cast<int64_t>(rows().size()) * args_.dim));
    return run_max_columns(out, winners_.slots.data());
  }
  if (args_.factor != nullptr) return factor_pools() ? run_factor_pooled(out, false) : run_factor_sparse(out);
  run_planned(out, false);
}

bool BagBackward::rows_repeat() const {
  return args_.bags.num_indices >= kSortMinPositionsPerRow * args_.num_rows;
}

bool BagBackward::factor_pools() const {
  const int64_t grad_rows = args_.bags.num_bags * args_.grad_rows_per_bag;
  return rows_repeat() && grad_rows <= INT64_MAX / std::max<int64_t>(1, args_.factor_table_rows);
}

BagBackward::PlanOrder BagBackward::in_plan_order() const {
  const Plan& plan = *plan_;
  const size_t m = plan.order.size();
  const int64_t factor_rows = args_.factor != nullptr ? args_.factor_table_rows : 1;
  PlanOrder o;
  o.sources.resize(m);
  o.scales.resize(scale_.empty() ? 0 : m);
  for (size_t k = 0; k < m; ++k) {
    const int64_t p = plan.order[k];
    o.sources[k] = bag_of_[p] * factor_rows + (args_.factor != nullptr ? args_.factor_rows[p] : 0);
    if (!o.scales.empty()) o.scales[k] = scale_[p];
  }
  return o;
}

void BagBackward::run_factor_pooled(float* out, bool dense) {
  rows();
  const Plan& plan = *plan_;
  const int64_t m = static_cast<int64_t>(plan.order.size());
  const int64_t dim = args_.dim, factor_rows = args_.factor_table_rows;
  // Contribution k of the plan as one id of a QR pair whose quotient table is gradOutput and
  // whose remainder table is the factor: id / factor_rows is its gradient row, id mod
  // factor_rows its factor row, and the 'mul' pooling sums scale_k x grad_row x factor_row.
  const PlanOrder ordered = in_plan_order();
  const int64_t slots = plan.num_segments();
  LargeArray<float> compact(dense ? static_cast<size_t>(slots * dim) : 0);
  gather::QrBagArgs q;
  q.bag.table = gather::Table{args_.grad, args_.bags.num_bags * args_.grad_rows_per_bag, dim};
  q.remainder = gather::Table{args_.factor, factor_rows, dim};
  q.combine = gather::QrCombine::Mul;
  q.bag.indices = IndexArray{ordered.sources.data(), m, IndexType::Int64};
  q.bag.bags = plan.segments();
  q.bag.mode = PoolMode::Sum;
  q.bag.weights = ordered.scale_data();
  q.bag.out = dense ? compact.data() : out;
  if (slots > 0) gather::embedding_qr_bag(q);
  if (!dense) return;
  // Row u to its place: run_dense zeroed the rest.
  const int64_t tasks = task_count_for(slots * dim, kMinFillPerTask);
  parallel_for(tasks, [&](int64_t t) {
    for (int64_t u = slots * t / tasks; u < slots * (t + 1) / tasks; ++u) {
      std::memcpy(out + plan.rows[u] * dim, compact.data() + u * dim, static_cast<size_t>(dim) * sizeof(float));
    }
  });
}

void BagBackward::run_factor_sparse(float* out) {
  rows();
  const Plan& plan = *plan_;
  // The slot of each position's row; a padding position (not in the plan) gets `slots`,
  // which the scatter skips.
  const int64_t slots = plan.num_segments();
  LargeArray<int64_t> slot(static_cast<size_t>(plan.num_indices), slots);
  for (int64_t u = 0; u < slots; ++u) {
    for (int64_t k = plan.bounds[u]; k < plan.bounds[u + 1]; ++k) slot[plan.order[k]] = u;
  }
  // Each slot's contributions in position order, as the dense form adds them: the same bits.
  scatter_add_into_zeros(IndexArray{slot.data(), plan.num_indices, IndexType::Int64}, slots,
                         gradient_rows(out, bag_of_.data(), scale_.empty() ? nullptr : scale_.data()), slots,
                         false);
}

void BagBackward::run_planned(float* out, bool dense) {
  rows();
  // The plan's contributions in plan order: the bag rows to pool and their scales.
  const Plan& plan = *plan_;
  const PlanOrder ordered = in_plan_order();
  const int64_t* src_rows = ordered.sources.data();
  const float* ordered_scales = ordered.scale_data();
  const gather::Table grad{args_.grad, args_.bags.num_bags * args_.grad_rows_per_bag, args_.dim};
  if (!dense) {
    // Sparse: row u of the fresh output is segment u pooled from zero and stored once:
    // 0 + c0 + c1 + ..., the dense form's sums bit for bit. Into a freshly faulted 209 MB
    // output this took 17 ms where the row kernel, which loads each output line before
    // adding to it, took 22-27 (bench shape, uniform, 2 threads, C++ harness, 2026-11-27).
    pool_segments(plan, grad, src_rows, ordered_scales, out, nullptr, false);
  } else if (pool_plan(plan)) {
    pool_segments(plan, grad, src_rows, ordered_scales, out, plan.rows.data(), true);
  } else {
    // Into the zeros run_dense filled, each touched row at its place rows()[u].
    scatter_in_plan_order(plan, gradient_rows(out, src_rows, ordered_scales));
  }
}

void BagBackward::run_max_columns(float* out, const int32_t* winner) {
  // No plan: each task owns a range of columns and walks the bags in order, so every
  // element receives its gradients in bag order, the order of a plan of the entries
  // (sorted stably by row): the same bits, without sorting num_bags x dim entries.
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  MaxBackwardArgs a;
  a.out = out;
  a.grad = args_.grad;
  a.argmax = winner;
  a.num_bags = args_.bags.num_bags;
  a.dim = args_.dim;
  // Runs of whole cache lines of out, so that tasks seldom write the same line.
  const std::vector<int64_t> cuts =
      line_cuts(out, a.dim, task_count_for(a.num_bags * a.dim, kMinFloatsPerTask), 1);
  parallel_for(static_cast<int64_t>(cuts.size()) - 1,
               [&](int64_t t) { k.max_backward_columns(a, cuts[t], cuts[t + 1]); });
}

void spmm(const CsrView& m, const float* b, int64_t dim, PoolMode mode, float* out) {
  BagArgs a;
  a.table = gather::Table{b, m.num_cols, dim};
  a.indices = m.col_idx;
  a.bags.bounds = m.row_ptr;  // num_rows + 1 entries: row r is the bag [ptr[r], ptr[r+1])
  a.bags.num_bags = m.num_rows;
  a.bags.num_indices = m.nnz();
  a.mode = mode;
  a.weights = m.values;
  a.out = out;
  gather::embedding_bag(a);
}

}  // namespace embedkit::scatter
