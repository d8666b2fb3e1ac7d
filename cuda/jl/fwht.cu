// FWHT kernels. A row of n <= 2^15 floats belongs to G = n / E threads holding E contiguous
// values each: levels below E run in registers, levels below 32E across lanes by shuffle,
// and (rows wider than a warp's share) the remaining levels in shared memory, where each
// thread gathers the H = n / 32E values a level set combines into registers. Longer rows
// first run that kernel on their 2^15-float blocks, then one strided pass per five levels.
#include <algorithm>

#include "fwht.h"

namespace embedkit::cuda::jl {
namespace {

// Levels kHalf, 2 kHalf, ... of a kCount-point transform held in registers. Recursion over
// the level keeps every index a compile-time constant, so the values never leave registers.
template <int kCount, int kHalf = 1>
__device__ __forceinline__ void butterflies_in_registers(float (&v)[kCount]) {
  if constexpr (kHalf < kCount) {
#pragma unroll
    for (int i = 0; i < kCount; i += 2 * kHalf) {
#pragma unroll
      for (int j = i; j < i + kHalf; ++j) {
        const float a = v[j], b = v[j + kHalf];
        v[j] = a + b;
        v[j + kHalf] = a - b;
      }
    }
    butterflies_in_registers<kCount, 2 * kHalf>(v);
  }
}

// The shape of one row's work for 2^kLog2n floats.
template <int kLog2n>
struct RowShape {
  static constexpr int n = 1 << kLog2n;
  // Values per thread: all of a tiny row; 8 up to 2^11; then enough that a row needs at most
  // 1024 threads and the shared-memory levels fit one register gather (n <= 32 E^2).
  static constexpr int E = n <= 8 ? n : kLog2n <= 11 ? 8 : kLog2n <= 13 ? 16 : 32;
  static constexpr int G = n / E;                        // threads per row
  static constexpr int kLaneGroup = G < 32 ? G : 32;     // shuffle width
  // Rows of a warp's width or less share 256-thread blocks; a wider row is one block.
  static constexpr int kBlock = G <= 32 ? 256 : G;
  static constexpr int kRowsPerBlock = G <= 32 ? kBlock / G : 1;
  static constexpr bool kShared = G > 32;
};

template <int E>
__device__ __forceinline__ void load_values(const float* p, float (&v)[E]) {
  if constexpr (E % 4 == 0) {
#pragma unroll
    for (int j = 0; j < E; j += 4) {
      const float4 f = *reinterpret_cast<const float4*>(p + j);
      v[j] = f.x; v[j + 1] = f.y; v[j + 2] = f.z; v[j + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int j = 0; j < E; ++j) v[j] = p[j];
  }
}

template <int E>
__device__ __forceinline__ void store_values(float* p, const float (&v)[E], float scale) {
  if constexpr (E % 4 == 0) {
#pragma unroll
    for (int j = 0; j < E; j += 4) {
      *reinterpret_cast<float4*>(p + j) = make_float4(v[j] * scale, v[j + 1] * scale, v[j + 2] * scale, v[j + 3] * scale);
    }
  } else {
#pragma unroll
    for (int j = 0; j < E; ++j) p[j] = v[j] * scale;
  }
}

template <int kLog2n>
__global__ void __launch_bounds__(RowShape<kLog2n>::kBlock)
    fwht_rows_kernel(float* x, int64_t rows, float scale) {
  using S = RowShape<kLog2n>;
  extern __shared__ float shared[];
  const int t = threadIdx.x % S::G;
  const int64_t row = int64_t{blockIdx.x} * S::kRowsPerBlock + threadIdx.x / S::G;
  if (row >= rows) return;  // only where a block holds several rows, which never sync
  float* values = x + row * S::n + t * S::E;
  float v[S::E];
  load_values<S::E>(values, v);
  butterflies_in_registers<S::E>(v);

  // Distances E, 2E, ... below G * E (at most 32 E): the partner lane is lane ^ m.
  const int lane = threadIdx.x % 32;
  const unsigned mask = S::kLaneGroup == 32 ? 0xffffffffu
                                            : ((1u << S::kLaneGroup) - 1u) << (lane / S::kLaneGroup * S::kLaneGroup);
#pragma unroll
  for (int m = 1; m < S::kLaneGroup; m *= 2) {
    const bool upper = (lane & m) != 0;
#pragma unroll
    for (int j = 0; j < S::E; ++j) {
      const float other = __shfl_xor_sync(mask, v[j], m, S::kLaneGroup);
      v[j] = upper ? other - v[j] : v[j] + other;  // lower: a + b; upper: a - b (a is the lower's)
    }
  }

  if constexpr (S::kShared) {
    // Distances 32E .. n/2: value (hi, c) sits at hi * 32E + c; thread t takes columns
    // c = t, t + G, ... and runs the H-point transform of each in registers.
    constexpr int kColumns = 32 * S::E;  // the values a warp's levels cover
    constexpr int H = S::n / kColumns;   // 2 .. 32, since n <= 32 E^2
#pragma unroll
    for (int j = 0; j < S::E; ++j) shared[t * S::E + j] = v[j];
    __syncthreads();
    for (int c = t; c < kColumns; c += S::G) {
      float w[H];
#pragma unroll
      for (int hi = 0; hi < H; ++hi) w[hi] = shared[hi * kColumns + c];
      butterflies_in_registers<H>(w);
#pragma unroll
      for (int hi = 0; hi < H; ++hi) shared[hi * kColumns + c] = w[hi];
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < S::E; ++j) v[j] = shared[t * S::E + j];
  }
  store_values<S::E>(values, v, scale);
}

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

template <int kLog2n>
cudaError_t launch_rows(float* x, int64_t rows, float scale, cudaStream_t stream) {
  using S = RowShape<kLog2n>;
  const size_t shared = S::kShared ? size_t{S::n} * sizeof(float) : 0;
  if (shared > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(fwht_rows_kernel<kLog2n>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(shared));
    if (e != cudaSuccess) return e;
  }
  const int64_t blocks = (rows + S::kRowsPerBlock - 1) / S::kRowsPerBlock;
  fwht_rows_kernel<kLog2n><<<static_cast<unsigned>(blocks), S::kBlock, shared, stream>>>(x, rows, scale);
  return cudaGetLastError();
}

template <int... kLog2n>
cudaError_t launch_rows_for(int log2n, float* x, int64_t rows, float scale, cudaStream_t stream,
                            std::integer_sequence<int, kLog2n...>) {
  cudaError_t result = cudaErrorInvalidValue;
  ((log2n == kLog2n + 1 ? (result = launch_rows<kLog2n + 1>(x, rows, scale, stream), 0) : 0), ...);
  return result;
}

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
  cudaError_t e = launch_rows_for(first, x, blocks_of_first, log2n == first ? scale : 1.0f, stream,
                                  std::make_integer_sequence<int, kMaxRowLog2>{});
  const int64_t total = rows << log2n;
  for (int done = first; e == cudaSuccess && done < log2n;) {
    const int levels = std::min(5, log2n - done);
    e = launch_strided(levels, x, total, int64_t{1} << done, done + levels == log2n ? scale : 1.0f, stream);
    done += levels;
  }
  return e;
}

}  // namespace embedkit::cuda::jl
