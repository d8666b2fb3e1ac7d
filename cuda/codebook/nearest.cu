// The nearest-codeword kernel: a 128-row x 128-code tile per block, each of its 256 threads
// holding an 8 x 8 block of dot products in registers while the depth runs through shared
// memory 16 coordinates at a time (16 float4 shared loads feed 64 fmas), the next slices
// copied asynchronously meanwhile. Every dot product is one fma chain in ascending k, as on
// the CPU; the float64 sums (norms, distances) use explicit _rn operations so that nvcc
// cannot contract them into fmas the CPU does not use.
#include <cuda_pipeline.h>

#include <cmath>

#include "../../csrc/kernels/codebook/rank_order.h"
#include "../common/lane_groups.cuh"
#include "nearest.h"

namespace embedkit::cuda::codebook {
namespace {

constexpr int kSide = 16;             // threads per tile side
constexpr int kVec = 4;               // a float4 of rows (codes) per shared load
constexpr int kMicro = 2 * kVec;      // rows (and codes) per thread: two float4s
constexpr int kTile = kSide * kMicro;  // rows (and codes) per tile
constexpr int kHalf = kTile / 2;
constexpr int kDepth = 16;
constexpr int kThreads = kSide * kSide;
// A thread's float4s sit half a tile apart, so the 8 threads of a 128-bit shared load phase
// read 8 consecutive float4s (all 32 banks) rather than every other one.
__device__ __forceinline__ int micro_offset(int thread_side, int i) {
  return (i / kVec) * kHalf + thread_side * kVec + i % kVec;
}
// +kVec: the global-to-shared stores write along k; the padding spreads them over the banks
// and keeps each k row 16-byte aligned for the float4 loads.
constexpr int kStride = kTile + kVec;

using embedkit::codebook::rank_order::Candidate;
using embedkit::codebook::rank_order::beats;

// The CPU's exact_score (csrc/kernels/codebook/assign.cc): float64, k ascending, unfused.
__device__ double exact_score(const float* x, const float* code, int64_t dim, bool l2) {
  double s = 0;
  for (int64_t k = 0; k < dim; ++k) {
    const double term = l2 ? __dmul_rn(static_cast<double>(x[k]) - code[k], static_cast<double>(x[k]) - code[k])
                           : __dmul_rn(static_cast<double>(x[k]), static_cast<double>(code[k]));
    s = __dadd_rn(s, term);
  }
  return s;
}

__global__ void norms_kernel(const float* codebooks, int64_t count, int64_t dim, float* norms) {
  const int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (c >= count) return;
  const float* code = codebooks + c * dim;
  double s = 0;
  for (int64_t k = 0; k < dim; ++k) s = __dadd_rn(s, __dmul_rn(static_cast<double>(code[k]), static_cast<double>(code[k])));
  norms[c] = static_cast<float>(s);
}

// Elements of each tile slice (kTile x kDepth, of x and of the codes) a thread copies, in
// passes of kRowsPerPass rows (codes).
constexpr int kStaged = kTile * kDepth / kThreads;
constexpr int kRowsPerPass = kThreads / kDepth;
static_assert(kTile * kDepth % kThreads == 0, "the threads share a slice evenly");

// Blocks per SM the kernel must fit (a register cap): 2 holds it to 128 registers (8 bytes
// spilled, sm_90) where it would take 149; scripts/gpu-check.sh's GPU_VARIANTS can time 1.
#ifndef EMBEDKIT_NEAREST_MIN_BLOCKS
#define EMBEDKIT_NEAREST_MIN_BLOCKS 2
#endif

// The shared slices, double-buffered: the copy of the next step's pair lands in one buffer
// while the fmas read the other. After the loop the same bytes hold the per-thread winners.
struct SliceBuffers {
  float xs[2][kDepth][kStride];
  float cs[2][kDepth][kStride];
};
union __align__(16) NearestShared {
  SliceBuffers slices;
  Candidate partial[kTile][kSide];
};

// Starts the asynchronous copy of this thread's elements of the depth slice [k0, k0 + kDepth)
// of the row tile at row0 and the code tile at c0 into buffer `buf`: coordinate kk of rows
// (codes) t, t + 16, ..., with kk and t fixed by the thread, so 16 neighbouring threads read
// one row's 64 contiguous bytes. Past the ends the copy reads nothing and writes 0. The
// addresses advance by a stride rather than being formed per element, which keeps the
// kernel's registers for the dot products.
__device__ __forceinline__ void copy_slices(const NearestArgs& a, const float* x, const float* book, int64_t row0,
                                            int64_t c0, int64_t k0, SliceBuffers& s, int buf) {
  const int kk = threadIdx.x % kDepth, t = threadIdx.x / kDepth;
  const bool k_in = k0 + kk < a.dim;
  const int64_t rows_left = a.rows - row0 - t, codes_left = a.num_codes - c0 - t;
  const float* xp = x + (row0 + t) * a.row_stride + k0 + kk;
  const float* cp = book + (c0 + t) * a.dim + k0 + kk;
#pragma unroll
  for (int r = 0; r < kStaged; ++r) {
    const bool x_in = k_in && r * kRowsPerPass < rows_left, c_in = k_in && r * kRowsPerPass < codes_left;
    __pipeline_memcpy_async(&s.xs[buf][kk][t + r * kRowsPerPass], x_in ? xp : x, 4, x_in ? 0 : 4);
    __pipeline_memcpy_async(&s.cs[buf][kk][t + r * kRowsPerPass], c_in ? cp : book, 4, c_in ? 0 : 4);
    xp += kRowsPerPass * a.row_stride;
    cp += kRowsPerPass * a.dim;
  }
  __pipeline_commit();
}

__global__ void __launch_bounds__(kThreads, EMBEDKIT_NEAREST_MIN_BLOCKS) nearest_kernel(NearestArgs a) {
  __shared__ NearestShared shared;
  SliceBuffers& slices = shared.slices;
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t row0 = int64_t{blockIdx.x} * kTile;
  const int64_t g = blockIdx.y;
  const float* x = a.x + g * a.dim;
  const float* book = a.codebooks + g * a.num_codes * a.dim;
  const float* norms = a.norms + g * a.num_codes;
  const bool minimize = a.metric == Metric::L2;

  Candidate best[kMicro];
  for (int i = 0; i < kMicro; ++i) best[i] = Candidate{0.0f, -1};

  // One step per (code tile, depth slice), code tiles outer. The next step's slices are
  // copied while this one's are multiplied, so the global loads' latency hides behind the
  // fmas instead of stalling every step at the barrier.
  const int64_t depth_steps = (a.dim + kDepth - 1) / kDepth;
  const int64_t steps = (a.num_codes + kTile - 1) / kTile * depth_steps;
  copy_slices(a, x, book, row0, 0, 0, slices, 0);
  float acc[kMicro][kMicro];
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t c0 = step / depth_steps * kTile, k0 = step % depth_steps * kDepth;
    const int buf = static_cast<int>(step % 2);
    if (k0 == 0) {
#pragma unroll
      for (int i = 0; i < kMicro; ++i)
#pragma unroll
        for (int j = 0; j < kMicro; ++j) acc[i][j] = 0.0f;
    }
    if (step + 1 < steps) {
      const int64_t next = step + 1;
      copy_slices(a, x, book, row0, next / depth_steps * kTile, next % depth_steps * kDepth, slices, buf ^ 1);
      __pipeline_wait_prior(1);  // this step's copies are done, the next step's may fly
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();
    // Only the real coordinates: an extra fma(0, 0, -0) would turn a -0 dot into +0.
    const int depth = a.dim - k0 < kDepth ? static_cast<int>(a.dim - k0) : kDepth;
    for (int kk = 0; kk < depth; ++kk) {
      float xv[kMicro], cv[kMicro];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float4 xq = *reinterpret_cast<const float4*>(&slices.xs[buf][kk][h * kHalf + ty * kVec]);
        const float4 cq = *reinterpret_cast<const float4*>(&slices.cs[buf][kk][h * kHalf + tx * kVec]);
        xv[h * kVec] = xq.x, xv[h * kVec + 1] = xq.y, xv[h * kVec + 2] = xq.z, xv[h * kVec + 3] = xq.w;
        cv[h * kVec] = cq.x, cv[h * kVec + 1] = cq.y, cv[h * kVec + 2] = cq.z, cv[h * kVec + 3] = cq.w;
      }
#pragma unroll
      for (int i = 0; i < kMicro; ++i)
#pragma unroll
        for (int j = 0; j < kMicro; ++j) acc[i][j] = fmaf(xv[i], cv[j], acc[i][j]);
    }
    __syncthreads();  // all reads of `buf` done before the step after next copies into it
    if (k0 + kDepth < a.dim) continue;  // this code tile's dots are not complete yet
#pragma unroll
    for (int j = 0; j < kMicro; ++j) {
      const int64_t code = c0 + micro_offset(tx, j);
      if (code >= a.num_codes) continue;
      const float norm = minimize ? norms[code] : 0.0f;
#pragma unroll
      for (int i = 0; i < kMicro; ++i) {
        // ||c||² - 2 x·c as the CPU forms it: fma(-2, dot, ||c||²).
        const Candidate c{minimize ? fmaf(-2.0f, acc[i][j], norm) : acc[i][j], static_cast<int32_t>(code)};
        if (beats(c, best[i], minimize)) best[i] = c;
      }
    }
  }
  for (int i = 0; i < kMicro; ++i) shared.partial[micro_offset(ty, i)][tx] = best[i];
  __syncthreads();
  if (threadIdx.x >= kTile) return;
  const int t = threadIdx.x;
  const int64_t row = row0 + t;
  if (row >= a.rows) return;
  Candidate b = shared.partial[t][0];
  for (int s = 1; s < kSide; ++s) {
    if (beats(shared.partial[t][s], b, minimize)) b = shared.partial[t][s];
  }
  if (a.codes8 != nullptr) {
    a.codes8[row * a.groups + g] = static_cast<uint8_t>(b.code);
    return;
  }
  a.codes32[row] = b.code;
  if (a.distances != nullptr) {
    a.distances[row] = static_cast<float>(exact_score(x + row * a.row_stride, book + b.code * a.dim, a.dim, minimize));
  }
}

}  // namespace

cudaError_t code_norms(const float* codebooks, int64_t groups, int64_t num_codes, int64_t dim, float* norms,
                       cudaStream_t stream) {
  const int64_t count = groups * num_codes;
  if (count == 0) return cudaSuccess;
  norms_kernel<<<blocks_for(count), kBlockThreads, 0, stream>>>(codebooks, count, dim, norms);
  return cudaGetLastError();
}

cudaError_t nearest_codes(const NearestArgs& args, cudaStream_t stream) {
  if (args.rows == 0 || args.groups == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>((args.rows + kTile - 1) / kTile), static_cast<unsigned>(args.groups));
  nearest_kernel<<<grid, kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::codebook
