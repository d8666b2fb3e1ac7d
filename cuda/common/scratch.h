// Carving one scratch allocation into arrays: each part starts on a 256-byte boundary (what
// cudaMalloc guarantees for a whole allocation, and what CUB's temporary storage expects).
#pragma once

#include <cstddef>

namespace embedkit::cuda {

inline size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace embedkit::cuda
