// VQ-Logits kernels. The expansion writes each (row, token) once, coalesced (expand_kernel). The O(K) row
// operations give each row a block: a float64 max and sum reduction over the codes (NaN
// propagating as on the CPU), then the per-code outputs; the sums run in a different order
// than the CPU's sequential loop, so results agree within float64 rounding (far below the
// float32 outputs' resolution). Sampling keeps the CPU's sequential float64 CDF, one thread
// per row, so that the same seed picks the same code and token.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../../csrc/kernels/codebook/vq_sample_row.h"
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "../common/row_vector.cuh"
#include "vq.h"

namespace embedkit::cuda::codebook {
namespace {

constexpr int kRowThreads = 256;

// The expansion, out[b, v] = logits[b, code(v)]: a block takes a group of rows and a span of
// tokens, reads each token's code once for all its rows, and writes float4s where the row
// length allows. A warp's 32 codes land anywhere in a row, which through L1 costs about
// one pass per distinct line; when the span is long enough to repay it, the rows are first
// staged in shared memory, where the same reads cost a bank conflict or two.
constexpr int kExpandMaxRows = 8;
constexpr int64_t kExpandSharedBytes = 48 * 1024;  // the default dynamic shared memory limit
constexpr int64_t kExpandTargetBlocks = 1024;      // enough blocks to fill the GPU

template <int kWidth, bool kStaged>
__global__ void __launch_bounds__(kBlockThreads)
    expand_kernel(const float* logits, int64_t rows, int rows_per_block, DeviceVqMap map, int64_t span, float* out) {
  extern __shared__ float staged[];
  const int64_t k = map.num_codes;
  const int64_t v_count = map.num_tokens;
  const int64_t b0 = int64_t{blockIdx.x} * rows_per_block;
  const int nr = static_cast<int>(min(int64_t{rows_per_block}, rows - b0));
  const float* group = logits + b0 * k;
  if constexpr (kStaged) {
    for (int64_t i = threadIdx.x; i < nr * k; i += blockDim.x) staged[i] = __ldg(group + i);
    __syncthreads();
  }
  const int64_t v_end = min(v_count, (int64_t{blockIdx.y} + 1) * span);
  for (int64_t v = int64_t{blockIdx.y} * span + threadIdx.x * kWidth; v < v_end; v += int64_t{blockDim.x} * kWidth) {
    int32_t code[kWidth];
    if constexpr (kWidth == 4) {
      const int4 c = __ldg(reinterpret_cast<const int4*>(map.token_to_code + v));
      code[0] = c.x, code[1] = c.y, code[2] = c.z, code[3] = c.w;
    } else {
      code[0] = __ldg(map.token_to_code + v);
    }
    for (int r = 0; r < nr; ++r) {
      float value[kWidth];
#pragma unroll
      for (int i = 0; i < kWidth; ++i) value[i] = kStaged ? staged[r * k + code[i]] : __ldg(group + r * k + code[i]);
      RowVector<kWidth>::from(value).store(out + (b0 + r) * v_count + v);
    }
  }
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
  const int64_t k = map.num_codes;
  const int64_t v = map.num_tokens;
  const int width = v % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0 ? 4 : 1;
  const int64_t fit = kExpandSharedBytes / (k * 4);  // rows that shared memory holds
  const int rows_per_block = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(kExpandMaxRows, fit)));
  const int64_t groups = (rows + rows_per_block - 1) / rows_per_block;
  // Spans per row group: enough blocks in all, each span at least one block-width of tokens.
  const int64_t step = int64_t{kBlockThreads} * width;
  const int64_t spans = std::max<int64_t>(1, std::min((kExpandTargetBlocks + groups - 1) / groups, (v + step - 1) / step));
  const int64_t span = ((v + spans - 1) / spans + width - 1) / width * width;
  const dim3 grid(static_cast<unsigned>(groups), static_cast<unsigned>((v + span - 1) / span));
  // Staging reads rows_per_block x K floats once per block: worth it when the block writes
  // at least as many (the span is at least K tokens).
  const bool staged = fit >= 1 && span >= k;
  const size_t shared = staged ? static_cast<size_t>(rows_per_block * k) * sizeof(float) : 0;
  auto kernel = width == 4 ? (staged ? expand_kernel<4, true> : expand_kernel<4, false>)
                           : (staged ? expand_kernel<1, true> : expand_kernel<1, false>);
  kernel<<<grid, kBlockThreads, shared, stream>>>(logits, rows, rows_per_block, map, span, out);
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
