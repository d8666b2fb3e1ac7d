// The FWHT row kernel shared by cuda.fwht and the projections built on it (SRHT, FJLT).
// A row of n <= 2^15 floats belongs to G = n / E threads holding E contiguous values each:
// levels below E run in registers, levels below 32E across lanes by shuffle, and (rows
// wider than a warp's share) the remaining levels in shared memory, where each thread
// gathers the H = n / 32E values a column's levels combine into registers. Every level runs
// in increasing order of its distance with the CPU's butterflies, so results are the CPU's
// bits. An Io policy says where a row's values come from and where they go.
#pragma once

#include <utility>

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

// The group of lanes holding one row, for the Io policy's own synchronisation.
struct RowGroup {
  int t;              // this thread's place in the row: it holds values t E .. t E + E - 1
  int size;           // G
  unsigned mask;      // the row's lanes in this warp
  float* shared_row;  // the row's n floats of shared memory (when the policy asks for them)
  __device__ void sync() const {
    if (size <= 32) {
      __syncwarp(mask);
    } else {
      __syncthreads();
    }
  }
};

// The transform of one row per lane group. Io supplies the row's values (load) and takes
// the transformed ones (finish): a plain FWHT reads and writes the row in place; the
// projections read a signed, zero-padded input row and write their outputs.
template <int kLog2n, class Io>
__global__ void __launch_bounds__(RowShape<kLog2n>::kBlock) fwht_rows_kernel(Io io, int64_t rows) {
  using S = RowShape<kLog2n>;
  extern __shared__ float shared[];
  const int t = threadIdx.x % S::G;
  const int local_row = threadIdx.x / S::G;
  const int64_t row = int64_t{blockIdx.x} * S::kRowsPerBlock + local_row;
  if (row >= rows) return;  // only where a block holds several rows, which sync by warp
  float v[S::E];
  io.template load<S::E>(row, t * S::E, v);
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
  const RowGroup group{t, S::G, mask, shared + (Io::kRowInShared ? local_row * S::n : 0)};
  io.template finish<S::E>(row, group, v);
}

// Shared memory for a block: the row itself past a warp's share (the last levels), or
// every row of the block when the policy needs its transformed rows there.
template <int kLog2n, class Io>
size_t row_kernel_shared_bytes() {
  using S = RowShape<kLog2n>;
  const size_t rows = Io::kRowInShared || S::kShared ? S::kRowsPerBlock : 0;
  return rows * S::n * sizeof(float);
}

template <int kLog2n, class Io>
cudaError_t launch_row_kernel(const Io& io, int64_t rows, cudaStream_t stream) {
  using S = RowShape<kLog2n>;
  const size_t shared = row_kernel_shared_bytes<kLog2n, Io>();
  if (shared > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(fwht_rows_kernel<kLog2n, Io>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
    if (e != cudaSuccess) return e;
  }
  const int64_t blocks = (rows + S::kRowsPerBlock - 1) / S::kRowsPerBlock;
  fwht_rows_kernel<kLog2n, Io><<<static_cast<unsigned>(blocks), S::kBlock, shared, stream>>>(io, rows);
  return cudaGetLastError();
}

// launch_row_kernel<log2n> for a runtime log2n in 1 .. kMaxRowLog2.
template <class Io, int... kLog2n>
cudaError_t launch_row_kernel_for(int log2n, const Io& io, int64_t rows, cudaStream_t stream,
                                  std::integer_sequence<int, kLog2n...>) {
  cudaError_t result = cudaErrorInvalidValue;
  ((log2n == kLog2n + 1 ? (result = launch_row_kernel<kLog2n + 1>(io, rows, stream), 0) : 0), ...);
  return result;
}
template <class Io>
cudaError_t launch_row_kernel_for(int log2n, const Io& io, int64_t rows, cudaStream_t stream) {
  return launch_row_kernel_for(log2n, io, rows, stream, std::make_integer_sequence<int, kMaxRowLog2>{});
}

}  // namespace
}  // namespace embedkit::cuda::jl
