// The JL projections on the GPU: SRHT, FJLT and sparse JL. Their random parts (signs, the
// SRHT sample, the sparse matrices) are the CPU's own, made on the host from the seed by
// csrc/kernels/jl (lib/cuda/jl.ts asks the CPU addon for them) and passed in device memory,
// so the same seed gives the same projection. The arithmetic follows jl.cc: z = x * sign
// (zero-padded to n), the unnormalized FWHT, then z[sample[i]] * sqrt(1/k) (SRHT) or
// acc = acc + val * z[col] in ascending col from 0 (FJLT, sparse JL on x itself), without
// fused multiply-adds, so outputs equal the CPU's bit for bit.
#pragma once

#include <cstdint>

#include "../common/device_types.h"

namespace embedkit::cuda::jl {

// A k x cols CSR matrix in device memory, columns ascending within a row.
struct DeviceCsr {
  const int32_t* row_ptr = nullptr;  // k + 1
  const int32_t* col = nullptr;
  const float* val = nullptr;
};

struct ProjectionLaunch {
  const float* x = nullptr;  // rows x d
  int64_t rows = 0;
  int64_t d = 0;
  int log2n = 0;             // n = the padded size of d (SRHT, FJLT)
  const float* signs = nullptr;   // n signs (SRHT, FJLT)
  int64_t k = 0;
  float* out = nullptr;      // rows x k
  const int32_t* sample = nullptr;  // SRHT: k ascending coordinates of [0, n)
  float scale = 1.0f;               // SRHT: sqrt(1/k) rounded to float, as jl.cc
  DeviceCsr matrix;                 // FJLT: P (k x n); sparse JL: R (k x d)
};

// Scratch (device bytes) that SRHT / FJLT need for rows of more than 2^15 padded floats,
// which go through a z buffer of at most this many rows at a time; 0 for shorter rows.
size_t projection_scratch_bytes(int64_t rows, int log2n);
cudaError_t launch_srht(const ProjectionLaunch& p, void* scratch, cudaStream_t stream);
cudaError_t launch_fjlt(const ProjectionLaunch& p, void* scratch, cudaStream_t stream);
cudaError_t launch_sparse_projection(const ProjectionLaunch& p, cudaStream_t stream);

}  // namespace embedkit::cuda::jl
