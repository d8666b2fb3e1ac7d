// RoPE on the GPU: the launch contract. Angles are the CPU's (csrc/kernels/rope/rope.h):
// theta_i = to(t) * to_freq[i], or (to(t) - from(t)) * to_freq[i] for a re-rotation with one
// frequency set, or to(t) * to_freq[i] - from(t) * from_freq[i] with two; negated for the
// inverse; in float64 with the CPU's own reduction and polynomials (sincos_reduced.h), then
// scaled and rounded to float32: the same tables, so the same output bits. The binding
// validates everything first; kernels assume valid input.
#pragma once

#include <cstdint>

#include "../common/device_types.h"

namespace embedkit::cuda::rope {

enum class Layout : int { Neox = 0, Gptj = 1 };

// Position of token t: positions[t] (an index array on the device) or offset + t.
struct DevicePositions {
  DeviceIndices array;  // data null: no array
  int64_t offset = 0;
};

// One tensor of tokens x heads x head_dim floats; dst == src is in place.
struct DeviceTensor {
  const float* src = nullptr;
  float* dst = nullptr;
  int64_t heads = 0;  // 0: absent
};

struct RopeLaunch {
  Layout layout = Layout::Neox;
  int64_t tokens = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;  // even, 2 <= rotary_dim <= head_dim
  DevicePositions to;
  DevicePositions from;
  bool has_from = false;
  const double* to_freq = nullptr;    // rotary_dim / 2 inverse frequencies, device memory
  const double* from_freq = nullptr;  // null: one frequency set
  double scale = 1.0;
  bool negate = false;
  DeviceTensor q;
  DeviceTensor k;
};

// One block per token: its threads compute the token's tables into shared memory once, then
// rotate every head of q and k with them (16-byte loads where the row layout allows).
cudaError_t launch_rope(const RopeLaunch& launch, cudaStream_t stream);

}  // namespace embedkit::cuda::rope
