// VQ-Logits kernels. The expansion is one coalesced write per (row, token). The O(K) row
// operations give each row a block: a float64 max and sum reduction over the codes (NaN
// propagating as on the CPU), then the per-code outputs; the sums run in a different order
// than the CPU's sequential loop, so results agree within float64 rounding (far below the
// float32 outputs' resolution). Sampling keeps the CPU's sequential float64 CDF, one thread
// per row, so that the same seed picks the same code and token.
#include <cmath>

#include "../../csrc/kernels/codebook/vq_sample_row.h"
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "vq.h"

namespace embedkit::cuda::codebook {
namespace {

constexpr int kRowThreads = 256;

__global__ void expand_kernel(const float* logits, int64_t rows, DeviceVqMap map, float* out) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= rows * map.num_tokens) return;
  const int64_t b = i / map.num_tokens;
  out[i] = logits[b * map.num_codes + map.token_to_code[i % map.num_tokens]];
}

// Block-wide reductions of one double per thread (kRowThreads threads).
__device__ double block_max(double v, double* scratch) {
  for (int o = 16; o > 0; o /= 2) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  double r = scratch[0];
  for (int w = 1; w < kRowThreads / 32; ++w) r = fmax(r, scratch[w]);
  __syncthreads();
  return r;
}
__device__ double block_sum(double v, double* scratch) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  double r = scratch[0];
  for (int w = 1; w < kRowThreads / 32; ++w) r += scratch[w];
  __syncthreads();
  return r;
}

// log sum_j n_j exp(L_j) over the codes with tokens: NaN if any such code is NaN, the max
// itself when it is infinite (all -inf, or a +inf), else max + log(sum exp(v - max)).
__device__ double log_partition(const float* row, const DeviceVqMap& m, double* scratch) {
  double top = -INFINITY, nan_seen = 0;
  for (int64_t j = threadIdx.x; j < m.num_codes; j += blockDim.x) {
    if (m.counts[j] == 0) continue;
    const double v = static_cast<double>(row[j]) + m.log_counts[j];
    if (isnan(v)) nan_seen = 1;
    else top = fmax(top, v);
  }
  if (block_sum(nan_seen, scratch) > 0) return NAN;
  top = block_max(top, scratch);
  if (isinf(top)) return top;
  double sum = 0;
  for (int64_t j = threadIdx.x; j < m.num_codes; j += blockDim.x) {
    if (m.counts[j] != 0) sum += exp(static_cast<double>(row[j]) + m.log_counts[j] - top);
  }
  return top + log(block_sum(sum, scratch));
}

template <typename IndexT>
__global__ void __launch_bounds__(kRowThreads) rows_kernel(const float* logits, DeviceVqMap map, RowOutputs out) {
  __shared__ double scratch[kRowThreads / 32];
  const int64_t b = blockIdx.x;
  const int64_t k = map.num_codes;
  const float* row = logits + b * k;
  const double z = log_partition(row, map, scratch);
  if (out.log_z != nullptr && threadIdx.x == 0) out.log_z[b] = static_cast<float>(z);
  if (out.log_z_exact != nullptr && threadIdx.x == 0) out.log_z_exact[b] = z;
  if (out.log_softmax != nullptr) {
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) out.log_softmax[b * k + j] = static_cast<float>(static_cast<double>(row[j]) - z);
  }
  if (out.loss != nullptr) {
    const int32_t target = map.token_to_code[load_index<IndexT>(out.targets.data, b)];
    if (threadIdx.x == 0) out.loss[b] = static_cast<float>(z - static_cast<double>(row[target]));
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
      const double p = map.counts[j] == 0 ? 0.0 : exp(static_cast<double>(row[j]) + map.log_counts[j] - z);
      out.grad[b * k + j] = static_cast<float>(j == target ? p - 1.0 : p);
    }
  }
}

// vqSample, one thread per row, with the CPU's own row draw.
__global__ void sample_kernel(const float* logits, int64_t rows, DeviceVqMap map, uint64_t seed, double temperature,
                              int32_t* out) {
  const int64_t b = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (b < rows) out[b] = embedkit::codebook::sample_row(logits + b * map.num_codes, map, seed, temperature, b);
}

}  // namespace

cudaError_t vq_expand(const float* logits, int64_t rows, const DeviceVqMap& map, float* out, cudaStream_t stream) {
  if (rows == 0 || map.num_tokens == 0) return cudaSuccess;
  expand_kernel<<<blocks_for(rows * map.num_tokens), kBlockThreads, 0, stream>>>(logits, rows, map, out);
  return cudaGetLastError();
}

cudaError_t vq_rows(const float* logits, int64_t rows, const DeviceVqMap& map, const RowOutputs& out,
                    cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  const Dtype dtype = out.targets.data != nullptr ? out.targets.dtype : Dtype::Int32;
  return with_index_type(dtype, [&](auto tag) {
    rows_kernel<decltype(tag)><<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(logits, map, out);
    return cudaGetLastError();
  });
}

cudaError_t vq_sample(const float* logits, int64_t rows, const DeviceVqMap& map, uint64_t seed, double temperature,
                      int32_t* out, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  sample_kernel<<<blocks_for(rows), kBlockThreads, 0, stream>>>(logits, rows, map, seed, temperature, out);
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::codebook
