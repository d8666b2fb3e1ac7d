// Angles, sin/cos, dispatch and work splitting for the RoPE family. Tokens are cut into
// contiguous ranges; every token's tables and rows are computed by one task from that
// token alone, so the output is identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../common/kernel_stats.h"
#include "../common/kernel_table.h"
#include "../common/parallel.h"
#include "rope.h"
#include "exact_fp.h"
#include "sincos_body.h"

namespace embedkit::rope {
namespace {

// Below this many floats rotated, a task is not worth a thread hand-off (~32 KiB).
constexpr int64_t kMinFloatsPerTask = 8192;
// Tables up to this many floats live on the stack.
constexpr int64_t kStackTableFloats = 3 * 1024;
// Cache rows per task when filling a cache (a row is rotary_dim / 2 sin/cos pairs).
constexpr int64_t kMinCacheRowsPerTask = 256;

}  // namespace

void sincos64(double x, double* s, double* c) {
  const double ax = x < 0 ? -x : x;
  if (!(ax < trig::kReduceLimit)) {  // huge or NaN: libm's full reduction
    *s = std::sin(x);
    *c = std::cos(x);
    return;
  }
  trig::sincos_reduced(x, s, c);
}

void token_tables(const Kernels& k, const Rotation& r, int64_t t, float* cos, float* sin) {
  const int64_t half = r.rotary_dim / 2;
  const int64_t to = r.to.at(t);
  if (r.cache_cos != nullptr) {
    // Negating a rounded value is exact, so this is the bits of the computed path.
    const float* c = r.cache_cos + to * half;
    const float* s = r.cache_sin + to * half;
    for (int64_t i = 0; i < half; ++i) cos[i] = c[i];
    if (r.negate) {
      for (int64_t i = 0; i < half; ++i) sin[i] = -s[i];
    } else {
      for (int64_t i = 0; i < half; ++i) sin[i] = s[i];
    }
    return;
  }
  Angles a;
  a.to_freq = r.to_freq;
  if (!r.has_from) {
    a.to_pos = static_cast<double>(to);
  } else if (r.from_freq == nullptr) {
    // One frequency set: R(to * f) R(from * f)^T = R((to - from) * f), the difference
    // taken exactly in integers first.
    a.to_pos = static_cast<double>(to - r.from.at(t));
  } else {
    a.to_pos = static_cast<double>(to);
    a.from_pos = static_cast<double>(r.from.at(t));
    a.from_freq = r.from_freq;
  }
  const double scale_cos = r.scale;
  const double scale_sin = r.negate ? -r.scale : r.scale;
  if (k.tables(a, half, scale_cos, scale_sin, cos, sin)) return;
  // Some angle is beyond the fast reduction: per angle, which gives the same bits for the
  // angles within it.
  for (int64_t i = 0; i < half; ++i) {
    double s, c;
    sincos64(trig::angle(a, i), &s, &c);
    cos[i] = static_cast<float>(c * scale_cos);
    sin[i] = static_cast<float>(s * scale_sin);
  }
}

const Kernels& kernels_for(Isa isa) {
  return select_kernels(isa, reference_kernels(), avx2_kernels, avx512_kernels, neon_kernels);
}

namespace {

void rotate_range(const Kernels& k, const Rotation& r, const Tensor& q, const Tensor& kt,
                  int64_t t_begin, int64_t t_end) {
  const int64_t rot = r.rotary_dim;
  const int64_t half = rot / 2;
  const int64_t hd = r.head_dim;
  float stack[kStackTableFloats];
  std::vector<float> heap;
  float* tables = stack;
  if (3 * rot > kStackTableFloats) {
    heap.resize(static_cast<size_t>(3 * rot));
    tables = heap.data();
  }
  float* cos = tables;
  float* sin = tables + half;
  float* cos2 = tables + rot;
  float* sin2 = tables + 2 * rot;
  const bool gptj = r.layout == Layout::Gptj;
  for (int64_t t = t_begin; t < t_end; ++t) {
    token_tables(k, r, t, cos, sin);
    if (gptj) {
      for (int64_t i = 0; i < half; ++i) {
        cos2[2 * i] = cos[i];
        cos2[2 * i + 1] = cos[i];
        sin2[2 * i] = -sin[i];
        sin2[2 * i + 1] = sin[i];
      }
    }
    const Tensor* tensors[2] = {&q, &kt};
    for (const Tensor* x : tensors) {
      if (x->heads == 0) continue;
      const int64_t off = t * x->heads * hd;
      if (gptj) {
        k.rotate_gptj(x->src + off, x->dst + off, x->heads, hd, rot, cos2, sin2);
      } else {
        k.rotate_neox(x->src + off, x->dst + off, x->heads, hd, rot, cos, sin);
      }
    }
  }
}

}  // namespace

void apply(const Rotation& r, int64_t tokens, const Tensor& q, const Tensor& k) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& kernels = kernels_for(isa);
  if (tokens == 0 || r.head_dim == 0 || (q.heads == 0 && k.heads == 0)) return;
  const int64_t per_token = (q.heads + k.heads) * r.head_dim;
  const int64_t tasks = std::min<int64_t>(tokens, task_count_for(tokens * per_token, kMinFloatsPerTask));
  if (tasks <= 1) {
    rotate_range(kernels, r, q, k, 0, tokens);
    return;
  }
  parallel_for(tasks, [&](int64_t t) {
    rotate_range(kernels, r, q, k, tokens * t / tasks, tokens * (t + 1) / tasks);
  });
}

void fill_cache(const Rotation& r, int64_t positions, float* cache_cos, float* cache_sin) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& kernels = kernels_for(isa);
  const int64_t half = r.rotary_dim / 2;
  Rotation fill;
  fill.rotary_dim = r.rotary_dim;
  fill.to_freq = r.to_freq;
  fill.scale = r.scale;
  const int64_t tasks = task_count_for(positions, kMinCacheRowsPerTask);
  auto fill_range = [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      token_tables(kernels, fill, p, cache_cos + p * half, cache_sin + p * half);
    }
  };
  if (tasks <= 1) {
    fill_range(0, positions);
    return;
  }
  parallel_for(tasks, [&](int64_t t) {
    fill_range(positions * t / tasks, positions * (t + 1) / tasks);
  });
}

}  // namespace embedkit::rope
