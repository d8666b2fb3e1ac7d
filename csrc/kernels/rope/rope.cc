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
// Tables up to this many floats (and angles up to this many doubles) live on the stack.
constexpr int64_t kStackTableFloats = 3 * 1024;
constexpr int64_t kStackAngles = 512;

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

void token_tables(const Kernels& k, const Rotation& r, int64_t t, double* theta, float* cos,
                  float* sin) {
  const int64_t half = r.rotary_dim / 2;
  const int64_t to = r.to.at(t);
  if (!r.has_from) {
    const double p = static_cast<double>(to);
    for (int64_t i = 0; i < half; ++i) theta[i] = p * r.to_freq[i];
  } else if (r.from_freq == nullptr) {
    // One frequency set: R(to * f) R(from * f)^T = R((to - from) * f), the difference
    // taken exactly in integers first.
    const double d = static_cast<double>(to - r.from.at(t));
    for (int64_t i = 0; i < half; ++i) theta[i] = d * r.to_freq[i];
  } else {
    const double pt = static_cast<double>(to);
    const double pf = static_cast<double>(r.from.at(t));
    for (int64_t i = 0; i < half; ++i) theta[i] = pt * r.to_freq[i] - pf * r.from_freq[i];
  }
  const double scale_cos = r.scale;
  const double scale_sin = r.negate ? -r.scale : r.scale;
  bool in_range = true;
  for (int64_t i = 0; i < half; ++i) {
    const double a = theta[i] < 0 ? -theta[i] : theta[i];
    in_range &= a < trig::kReduceLimit;
  }
  if (in_range) {
    k.tables(theta, half, scale_cos, scale_sin, cos, sin);
    return;
  }
  for (int64_t i = 0; i < half; ++i) {
    double s, c;
    sincos64(theta[i], &s, &c);
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
  double theta_stack[kStackAngles];
  std::vector<float> heap;
  std::vector<double> theta_heap;
  float* tables = stack;
  double* theta = theta_stack;
  if (3 * rot > kStackTableFloats) {
    heap.resize(static_cast<size_t>(3 * rot));
    tables = heap.data();
  }
  if (half > kStackAngles) {
    theta_heap.resize(static_cast<size_t>(half));
    theta = theta_heap.data();
  }
  float* cos = tables;
  float* sin = tables + half;
  float* cos2 = tables + rot;
  float* sin2 = tables + 2 * rot;
  const bool gptj = r.layout == Layout::Gptj;
  for (int64_t t = t_begin; t < t_end; ++t) {
    token_tables(k, r, t, theta, cos, sin);
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

}  // namespace embedkit::rope
