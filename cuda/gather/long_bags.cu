// Long bags: split, pool the chunks in parallel, combine (see long_bags.h). Three kernels on
// the stream: split_kernel lists each long bag and its chunks (slots taken by atomics, so
// the lists' order varies from run to run, the results do not: a bag's chunks are
// contiguous and combined in entry order); chunk_kernel pools each chunk with the bag
// kernel's loop; combine_kernel folds a bag's chunk results into its out row.
#include <algorithm>

#include "../common/index_dispatch.h"
#include "../common/scratch.h"
#include "bag_pool.cuh"
#include "long_bags.h"

namespace embedkit::cuda::gather {
namespace {

// Chunk results a combining lane loads ahead of folding them.
constexpr int kFoldBatch = 8;

struct Chunk {
  int64_t begin;
  int64_t end;
};

struct LongBag {
  int64_t bag;
  int64_t first_chunk;
  int64_t chunks;
};

struct ChunkStats {
  int64_t count;  // entries taken (padding skipped)
  int64_t lead;   // position of the first one, -1 if none
};

// The scratch, carved in this order; bounds from long_bag_chunk's guarantee.
struct LongBagScratch {
  unsigned long long* counters;  // [0] chunks listed, [1] long bags listed
  Chunk* chunks;
  LongBag* long_bags;
  ChunkStats* stats;
  float* partials;   // max_chunks x dim
  int32_t* winners;  // max_chunks x dim, with argmax only
  int64_t max_chunks;
  int64_t max_long;
};

// A bag longer than `chunk` (L > C entries) has ceil(L / C) < 2L / C chunks, and there are
// fewer than N / C such bags.
int64_t max_chunks_for(int64_t n, int64_t chunk) { return 2 * (n / chunk) + 1; }
int64_t max_long_for(int64_t n, int64_t chunk) { return n / chunk + 1; }

template <typename T>
T* carve(char*& at, int64_t count) {
  T* p = reinterpret_cast<T*>(at);
  at += aligned(static_cast<size_t>(count) * sizeof(T));
  return p;
}

LongBagScratch carve_scratch(void* base, int64_t n, int64_t dim, int64_t chunk, bool argmax) {
  LongBagScratch s;
  s.max_chunks = max_chunks_for(n, chunk);
  s.max_long = max_long_for(n, chunk);
  char* at = static_cast<char*>(base);
  s.counters = carve<unsigned long long>(at, 2);
  s.chunks = carve<Chunk>(at, s.max_chunks);
  s.long_bags = carve<LongBag>(at, s.max_long);
  s.stats = carve<ChunkStats>(at, s.max_chunks);
  s.partials = carve<float>(at, s.max_chunks * dim);
  s.winners = argmax ? carve<int32_t>(at, s.max_chunks * dim) : nullptr;
  return s;
}

__global__ void split_kernel(BagLaunch bag, int64_t chunk, LongBagScratch s) {
  const int64_t b = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (b >= bag.num_bags || (bag.bag_count != nullptr && b >= *bag.bag_count)) return;
  const int64_t begin = bag.boundaries[b];
  const int64_t end = bag.boundaries[b + 1];
  if (end - begin <= chunk) return;
  const int64_t n = (end - begin + chunk - 1) / chunk;
  const int64_t first = static_cast<int64_t>(atomicAdd(&s.counters[0], static_cast<unsigned long long>(n)));
  const int64_t slot = static_cast<int64_t>(atomicAdd(&s.counters[1], 1ull));
  s.long_bags[slot] = LongBag{b, first, n};
  for (int64_t i = 0; i < n; ++i) s.chunks[first + i] = Chunk{begin + i * chunk, min(end, begin + (i + 1) * chunk)};
}

// Each chunk's raw running value (a sum not yet divided, or a max with NaN skipped) and its
// count and first entry.
template <typename IndexT, int kWidth>
__global__ void __launch_bounds__(kBlockThreads, kBagMinBlocks)
    chunk_kernel(BagLaunch bag, int group_size, int64_t chunks_per_item, LongBagScratch s) {
  const LanePosition at = LanePosition::of(group_size, chunks_per_item, s.max_chunks, kWidth);
  if (!at.valid || at.item >= static_cast<int64_t>(s.counters[0])) return;
  const Chunk c = s.chunks[at.item];
  const bool active = at.column < bag.table.dim;
  BagAccumulator<kWidth> pool;
  pool_entries<IndexT, kWidth>(bag, at, group_size, active, c.begin, c.end, true, pool);
  if (at.column == 0) s.stats[at.item] = ChunkStats{pool.count, pool.lead};
  if (!active) return;
  const int64_t at_row = at.item * bag.table.dim + at.column;
  pool.acc.store(s.partials + at_row);
  if (s.winners != nullptr) pool.winners.store(s.winners + at_row);
}

// Folds a long bag's chunks in order. Max: the CPU keeps the first entry's value when it is
// NaN (nothing is greater), else the first greatest value, which the chunks' NaN-skipping
// maxima give when started from that first entry.
template <typename IndexT, int kWidth>
__global__ void __launch_bounds__(kBlockThreads)
    combine_kernel(BagLaunch bag, int group_size, int64_t chunks_per_item, LongBagScratch s) {
  const LanePosition at = LanePosition::of(group_size, chunks_per_item, s.max_long, kWidth);
  if (!at.valid || at.item >= static_cast<int64_t>(s.counters[1]) || at.column >= bag.table.dim) return;
  const int64_t dim = bag.table.dim;
  const LongBag lb = s.long_bags[at.item];
  float* out = bag_out_row(bag, lb.bag) + at.column;
  const bool is_max = bag.mode == PoolMode::Max;
  RowVector<kWidth> acc = RowVector<kWidth>::zero();
  RowIds<kWidth> winners = RowIds<kWidth>::all(-1);
  bool started = bag.accumulate;
  if (started) acc = RowVector<kWidth>::load_plain(out);
  int64_t total = 0;
  // kFoldBatch chunks' results are loaded before any is folded: a bag of a thousand chunks
  // then waits on a hundred-odd loads in a row, not a thousand.
  const int64_t last = lb.first_chunk + lb.chunks;
  for (int64_t c0 = lb.first_chunk; c0 < last; c0 += kFoldBatch) {
    ChunkStats st[kFoldBatch];
    RowVector<kWidth> part[kFoldBatch];
    RowIds<kWidth> ids[kFoldBatch];
#pragma unroll
    for (int i = 0; i < kFoldBatch; ++i) {
      const int64_t c = min(c0 + i, last - 1);  // past the end: a repeat, not folded
      st[i] = s.stats[c];
      part[i] = RowVector<kWidth>::load_plain(s.partials + c * dim + at.column);
      if (s.winners != nullptr) ids[i] = RowIds<kWidth>::load(s.winners + c * dim + at.column);
    }
#pragma unroll
    for (int i = 0; i < kFoldBatch; ++i) {
      // Padding-only chunks add nothing (not even a +0 to a -0).
      if (c0 + i >= last || st[i].count == 0) continue;
      total += st[i].count;
      if (is_max) {
        if (!started) {
          const int64_t row = load_index<IndexT>(bag.indices.data, st[i].lead);
          acc = load_row<kWidth>(bag.table.rows_of, row, at.column);
          if (bag.weights != nullptr) acc.scale(__ldg(bag.weights + st[i].lead));
          winners = RowIds<kWidth>::all(static_cast<int32_t>(row));
          started = true;
        }
        if (s.winners != nullptr) {
          acc.max_with(part[i], ids[i], winners);
        } else {
          acc.max_with(part[i]);
        }
      } else if (!started) {
        acc = part[i];
        started = true;
      } else {
        acc.add(part[i]);
      }
    }
  }
  if (bag.mode == PoolMode::Mean && total > 0) acc.divide(static_cast<float>(total));
  acc.store(out);
  if (bag.argmax != nullptr) winners.store(bag.argmax + lb.bag * dim + at.column);
}

}  // namespace

int64_t long_bag_chunk(int64_t num_indices, int64_t dim) {
  const int64_t row_bytes = std::max<int64_t>(dim, 1) * 4;
  const int64_t max_chunks = std::max<int64_t>(kPartialBudgetBytes / row_bytes, 2);
  // 2N / C + 1 chunk slots at most (max_chunks_for) must fit max_chunks.
  const int64_t fitting = (2 * num_indices + max_chunks - 2) / (max_chunks - 1);
  return std::max(kMinChunkEntries, fitting);
}

size_t long_bags_scratch_bytes(int64_t num_indices, int64_t dim, bool argmax) {
  const int64_t chunk = long_bag_chunk(num_indices, dim);
  const int64_t chunks = max_chunks_for(num_indices, chunk);
  const int64_t long_bags = max_long_for(num_indices, chunk);
  size_t bytes = aligned(2 * sizeof(unsigned long long)) + aligned(chunks * sizeof(Chunk)) +
                 aligned(long_bags * sizeof(LongBag)) + aligned(chunks * sizeof(ChunkStats)) +
                 aligned(static_cast<size_t>(chunks * dim) * sizeof(float));
  if (argmax) bytes += aligned(static_cast<size_t>(chunks * dim) * sizeof(int32_t));
  return bytes;
}

cudaError_t launch_long_bags(const BagLaunch& bag, int64_t chunk, int vector_width, void* scratch,
                             cudaStream_t stream) {
  const int64_t dim = bag.table.dim;
  const LongBagScratch s = carve_scratch(scratch, bag.indices.length, dim, chunk, bag.argmax != nullptr);
  cudaError_t e = cudaMemsetAsync(s.counters, 0, 2 * sizeof(unsigned long long), stream);
  if (e != cudaSuccess) return e;
  split_kernel<<<blocks_for(bag.num_bags), kBlockThreads, 0, stream>>>(bag, chunk, s);
  if ((e = cudaGetLastError()) != cudaSuccess) return e;
  // The grids cover every possible slot; the kernels read the counts the split left.
  const LaneGroups chunks = plan_lane_groups(s.max_chunks, dim, vector_width == 4);
  const LaneGroups bags = plan_lane_groups(s.max_long, dim, vector_width == 4);
  return with_index_type(bag.indices.dtype, [&](auto index_tag) {
    using IndexT = decltype(index_tag);
    auto pool = chunks.vector_width == 4 ? chunk_kernel<IndexT, 4> : chunk_kernel<IndexT, 1>;
    pool<<<static_cast<unsigned>(chunks.blocks()), kBlockThreads, 0, stream>>>(bag, chunks.group_size,
                                                                               chunks.chunks_per_item, s);
    cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) return launched;
    auto combine = bags.vector_width == 4 ? combine_kernel<IndexT, 4> : combine_kernel<IndexT, 1>;
    combine<<<static_cast<unsigned>(bags.blocks()), kBlockThreads, 0, stream>>>(bag, bags.group_size,
                                                                                bags.chunks_per_item, s);
    return cudaGetLastError();
  });
}

}  // namespace embedkit::cuda::gather
