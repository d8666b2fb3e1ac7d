// The RoPE kernel. Built with --fmad=false (CMakeLists.txt): the table arithmetic must not
// be contracted, and the rotation is the CPU's (x1*c - x2*s, x2*c + x1*s, each product
// rounded), so the output equals the CPU's bit for bit.
#include "../../csrc/kernels/rope/sincos_reduced.h"
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "rope.h"

namespace embedkit::cuda::rope {
namespace {

constexpr int kRopeThreads = 256;

__device__ __forceinline__ int64_t position_of(const DevicePositions& p, int64_t t) {
  if (p.array.data == nullptr) return p.offset + t;
  switch (p.array.dtype) {
    case Dtype::Int32: return load_index<int32_t>(p.array.data, t);
    case Dtype::Uint32: return load_index<uint32_t>(p.array.data, t);
    default: return load_index<int64_t>(p.array.data, t);
  }
}

// Token t's tables, as csrc/kernels/rope/rope.cc token_tables computes them.
__device__ void token_tables(const RopeLaunch& r, int64_t t, float* cos, float* sin) {
  const int64_t half = r.rotary_dim / 2;
  const int64_t to = position_of(r.to, t);
  double to_pos = static_cast<double>(to), from_pos = 0;
  const bool two_sets = r.has_from && r.from_freq != nullptr;
  if (r.has_from && !two_sets) to_pos = static_cast<double>(to - position_of(r.from, t));
  if (two_sets) from_pos = static_cast<double>(position_of(r.from, t));
  const double scale_cos = r.scale;
  const double scale_sin = r.negate ? -r.scale : r.scale;
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const double theta = two_sets ? to_pos * r.to_freq[i] - from_pos * r.from_freq[i] : to_pos * r.to_freq[i];
    double s, c;
    if (theta < embedkit::rope::trig::kReduceLimit && theta > -embedkit::rope::trig::kReduceLimit) {
      embedkit::rope::trig::sincos_reduced(theta, &s, &c);
    } else {
      ::sincos(theta, &s, &c);  // beyond the fast reduction (the CPU uses libm there)
    }
    cos[i] = static_cast<float>(c * scale_cos);
    sin[i] = static_cast<float>(s * scale_sin);
  }
}

// kWidth consecutive floats: one 16-byte access when kWidth is 4, else single floats.
template <int kWidth>
struct Floats {
  float v[kWidth];
  __device__ void load(const float* p) {
    if constexpr (kWidth == 4) {
      const float4 f = *reinterpret_cast<const float4*>(p);
      v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
    } else {
#pragma unroll
      for (int j = 0; j < kWidth; ++j) v[j] = p[j];
    }
  }
  __device__ void store(float* p) const {
    if constexpr (kWidth == 4) {
      *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
#pragma unroll
      for (int j = 0; j < kWidth; ++j) p[j] = v[j];
    }
  }
};

// (x1, x2) -> (x1*c - x2*s, x2*c + x1*s), each product rounded before the sum (ref.cc).
__device__ __forceinline__ void rotate_pair(float x1, float x2, float c, float s, float* y1, float* y2) {
  const float a = x1 * c, b = x2 * s, cc = x2 * c, d = x1 * s;
  *y1 = a - b;
  *y2 = cc + d;
}

// Every head of one token's rows. NeoX: a thread takes kWidth columns of the first half and
// the same columns of the second half. GPT-J: a thread takes kWidth interleaved columns
// (kWidth / 2 pairs).
template <Layout kLayout, int kWidth>
__device__ void rotate_rows(const float* src, float* dst, int64_t heads, int64_t head_dim,
                            int64_t rotary_dim, const float* cos, const float* sin) {
  const int64_t half = rotary_dim / 2;
  const int64_t per_head = (kLayout == Layout::Neox ? half : rotary_dim) / kWidth;
  for (int64_t item = threadIdx.x; item < heads * per_head; item += blockDim.x) {
    const int64_t h = item / per_head;
    const int64_t col = (item % per_head) * kWidth;
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    if constexpr (kLayout == Layout::Neox) {
      Floats<kWidth> x1, x2, y1, y2;
      x1.load(x + col);
      x2.load(x + half + col);
#pragma unroll
      for (int j = 0; j < kWidth; ++j) rotate_pair(x1.v[j], x2.v[j], cos[col + j], sin[col + j], &y1.v[j], &y2.v[j]);
      y1.store(y + col);
      y2.store(y + half + col);
    } else {
      Floats<kWidth> xs, ys;
      xs.load(x + col);
#pragma unroll
      for (int j = 0; j < kWidth; j += 2) {
        const int64_t pair = (col + j) / 2;
        rotate_pair(xs.v[j], xs.v[j + 1], cos[pair], sin[pair], &ys.v[j], &ys.v[j + 1]);
      }
      ys.store(y + col);
    }
  }
  // Columns past rotary_dim are carried over when the result goes elsewhere.
  const int64_t pass = head_dim - rotary_dim;
  if (src != dst && pass > 0) {
    for (int64_t item = threadIdx.x; item < heads * pass; item += blockDim.x) {
      const int64_t h = item / pass;
      const int64_t col = rotary_dim + item % pass;
      dst[h * head_dim + col] = src[h * head_dim + col];
    }
  }
}

template <Layout kLayout, int kWidth>
__global__ void __launch_bounds__(kRopeThreads) rope_kernel(RopeLaunch r) {
  extern __shared__ float tables[];
  const int64_t half = r.rotary_dim / 2;
  float* cos = tables;
  float* sin = tables + half;
  const int64_t t = blockIdx.x;
  token_tables(r, t, cos, sin);
  __syncthreads();
  const DeviceTensor* tensors[2] = {&r.q, &r.k};
  for (const DeviceTensor* x : tensors) {
    if (x->heads == 0) continue;
    const int64_t offset = t * x->heads * r.head_dim;
    rotate_rows<kLayout, kWidth>(x->src + offset, x->dst + offset, x->heads, r.head_dim, r.rotary_dim, cos, sin);
  }
}


}  // namespace

cudaError_t launch_rope(const RopeLaunch& r, cudaStream_t stream) {
  if (r.tokens == 0) return cudaSuccess;
  const int64_t half = r.rotary_dim / 2;
  // 16-byte accesses need every row start and every slice start on a 16-byte boundary.
  bool wide = r.head_dim % 4 == 0 && aligned16(r.q.src) && aligned16(r.q.dst) &&
              (r.k.heads == 0 || (aligned16(r.k.src) && aligned16(r.k.dst)));
  wide = wide && (r.layout == Layout::Neox ? half % 4 == 0 : r.rotary_dim % 4 == 0);
  const size_t shared = static_cast<size_t>(r.rotary_dim) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(r.tokens));
  if (r.layout == Layout::Neox) {
    auto kernel = wide ? rope_kernel<Layout::Neox, 4> : rope_kernel<Layout::Neox, 1>;
    kernel<<<grid, kRopeThreads, shared, stream>>>(r);
  } else {
    auto kernel = wide ? rope_kernel<Layout::Gptj, 4> : rope_kernel<Layout::Gptj, 2>;
    kernel<<<grid, kRopeThreads, shared, stream>>>(r);
  }
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::rope
