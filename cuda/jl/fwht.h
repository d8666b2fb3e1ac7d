// The fast Walsh-Hadamard transform on the GPU: the launch contract. Rows of n = 2^log2n
// floats, in place, every level in increasing order of its butterfly distance with the
// CPU's operations ((a, b) -> (a + b, a - b), then one multiply by `scale`), so the result
// equals the CPU's (csrc/kernels/jl/ref.cc) bit for bit.
#pragma once

#include <cstdint>

#include "../common/device_types.h"

namespace embedkit::cuda::jl {

// Rows up to this size are transformed by one block in registers and shared memory.
constexpr int kMaxRowLog2 = 15;

// log2n from 0 to 30; rows * 2^log2n floats at x. Larger rows take one more pass over the
// array for every five levels past 2^15.
cudaError_t launch_fwht(float* x, int64_t rows, int log2n, float scale, cudaStream_t stream);

}  // namespace embedkit::cuda::jl
