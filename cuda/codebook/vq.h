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
  double* log_z_exact = nullptr;  // log Z unrounded (vq_top_k's log-probabilities)
};
cudaError_t vq_rows(const float* logits, int64_t rows, const DeviceVqMap& map, const RowOutputs& out,
                    cudaStream_t stream);

// Scratch for vq_top_k.
size_t vq_top_k_scratch_bytes(int64_t rows, const DeviceVqMap& map);
// The k most likely tokens per row (vq_top_k.cu: codes sorted per row, then only the
// tokens of the codes that can be among the k best): ids (rows x k), descending logit, ties
// in ascending token id, NaN last, the CPU's ids; log_probs = L - log Z (log Z within
// float64 rounding of the CPU's).
cudaError_t vq_top_k(const float* logits, int64_t rows, const DeviceVqMap& map, int64_t k, int32_t* ids,
                     float* log_probs, void* scratch, cudaStream_t stream);

// One token per row (-1 where no code has a finite weight).
cudaError_t vq_sample(const float* logits, int64_t rows, const DeviceVqMap& map, uint64_t seed, double temperature,
                      int32_t* out, cudaStream_t stream);

}  // namespace embedkit::cuda::codebook
