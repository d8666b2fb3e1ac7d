// A slice of one float row as one thread holds it: a float4 (16-byte loads and stores, for
// rows whose length is a multiple of 4) or a single float (any other row length). The
// kernels are written once over this type; the launcher picks the width.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace embedkit::cuda {

template <int kWidth>
struct RowVector;

// The row id that won each element of a max-pooled RowVector (embeddingBag's argmax).
template <int kWidth>
struct RowIds {
  int32_t id[kWidth];
  __device__ static RowIds all(int32_t v) {
    RowIds r;
    for (int i = 0; i < kWidth; ++i) r.id[i] = v;
    return r;
  }
  __device__ void store(int32_t* p) const {
    for (int i = 0; i < kWidth; ++i) p[i] = id[i];
  }
  __device__ static RowIds load(const int32_t* p) {
    RowIds r;
    for (int i = 0; i < kWidth; ++i) r.id[i] = p[i];
    return r;
  }
};

// The max rule, element by element: x replaces `held` when greater. With `over_nan` a held
// NaN is replaced too (a long bag's chunks skip NaN this way; cuda/gather/long_bags.cu).
__device__ __forceinline__ bool replaces(float x, float held, bool over_nan) {
  return x > held || (over_nan && held != held);
}

template <>
struct RowVector<4> {
  float4 v;
  // Read-only path: tables and inputs are never written by the kernel that reads them.
  __device__ static RowVector load(const float* p) {
    return {__ldg(reinterpret_cast<const float4*>(p))};
  }
  __device__ void store(float* p) const { *reinterpret_cast<float4*>(p) = v; }
  // A plain load, for memory this kernel also writes (an accumulated output row).
  __device__ static RowVector load_plain(const float* p) { return {*reinterpret_cast<const float4*>(p)}; }
  __device__ void scale(float w) { v.x *= w; v.y *= w; v.z *= w; v.w *= w; }
  __device__ static RowVector zero() { return {make_float4(0.f, 0.f, 0.f, 0.f)}; }
  __device__ static RowVector from(const float (&v)[4]) { return {make_float4(v[0], v[1], v[2], v[3])}; }
  __device__ void add(const RowVector& x) { v.x += x.v.x; v.y += x.v.y; v.z += x.v.z; v.w += x.v.w; }
  __device__ void fma(float w, const RowVector& x) {
    v.x = fmaf(w, x.v.x, v.x); v.y = fmaf(w, x.v.y, v.y);
    v.z = fmaf(w, x.v.z, v.z); v.w = fmaf(w, x.v.w, v.w);
  }
  // Keeps x where it is greater (a NaN already held stays; a NaN offered is not taken),
  // the CPU kernels' rule; `over_nan` replaces a held NaN too.
  __device__ void max_with(const RowVector& x, bool over_nan = false) {
    if (replaces(x.v.x, v.x, over_nan)) v.x = x.v.x;
    if (replaces(x.v.y, v.y, over_nan)) v.y = x.v.y;
    if (replaces(x.v.z, v.z, over_nan)) v.z = x.v.z;
    if (replaces(x.v.w, v.w, over_nan)) v.w = x.v.w;
  }
  // max_with, recording ids.id[i] as the winner of each element it takes.
  __device__ void max_with(const RowVector& x, const RowIds<4>& ids, RowIds<4>& winners, bool over_nan = false) {
    if (replaces(x.v.x, v.x, over_nan)) v.x = x.v.x, winners.id[0] = ids.id[0];
    if (replaces(x.v.y, v.y, over_nan)) v.y = x.v.y, winners.id[1] = ids.id[1];
    if (replaces(x.v.z, v.z, over_nan)) v.z = x.v.z, winners.id[2] = ids.id[2];
    if (replaces(x.v.w, v.w, over_nan)) v.w = x.v.w, winners.id[3] = ids.id[3];
  }
  __device__ void divide(float d) { v.x = v.x / d; v.y = v.y / d; v.z = v.z / d; v.w = v.w / d; }
  // acc + this . x, element by element in order.
  __device__ float dot(const RowVector& x, float acc) const {
    return fmaf(v.w, x.v.w, fmaf(v.z, x.v.z, fmaf(v.y, x.v.y, fmaf(v.x, x.v.x, acc))));
  }
};

template <>
struct RowVector<1> {
  float v;
  __device__ static RowVector load(const float* p) { return {__ldg(p)}; }
  __device__ void store(float* p) const { *p = v; }
  __device__ static RowVector load_plain(const float* p) { return {*p}; }
  __device__ void scale(float w) { v *= w; }
  __device__ static RowVector zero() { return {0.f}; }
  __device__ static RowVector from(const float (&v)[1]) { return {v[0]}; }
  __device__ void add(const RowVector& x) { v += x.v; }
  __device__ void fma(float w, const RowVector& x) { v = fmaf(w, x.v, v); }
  __device__ void max_with(const RowVector& x, bool over_nan = false) {
    if (replaces(x.v, v, over_nan)) v = x.v;
  }
  __device__ void max_with(const RowVector& x, const RowIds<1>& ids, RowIds<1>& winners, bool over_nan = false) {
    if (replaces(x.v, v, over_nan)) v = x.v, winners.id[0] = ids.id[0];
  }
  __device__ void divide(float d) { v = v / d; }
  __device__ float dot(const RowVector& x, float acc) const { return fmaf(v, x.v, acc); }
};

}  // namespace embedkit::cuda
