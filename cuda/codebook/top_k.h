// Exact top-k on the GPU by sorting (pqScan): every candidate of a segment (a query's coded
// vectors) becomes a 64-bit key
//   [segment within the batch | rank of its score (32 bits) | candidate id]
// (csrc/kernels/codebook/rank_order.h) so that one LSD radix sort over just the bits in use
// orders a whole batch of segments at once, best first within each: the CPU's strict total
// order (score, then id, NaN last, -0 equal to +0), hence the CPU's ids. A full sort does more work than a
// selection would for small k (FAISS's block select); it is exact and simple.
#pragma once

#include <cstdint>

#include "../../csrc/kernels/codebook/rank_order.h"
#include "../common/device_types.h"

namespace embedkit::cuda::codebook {

// How many segments of `length` candidates, with ids of id_bits bits, one sort takes at a
// time (at least 1), keeping the batch's keys within a fixed memory budget.
int64_t segments_per_batch(int64_t length, int id_bits);

// Device scratch for sorting batches of `segments` x `length` keys: the keys, the sorted
// keys and CUB's storage.
size_t sort_scratch_bytes(int64_t segments, int64_t length);

struct SortBatch {
  uint64_t* keys = nullptr;    // segments x length, filled by the caller's kernel
  uint64_t* sorted = nullptr;  // the same keys, ascending
  void* cub = nullptr;
  size_t cub_bytes = 0;
};
SortBatch carve_sort_scratch(void* scratch, int64_t segments, int64_t length);

// Sorts batch.keys into batch.sorted over the low `bits` bits.
cudaError_t sort_batch(const SortBatch& batch, int64_t items, int bits, cudaStream_t stream);

using embedkit::codebook::rank_order::id_bits_for;
using embedkit::codebook::rank_order::rank_bits;
using embedkit::codebook::rank_order::sort_key;

}  // namespace embedkit::cuda::codebook
