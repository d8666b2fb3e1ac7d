// EMBEDKIT_HOST_DEVICE marks the few pure functions that the CPU kernels and the CUDA
// kernels share (compiled by nvcc as __host__ __device__, by a C++ compiler as plain inline
// functions), so both backends compute them with the same operations.
#pragma once

#ifdef __CUDACC__
#define EMBEDKIT_HOST_DEVICE __host__ __device__
#else
#define EMBEDKIT_HOST_DEVICE
#endif
