// SRHT / FJLT kernels: rows up to 2^15 padded floats run the FWHT row kernel with a policy
// that reads the signed, zero-padded row and, once the row is transformed in shared memory,
// writes the outputs (the sampled coordinates, or P's rows). Longer rows go through a z
// buffer: sign and pad, cuda.fwht's passes, then the same outputs from global memory.
// Sparse JL needs no transform: one thread per (row, output) walks R's row.
// Built with --fmad=false (CMakeLists.txt): the sums must be the CPU's.
#include <algorithm>

#include "../common/lane_groups.cuh"
#include "fwht_rows.cuh"
#include "project.h"

namespace embedkit::cuda::jl {
namespace {

constexpr int64_t kScratchFloats = int64_t{64} << 20;  // 256 MiB of z rows at a time

// Output i of one row from its transformed values z (shared or global memory).
struct SampleOutputs {
  const int32_t* sample;
  float scale;
  __device__ float operator()(const float* z, int64_t i) const { return z[sample[i]] * scale; }
};
struct SparseOutputs {
  DeviceCsr m;
  __device__ float operator()(const float* z, int64_t i) const {
    float acc = 0.0f;
    for (int32_t p = m.row_ptr[i]; p < m.row_ptr[i + 1]; ++p) acc = acc + m.val[p] * z[m.col[p]];
    return acc;
  }
};

__device__ __forceinline__ float signed_padded(const ProjectionLaunch& p, int64_t row, int64_t j) {
  return j < p.d ? p.x[row * p.d + j] * p.signs[j] : 0.0f;
}

// The row kernel's policy: values from the signed, padded row; outputs from the transformed
// row once the whole group has stored it to its shared memory.
template <class Outputs>
struct ProjectRows {
  static constexpr bool kRowInShared = true;
  ProjectionLaunch p;
  Outputs outputs;
  template <int E>
  __device__ void load(int64_t row, int64_t first, float (&v)[E]) const {
#pragma unroll
    for (int j = 0; j < E; ++j) v[j] = signed_padded(p, row, first + j);
  }
  template <int E>
  __device__ void finish(int64_t row, const RowGroup& g, const float (&v)[E]) const {
#pragma unroll
    for (int j = 0; j < E; ++j) g.shared_row[g.t * E + j] = v[j];
    g.sync();
    for (int64_t i = g.t; i < p.k; i += g.size) p.out[row * p.k + i] = outputs(g.shared_row, i);
  }
};

__global__ void sign_pad_kernel(ProjectionLaunch p, int64_t row0, int64_t rows, float* z) {
  const int64_t n = int64_t{1} << p.log2n;
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= rows * n) return;
  z[i] = signed_padded(p, row0 + i / n, i % n);
}

template <class Outputs>
__global__ void outputs_kernel(ProjectionLaunch p, Outputs outputs, int64_t row0, int64_t rows, const float* z) {
  const int64_t n = int64_t{1} << p.log2n;
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= rows * p.k) return;
  const int64_t row = i / p.k;
  p.out[(row0 + row) * p.k + i % p.k] = outputs(z + row * n, i % p.k);
}


template <class Outputs>
cudaError_t launch_transformed(const ProjectionLaunch& p, const Outputs& outputs, void* scratch, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  if (p.log2n <= kMaxRowLog2) {
    if (p.log2n == 0) {  // n = 1: nothing to transform; the kernel below handles one value
      float* z = static_cast<float*>(scratch);
      sign_pad_kernel<<<blocks_for(p.rows), kBlockThreads, 0, stream>>>(p, 0, p.rows, z);
      outputs_kernel<<<blocks_for(p.rows * p.k), kBlockThreads, 0, stream>>>(p, outputs, 0, p.rows, z);
      return cudaGetLastError();
    }
    return launch_row_kernel_for(p.log2n, ProjectRows<Outputs>{p, outputs}, p.rows, stream);
  }
  const int64_t n = int64_t{1} << p.log2n;
  const int64_t chunk = std::max<int64_t>(1, kScratchFloats / n);
  float* z = static_cast<float*>(scratch);
  for (int64_t row0 = 0; row0 < p.rows; row0 += chunk) {
    const int64_t rows = std::min(chunk, p.rows - row0);
    sign_pad_kernel<<<blocks_for(rows * n), kBlockThreads, 0, stream>>>(p, row0, rows, z);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = launch_fwht(z, rows, p.log2n, 1.0f, stream);
    if (e != cudaSuccess) return e;
    outputs_kernel<<<blocks_for(rows * p.k), kBlockThreads, 0, stream>>>(p, outputs, row0, rows, z);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
  }
  return cudaSuccess;
}

__global__ void sparse_projection_kernel(ProjectionLaunch p) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= p.rows * p.k) return;
  const int64_t row = i / p.k;
  p.out[i] = SparseOutputs{p.matrix}(p.x + row * p.d, i % p.k);
}

}  // namespace

size_t projection_scratch_bytes(int64_t rows, int log2n) {
  if (log2n == 0) return static_cast<size_t>(rows) * sizeof(float);
  if (log2n <= kMaxRowLog2) return 0;
  const int64_t n = int64_t{1} << log2n;
  return static_cast<size_t>(std::min(rows, std::max<int64_t>(1, kScratchFloats / n)) * n) * sizeof(float);
}

cudaError_t launch_srht(const ProjectionLaunch& p, void* scratch, cudaStream_t stream) {
  return launch_transformed(p, SampleOutputs{p.sample, p.scale}, scratch, stream);
}

cudaError_t launch_fjlt(const ProjectionLaunch& p, void* scratch, cudaStream_t stream) {
  return launch_transformed(p, SparseOutputs{p.matrix}, scratch, stream);
}

cudaError_t launch_sparse_projection(const ProjectionLaunch& p, cudaStream_t stream) {
  if (p.rows == 0 || p.k == 0) return cudaSuccess;
  sparse_projection_kernel<<<blocks_for(p.rows * p.k), kBlockThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::jl
