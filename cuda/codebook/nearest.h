// Nearest-codeword search on the GPU: cuda.codebookAssign and cuda.pqEncode. The CPU's SIMD
// score kernel (csrc/kernels/codebook/body.h) scores code c of row x as
//   dot = fma(x[k], c[k], dot) for k = 0, 1, ... (one float32 chain, from 0)
//   score = fma(-2, dot, ||c||²) for l2 (||c||² a float64 sum rounded once), dot for ip,
// and keeps the first code with a strictly better score. The GPU computes the same chains,
// so it picks the same code as the CPU's AVX2 / AVX-512 / NEON paths, and the float64
// distance recomputed from that code is the same too.
#pragma once

#include <cstdint>

#include "../common/device_types.h"

namespace embedkit::cuda::codebook {

enum class Metric : int { L2 = 0, InnerProduct = 1 };

// norms[g * num_codes + c] = (float) sum_k codebooks[g][c][k]² in float64, k ascending,
// for `groups` codebooks of num_codes x dim each.
cudaError_t code_norms(const float* codebooks, int64_t groups, int64_t num_codes, int64_t dim, float* norms,
                       cudaStream_t stream);

// Rows of x and codebooks cut into `groups` subspaces (1 for a plain codebook): row r of
// subspace g is x + r * row_stride + g * dim; its codebook codebooks + g * num_codes * dim.
struct NearestArgs {
  const float* x = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
  int64_t row_stride = 0;
  int64_t groups = 1;
  const float* codebooks = nullptr;
  const float* norms = nullptr;  // groups x num_codes, from code_norms
  int64_t num_codes = 0;
  Metric metric = Metric::L2;
  // Exactly one of: codes32 (rows; groups == 1), then distances (rows, optional): ||x - c||²
  // (l2, float64 from the difference) or x·c (ip, float64); or codes8 (rows x groups).
  int32_t* codes32 = nullptr;
  float* distances = nullptr;
  uint8_t* codes8 = nullptr;
};

// num_codes >= 1 and dim >= 1; rows and groups below 2^31.
cudaError_t nearest_codes(const NearestArgs& args, cudaStream_t stream);

}  // namespace embedkit::cuda::codebook
