// Product quantization on the GPU, with the CPU's semantics (csrc/kernels/codebook/codebook.h):
// encode is the nearest-codeword kernel per subspace (nearest.h), so codes equal the CPU's
// SIMD paths'; decode copies sub-codewords; the distance tables are float64 sums rounded
// once; the scan sums a query's table at each vector's codes in float32, subspaces in order,
// and keeps the k best by the CPU's total order (top_k.h): the same ids and distances.
#pragma once

#include <cstdint>

#include "../../csrc/kernels/common/host_device.h"
#include "../common/device_types.h"
#include "nearest.h"

namespace embedkit::cuda::codebook {

// codebooks: m x ksub x dsub floats (dim = m * dsub).
struct DevicePq {
  int64_t dim = 0;
  int64_t m = 0;
  int64_t ksub = 0;
  const float* codebooks = nullptr;
  EMBEDKIT_HOST_DEVICE int64_t dsub() const { return dim / m; }
};

// Scratch for pq_encode: the codeword norms.
size_t pq_encode_scratch_bytes(const DevicePq& pq);
// codes (n x m): the nearest sub-codeword (l2) of every subvector of x (n x dim).
cudaError_t pq_encode(const DevicePq& pq, const float* x, int64_t n, uint8_t* codes, void* scratch, cudaStream_t stream);

// out (n x dim): the concatenated sub-codewords.
cudaError_t pq_decode(const DevicePq& pq, const uint8_t* codes, int64_t n, float* out, cudaStream_t stream);

// tables (nq x m x ksub): ||q_s - c||² (l2) or q_s·c (ip), float64 rounded once.
cudaError_t pq_distance_table(const DevicePq& pq, const float* queries, int64_t nq, Metric metric, float* tables,
                              cudaStream_t stream);

// Scratch for pq_scan over n coded vectors.
size_t pq_scan_scratch_bytes(int64_t nq, int64_t n);
// Per query the k best coded vectors, best first: ids (nq x k) and their summed tables.
cudaError_t pq_scan(const DevicePq& pq, const float* tables, int64_t nq, Metric metric, const uint8_t* codes, int64_t n,
                    int64_t k, int32_t* ids, float* distances, void* scratch, cudaStream_t stream);

}  // namespace embedkit::cuda::codebook
