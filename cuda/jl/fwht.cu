// cuda.fwht: rows up to 2^15 by the row kernel (fwht_rows.cuh), in place; longer rows first
// by the row kernel on their 2^15-float blocks, then one strided pass per five levels.
#include <algorithm>

#include "fwht_rows.cuh"

namespace embedkit::cuda::jl {
namespace {

// Levels h0, 2 h0, ..., h0 K / 2 over the whole array: value m of thread (hi, lo) sits at
// hi * h0 K + m h0 + lo; neighbouring threads take neighbouring lo (coalesced).
template <int K>
__global__ void fwht_strided_kernel(float* x, int64_t total, int64_t h0, float scale) {
  const int64_t thread = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (thread >= total / K) return;
  const int64_t lo = thread % h0;
  const int64_t hi = thread / h0;
  float* base = x + hi * h0 * K + lo;
  float w[K];
#pragma unroll
  for (int m = 0; m < K; ++m) w[m] = base[m * h0];
  butterflies_in_registers<K>(w);
#pragma unroll
  for (int m = 0; m < K; ++m) base[m * h0] = w[m] * scale;
}

// cuda.fwht's rows: read in place, written back times the scale.
struct InPlaceRows {
  static constexpr bool kRowInShared = false;
  float* x;
  int64_t n;
  float scale;
  template <int E>
  __device__ void load(int64_t row, int64_t first, float (&v)[E]) const {
    load_values<E>(x + row * n + first, v);
  }
  template <int E>
  __device__ void finish(int64_t row, const RowGroup& g, const float (&v)[E]) const {
    store_values<E>(x + row * n + int64_t{g.t} * E, v, scale);
  }
};

cudaError_t launch_strided(int levels, float* x, int64_t total, int64_t h0, float scale, cudaStream_t stream) {
  const int64_t threads = total >> levels;
  const unsigned blocks = static_cast<unsigned>((threads + 255) / 256);
  switch (levels) {
    case 1: fwht_strided_kernel<2><<<blocks, 256, 0, stream>>>(x, total, h0, scale); break;
    case 2: fwht_strided_kernel<4><<<blocks, 256, 0, stream>>>(x, total, h0, scale); break;
    case 3: fwht_strided_kernel<8><<<blocks, 256, 0, stream>>>(x, total, h0, scale); break;
    case 4: fwht_strided_kernel<16><<<blocks, 256, 0, stream>>>(x, total, h0, scale); break;
    default: fwht_strided_kernel<32><<<blocks, 256, 0, stream>>>(x, total, h0, scale); break;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_fwht(float* x, int64_t rows, int log2n, float scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (log2n == 0) return cudaSuccess;  // n = 1: no level, and the scale is 1
  const int first = std::min(log2n, kMaxRowLog2);
  const int64_t blocks_of_first = rows << (log2n - first);
  const InPlaceRows io{x, int64_t{1} << first, log2n == first ? scale : 1.0f};
  cudaError_t e = launch_row_kernel_for(first, io, blocks_of_first, stream);
  const int64_t total = rows << log2n;
  for (int done = first; e == cudaSuccess && done < log2n;) {
    const int levels = std::min(5, log2n - done);
    e = launch_strided(levels, x, total, int64_t{1} << done, done + levels == log2n ? scale : 1.0f, stream);
    done += levels;
  }
  return e;
}

}  // namespace embedkit::cuda::jl
