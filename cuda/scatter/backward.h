// The gradient of embedding_bag on the GPU (dense), as csrc/kernels/scatter/scatter.cc
// BagBackward computes it: sum / mean send scale_p x grad[bag(p)] to row indices[p] (scale_p
// the weight, divided by the bag's non-padding count for mean), each row summed in position
// order; max sends grad[bag][c] to row argmax[bag][c], entries in bag order. Also the gradient
// with respect to the per-sample weights (csrc/kernels/scatter/weights_grad.cc).
#pragma once

#include <cstdint>

#include "../common/device_types.h"

namespace embedkit::cuda::scatter {

// bag_of[p] = the bag of position p; scale[p] (when scale is non-null) = w_p, or for mean
// w_p / count(non-padding entries of its bag), in float as the CPU rounds it.
cudaError_t bag_positions(const int64_t* boundaries, int64_t num_bags, const DeviceIndices& indices, int64_t padding_idx,
                          const float* weights, bool mean, int64_t* bag_of, float* scale, cudaStream_t stream);

// out[rows[s]][e % dim] += grad[e] for the entries e = order[bounds[s] .. bounds[s + 1]) of
// each of the *segments segments (one thread per segment: a row's columns in entry order).
// rows null: segment s goes to row s of out (the sparse gradient's compact rows).
cudaError_t scatter_max_entries(const int64_t* order, const uint64_t* rows, const int64_t* bounds,
                                const int64_t* segments, int64_t max_segments, const float* grad, int64_t dim,
                                float* out, cudaStream_t stream);

// The gradient with respect to per-sample weights: out[p] = grad[bag_of[p]] . table[indices[p]]
// (times scale[p] when scale is non-null: 1 / the bag's non-padding count, for mean), 0 where
// indices[p] == padding_idx. One group of lanes per position, reduced by shuffles.
cudaError_t weights_grad(const int64_t* bag_of, const float* scale, const DeviceIndices& indices, int64_t padding_idx,
                         const float* table, const float* grad, int64_t dim, float* out, cudaStream_t stream);

// out[s] = rows[s] for s < count, as the index type `dtype` (the sparse gradient's row ids,
// typed like the caller's indices; every row fits, being one of those indices).
cudaError_t store_rows(const uint64_t* rows, int64_t count, Dtype dtype, void* out, cudaStream_t stream);

}  // namespace embedkit::cuda::scatter
