// Long bags on the GPU. The bag kernel gives each bag to one lane group, which walks its
// entries in order: a bag of 500,000 entries (a Zipf-hot scatter destination, a power-law
// CSR row) then keeps one warp busy for milliseconds while the rest of the GPU idles. Bags
// longer than a chunk are instead cut into chunks pooled in parallel, whose partial
// results are combined in chunk order: deterministic, and for max (with argmax) still the
// CPU's result exactly; a sum or mean rounds like a sum of chunk sums, not one running sum.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gather.h"

namespace embedkit::cuda::gather {

// The chunk length for `num_indices` entries of rows of `dim` floats: at least
// kMinChunkEntries, and long enough that the chunks' partial rows fit kPartialBudgetBytes
// (so the scratch is bounded whatever the shape). Bags of at most this many entries are
// pooled whole by the bag kernel.
constexpr int64_t kMinChunkEntries = 512;
constexpr int64_t kPartialBudgetBytes = int64_t{32} << 20;
int64_t long_bag_chunk(int64_t num_indices, int64_t dim);

// Scratch bytes for launch_long_bags, from the same arguments.
size_t long_bags_scratch_bytes(int64_t num_indices, int64_t dim, bool argmax);

// Pools the bags of `bag` longer than `chunk` entries into their out rows (argmax, out_rows,
// accumulate and bag_count as launch_embedding_bag does); `vector_width` is the bag
// kernel's (4 or 1). `scratch` holds long_bags_scratch_bytes.
cudaError_t launch_long_bags(const BagLaunch& bag, int64_t chunk, int vector_width, void* scratch,
                             cudaStream_t stream);

}  // namespace embedkit::cuda::gather
