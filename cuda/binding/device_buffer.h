// Device memory as the CUDA addon hands it to JavaScript: a DeviceBuffer behind a type-tagged
// Napi::External (lib/cuda.ts wraps it in DeviceArray). An integer array copied from the host
// also carries an IndexSummary computed in that same pass, so an op can check index ranges
// and bag boundaries on the host, before launching, without reading the device copy back.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "../common/device_types.h"

namespace embedkit::cuda::binding {

// What the binding knows of an integer array's values without looking at the device.
struct IndexSummary {
  bool known = false;       // false for arrays written on the device (empty())
  int64_t min = 0, min_at = -1;
  int64_t max = 0, max_at = -1;
  int64_t first = 0, last = 0;
  int64_t decrease_at = -1;  // the first i with a[i] < a[i - 1], or -1
  int64_t sum = 0;
  bool sum_overflows = false;
  // Set for an op's output whose values the host knows only within [min, max] (no
  // positions, nothing else): embeddingBag's argmax (-1, or one of its indices) and
  // pqEncode's codes (below 2^bits). Only the ops that take such an output accept it.
  bool bounds_only = false;
};

struct DeviceBuffer {
  void* data = nullptr;
  int64_t length = 0;  // elements
  Dtype dtype = Dtype::Float32;
  int device = 0;
  IndexSummary summary;
  bool disposed = false;

  int64_t bytes() const { return length * dtype_size(dtype); }
};

// The stream every op on `device` is queued on: one per device for the process, created on
// first use, never destroyed (ops from every thread and worker are ordered on it).
cudaStream_t stream_for(Napi::Env env, int device);

// Makes `device` current on this thread (the runtime keeps the current device per thread).
void use_device(Napi::Env env, int device);

// Throws a JS Error for a failed CUDA call: "<what>: <cuda error text>".
void check_cuda(Napi::Env env, cudaError_t status, const char* what);

// A new handle owning `data` (device memory of `length` dtype elements on `device`),
// reported to V8 as external memory and freed by dispose() or, failing that, its finalizer.
Napi::Value wrap_buffer(Napi::Env env, DeviceBuffer buffer);

// `length` elements of `dtype` on `device`, uninitialized (a RangeError when the device is
// out of memory); wrap_buffer hands it to JavaScript.
DeviceBuffer allocate_buffer(Napi::Env env, int device, Dtype dtype, int64_t length);

// The live buffer behind a handle argument: a TypeError naming `name` when v is not one of
// this addon's handles or was disposed.
DeviceBuffer& unwrap_buffer(Napi::Env env, const Napi::Value& v, const char* name);

// Frees the buffer's memory (stream-ordered: after every op already queued) and marks it
// disposed; a second call does nothing.
void release_buffer(Napi::Env env, DeviceBuffer& buffer);

// The summary of an Int32 / Uint32 / Int64 array (indices) or a Uint8 array (PQ codes).
IndexSummary summarize_indices(const void* data, Dtype dtype, int64_t length);

// An op wrote `b` on the device: what the host knew of its values no longer holds.
inline void forget_values(DeviceBuffer& b) { b.summary = IndexSummary{}; }

// An op wrote `b` on the device with values known to lie in [min, max].
inline void bound_values(DeviceBuffer& b, int64_t min, int64_t max) {
  b.summary = IndexSummary{};
  b.summary.known = true;
  b.summary.bounds_only = true;
  b.summary.min = min;
  b.summary.max = max;
}

}  // namespace embedkit::cuda::binding
