// The nearest-codeword kernel: a 64-row x 64-code tile per block, each of its 256 threads
// holding a 4 x 4 block of dot products in registers while the depth runs through shared
// memory 16 coordinates at a time. Every dot product is one fma chain in ascending k, as on
// the CPU; the float64 sums (norms, distances) use explicit _rn operations so that nvcc
// cannot contract them into fmas the CPU does not use.
#include <cmath>

#include "../../csrc/kernels/codebook/rank_order.h"
#include "../common/lane_groups.cuh"
#include "nearest.h"

namespace embedkit::cuda::codebook {
namespace {

constexpr int kTileRows = 64;
constexpr int kTileCodes = 64;
constexpr int kDepth = 16;
constexpr int kSide = 16;   // threads per tile side
constexpr int kMicro = 4;   // rows (and codes) per thread
constexpr int kThreads = kSide * kSide;
static_assert(kSide * kMicro == kTileRows && kSide * kMicro == kTileCodes, "the micro tiles cover the tile");

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

__global__ void __launch_bounds__(kThreads) nearest_kernel(NearestArgs a) {
  // +1: the loads below write along k; the padding spreads them over the banks.
  __shared__ float xs[kDepth][kTileRows + 1];
  __shared__ float cs[kDepth][kTileCodes + 1];
  __shared__ Candidate partial[kTileRows][kSide];
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int64_t row0 = int64_t{blockIdx.x} * kTileRows;
  const int64_t g = blockIdx.y;
  const float* x = a.x + g * a.dim;
  const float* book = a.codebooks + g * a.num_codes * a.dim;
  const float* norms = a.norms + g * a.num_codes;
  const bool minimize = a.metric == Metric::L2;

  Candidate best[kMicro];
  for (int i = 0; i < kMicro; ++i) best[i] = Candidate{0.0f, -1};

  for (int64_t c0 = 0; c0 < a.num_codes; c0 += kTileCodes) {
    float acc[kMicro][kMicro];
    for (int i = 0; i < kMicro; ++i)
      for (int j = 0; j < kMicro; ++j) acc[i][j] = 0.0f;
    for (int64_t k0 = 0; k0 < a.dim; k0 += kDepth) {
      for (int e = threadIdx.x; e < kTileRows * kDepth; e += kThreads) {
        const int t = e / kDepth, kk = e % kDepth;
        const int64_t k = k0 + kk, row = row0 + t, code = c0 + t;
        xs[kk][t] = row < a.rows && k < a.dim ? x[row * a.row_stride + k] : 0.0f;
        cs[kk][t] = code < a.num_codes && k < a.dim ? book[code * a.dim + k] : 0.0f;
      }
      __syncthreads();
      // Only the real coordinates: an extra fma(0, 0, -0) would turn a -0 dot into +0.
      const int depth = a.dim - k0 < kDepth ? static_cast<int>(a.dim - k0) : kDepth;
      for (int kk = 0; kk < depth; ++kk) {
        float xv[kMicro], cv[kMicro];
        for (int i = 0; i < kMicro; ++i) xv[i] = xs[kk][ty + kSide * i];
        for (int j = 0; j < kMicro; ++j) cv[j] = cs[kk][tx + kSide * j];
        for (int i = 0; i < kMicro; ++i)
          for (int j = 0; j < kMicro; ++j) acc[i][j] = fmaf(xv[i], cv[j], acc[i][j]);
      }
      __syncthreads();
    }
    for (int j = 0; j < kMicro; ++j) {
      const int64_t code = c0 + tx + kSide * j;
      if (code >= a.num_codes) continue;
      const float norm = minimize ? norms[code] : 0.0f;
      for (int i = 0; i < kMicro; ++i) {
        // ||c||² - 2 x·c as the CPU forms it: fma(-2, dot, ||c||²).
        const Candidate c{minimize ? fmaf(-2.0f, acc[i][j], norm) : acc[i][j], static_cast<int32_t>(code)};
        if (beats(c, best[i], minimize)) best[i] = c;
      }
    }
  }
  for (int i = 0; i < kMicro; ++i) partial[ty + kSide * i][tx] = best[i];
  __syncthreads();
  if (threadIdx.x >= kTileRows) return;
  const int t = threadIdx.x;
  const int64_t row = row0 + t;
  if (row >= a.rows) return;
  Candidate b = partial[t][0];
  for (int s = 1; s < kSide; ++s) {
    if (beats(partial[t][s], b, minimize)) b = partial[t][s];
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
  const dim3 grid(static_cast<unsigned>((args.rows + kTileRows - 1) / kTileRows), static_cast<unsigned>(args.groups));
  nearest_kernel<<<grid, kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::codebook
