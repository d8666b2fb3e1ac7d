// VQ-Logits on the GPU: the launch contract. The map (csrc/kernels/codebook/codebook.h
// VqMap: token -> code, per-code counts and ln counts, the inverse CSR) lives in device
// memory, copied once from a VqMap. The semantics are the CPU's (vq.cc): log Z per row =
// logsumexp over the codes with tokens of (L_j + ln n_j) in float64 (NaN propagates, all
// -inf gives -inf), and sampling draws the code from a float64 CDF in code order with the
// CPU's Philox stream, so the same seed gives the same tokens.
#pragma once

#include <cstdint>

#include "../../csrc/kernels/codebook/codebook.h"
#include "../common/device_types.h"

namespace embedkit::cuda::codebook {

// The CPU's map type (csrc/kernels/codebook/codebook.h), its pointers into device memory.
using DeviceVqMap = embedkit::codebook::VqMap;

// out (rows x V): out[b][t] = logits[b][token_to_code[t]].
cudaError_t vq_expand(const float* logits, int64_t rows, const DeviceVqMap& map, float* out, cudaStream_t stream);

// What the O(K) row operations write (null pointers are skipped):
// log_z[b]: the log-partition; log_softmax (rows x K): L_j - log Z;
// with targets: loss[b] = log Z - L[code(target)], grad (rows x K) = n_j exp(L_j - log Z) - [j == code(target)].
struct RowOutputs {
  float* log_z = nullptr;
  float* log_softmax = nullptr;
  DeviceIndices targets;
  float* loss = nullptr;
  float* grad = nullptr;
};
cudaError_t vq_rows(const float* logits, int64_t rows, const DeviceVqMap& map, const RowOutputs& out,
                    cudaStream_t stream);

// One token per row (-1 where no code has a finite weight).
cudaError_t vq_sample(const float* logits, int64_t rows, const DeviceVqMap& map, uint64_t seed, double temperature,
                      int32_t* out, cudaStream_t stream);

}  // namespace embedkit::cuda::codebook
