// The plan-free scatter-add (with its first-touch stores and the zeroing of untouched rows),
// dense max-backward and per-sample-weights gradient kernels, written once over a vector
// type V (common/simd_*.h).
// Included by avx2.cc / avx512.cc / neon.cc inside their EMBEDKIT_TARGET region. It uses the
// gather body's index helpers (gather/body.h; internal linkage there too).
#pragma once

#include "../gather/body.h"
#include "scatter.h"

namespace embedkit::scatter::simd_body {
namespace {

using gather::simd_body::index_at;
using gather::simd_body::kCacheLine;

// How many positions ahead the rows are prefetched. A random destination row costs ~130-150 ns
// (bench/scatter-probe), a row's adds a few ns, so many rows must be in flight: in the
// probe's sweep ("pf" cases) 4-8 ahead left one thread at 6.6 M rows/s, 12-24 reached 7.7 M.
constexpr int64_t kRowPrefetchDistance = 16;

// Destination rows are prefetched like source rows (PREFETCHT0). A PREFETCHW
// (fetch for ownership) form was timed against it on the development VM (library kernel, C++
// harness, 3 alternating rounds, medians): 130 vs 112 ms on 1 thread, 85 vs 84 ms on 2; not
// faster. (GCC compiles __builtin_prefetch(p, 1) to PREFETCHT0 unless built with -mprfchw.)

// Every cache line of [d, d + bytes) and [s, s + bytes), the two rows' lines alternating: one
// line step per line and a last prefetch of each row's last byte, so a row that does not start
// on a line boundary is covered too (one prefetch more per row when it does). On Zipf(1.1)
// indices this ran 4-9% faster than gather's prefetch_row on each row in turn; uniform ones
// did not separate the two (bench/scatter-probe, time over its "cols split 16" loop in the
// same run, three alternated builds, AVX-512 VM, 2026-11-28 00:13: Zipf 1.03-1.07 against
// 1.06-1.14, uniform 1.00-1.27 against 0.94-1.08).
[[gnu::always_inline]] inline void prefetch_row_pair(const float* d, const float* s, int64_t bytes) {
  const char* pd = reinterpret_cast<const char*>(d);
  const char* ps = reinterpret_cast<const char*>(s);
  for (int64_t off = 0; off < bytes; off += kCacheLine) {
    prefetch_read(pd + off);
    prefetch_read(ps + off);
  }
  prefetch_read(pd + bytes - 1);
  prefetch_read(ps + bytes - 1);
}

inline int64_t source_row(const ScatterArgs& a, int64_t i) {
  return a.src_rows != nullptr ? a.src_rows[i] : i;
}

// kScaled: dst = fma(scale, src, dst), else dst = dst + src, the same operations the gather
// pooling kernel applies per contribution (a plain add when unweighted), so this form and
// the plan form agree bit for bit. kFactor: src is first multiplied by the position's factor
// row (a.factor), which the plan forms do not support; the compiler may fuse that multiply
// with an unscaled add, so such sums match the scalar path within rounding, not bitwise.
template <class V, class Idx, bool kScaled, bool kFactor>
void scatter_rows_impl(const ScatterArgs& a, const IndexArray& indices, const int64_t* positions,
                       int64_t count, int64_t c0, int64_t c1) {
  // No positions may come with an empty source (a null pointer), which must not be offset.
  if (count == 0) return;
  using Reg = typename V::Reg;
  const int64_t dim = a.dim;
  const int64_t width = c1 - c0;
  constexpr int64_t kUnroll = 4;
  const int64_t full_end = width / V::kLanes * V::kLanes;  // columns of whole vectors
  const int64_t unrolled_end = width / (kUnroll * V::kLanes) * (kUnroll * V::kLanes);
  const int tail_lanes = static_cast<int>(width % V::kLanes);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const int64_t part_bytes = width * static_cast<int64_t>(sizeof(float));
  // Both row pointers start at column c0.
  float* const dst = a.dst + c0;
  const float* const src = a.src + c0;
  auto position = [&](int64_t j) { return positions != nullptr ? positions[j] : j; };
  const uint8_t* const first_touch = a.first_touch;
  for (int64_t j = 0; j < count; ++j) {
    // Both rows a later position needs: the destination is random, and the source, read in
    // order, has gaps when this task owns only some of the rows. A first touch reads no
    // destination.
    if (j + kRowPrefetchDistance < count) {
      const int64_t ahead = position(j + kRowPrefetchDistance);
      const float* ahead_src = src + source_row(a, ahead) * dim;
      if (first_touch != nullptr && first_touch[ahead] != 0) {
        gather::simd_body::prefetch_row(ahead_src, part_bytes);
      } else {
        prefetch_row_pair(dst + index_at<Idx>(indices, ahead) * dim, ahead_src, part_bytes);
      }
    }
    const int64_t i = position(j);
    float* d = dst + index_at<Idx>(indices, i) * dim;
    const float* s = src + source_row(a, i) * dim;
    // Read right after the row pair it belongs to: the factor table is the small one of a QR
    // pair, mostly in cache, so it is not prefetched.
    const float* f = kFactor ? a.factor + c0 + a.factor_rows[i] * dim : nullptr;
    Reg w = V::zero();
    if constexpr (kScaled) {
      w = V::set1(a.weights != nullptr ? a.alpha * a.weights[i] : a.alpha);
    }
    auto update = [&](Reg dv, Reg sv) {
      if constexpr (kScaled) {
        return V::fma(w, sv, dv);
      } else {
        return V::add(dv, sv);
      }
    };
    auto source = [&](int64_t col) {
      if constexpr (kFactor) {
        return V::mul(V::load(s + col), V::load(f + col));
      } else {
        return V::load(s + col);
      }
    };
    auto source_tail = [&](int64_t col) {  // the row's last tail_lanes columns from col
      Reg sv = V::load_masked(s + col, tail);
      if constexpr (kFactor) sv = V::mul(sv, V::load_masked(f + col, tail));
      return sv;
    };
    if (first_touch != nullptr && first_touch[i] != 0) {
      // 0 + contribution, the operations the add into a zeroed row applies, streamed.
      int64_t c = 0;
      for (; c < full_end; c += V::kLanes) V::stream(d + c, update(V::zero(), source(c)));
      if (tail_lanes != 0) V::store_masked(d + c, update(V::zero(), source_tail(c)), tail);
      continue;
    }
    auto step = [&](int64_t col) { V::store(d + col, update(V::load(d + col), source(col))); };
    // Four vectors per loop step: a one-vector loop spent half its instructions on its
    // counters. Instructions per 128-float row on AVX2 (callgrind, bench/scatter-probe):
    // 235 -> 193; time on Zipf(1.1) indices, one thread 23.7-28.2 -> 21.9-23.7 ms, two
    // threads unchanged (three alternated builds, 2026-11-28 00:28).
    int64_t c = 0;
    for (; c < unrolled_end; c += kUnroll * V::kLanes) {
      step(c);
      step(c + V::kLanes);
      step(c + 2 * V::kLanes);
      step(c + 3 * V::kLanes);
    }
    for (; c < full_end; c += V::kLanes) step(c);
    if (tail_lanes != 0) V::store_masked(d + c, update(V::load_masked(d + c, tail), source_tail(c)), tail);
  }
  if (first_touch != nullptr) V::stream_fence();
}

template <class V, class Idx, bool kFactor>
void scatter_rows_with(const ScatterArgs& a, const IndexArray& indices, const int64_t* positions,
                       int64_t count, int64_t c0, int64_t c1) {
  if (a.weights != nullptr || a.alpha != 1.0f) {
    scatter_rows_impl<V, Idx, true, kFactor>(a, indices, positions, count, c0, c1);
  } else {
    scatter_rows_impl<V, Idx, false, kFactor>(a, indices, positions, count, c0, c1);
  }
}

template <class V, class Idx>
void scatter_rows(const ScatterArgs& a, const IndexArray& indices, const int64_t* positions,
                  int64_t count, int64_t c0, int64_t c1) {
  if (a.factor != nullptr) {
    scatter_rows_with<V, Idx, true>(a, indices, positions, count, c0, c1);
  } else {
    scatter_rows_with<V, Idx, false>(a, indices, positions, count, c0, c1);
  }
}

// One bag's columns [c0, c1): a block of V::kLanes columns all won by one row is one vector
// add into that row; any other block (mixed winners, -1 lanes, the tail) goes lane by lane.
// Either way each element gets the same single float add, so every ISA matches the scalar
// reference bit for bit.
template <class V>
void max_backward_columns(const MaxBackwardArgs& a, int64_t c0, int64_t c1) {
  const int64_t dim = a.dim;
  for (int64_t b = 0; b < a.num_bags; ++b) {
    const int32_t* win = a.argmax + b * dim;
    const float* g = a.grad + b * dim;
    int64_t c = c0;
    for (; c + V::kLanes <= c1; c += V::kLanes) {
      const int32_t row = win[c];
      bool one_row = row >= 0;
      for (int l = 1; l < V::kLanes && one_row; ++l) one_row = win[c + l] == row;
      if (one_row) {
        float* d = a.out + row * dim + c;
        V::store(d, V::add(V::load(d), V::load(g + c)));
        continue;
      }
      for (int l = 0; l < V::kLanes; ++l) {
        if (win[c + l] >= 0) a.out[win[c + l] * dim + c + l] += g[c + l];
      }
    }
    for (; c < c1; ++c) {
      if (win[c] >= 0) a.out[win[c] * dim + c] += g[c];
    }
  }
}

// a . b over dim floats (a . (b x f) with a factor row f): four accumulators (a row of 128
// floats is 8 AVX-512 or 16 AVX2 vectors, and one chain of dependent FMAs would wait on each),
// then the lanes folded in halves. The order is fixed per ISA, so a position's result never
// depends on its task.
template <class V, bool kFactor = false>
[[gnu::always_inline]] inline float dot_row(const float* a, const float* b, int64_t dim, const float* f = nullptr) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  auto load_b = [&](int64_t c) {
    if constexpr (kFactor) {
      return V::mul(V::load(b + c), V::load(f + c));
    } else {
      return V::load(b + c);
    }
  };
  Reg acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
  int64_t c = 0;
  for (; c + 4 * L <= dim; c += 4 * L) {
    for (int u = 0; u < 4; ++u) acc[u] = V::fma(V::load(a + c + u * L), load_b(c + u * L), acc[u]);
  }
  for (int u = 0; c + L <= dim; c += L, ++u) acc[u] = V::fma(V::load(a + c), load_b(c), acc[u]);
  if (c < dim) {
    const typename V::Mask tail = V::tail_mask(static_cast<int>(dim - c));
    Reg bv = V::load_masked(b + c, tail);
    if constexpr (kFactor) bv = V::mul(bv, V::load_masked(f + c, tail));
    acc[3] = V::fma(V::load_masked(a + c, tail), bv, acc[3]);
  }
  float lanes[L];
  V::store(lanes, V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3])));
  for (int64_t half = L / 2; half >= 1; half /= 2) {
    for (int64_t l = 0; l < half; ++l) lanes[l] += lanes[l + half];
  }
  return lanes[0];
}

template <class V, class Idx, bool kFactor>
void weights_grad_impl(const WeightsGradArgs& a, int64_t bag, int64_t p0, int64_t p1) {
  const int64_t dim = a.dim;
  const int64_t row_bytes = dim * static_cast<int64_t>(sizeof(float));
  int64_t b = bag;
  int64_t bag_end = a.bags.end(b);
  int64_t divisor = weights_grad_divisor(a, b);
  for (int64_t p = p0; p < p1; ++p) {
    while (p >= bag_end) {  // the next non-empty bag
      bag_end = a.bags.end(++b);
      divisor = weights_grad_divisor(a, b);
    }
    if (p + kRowPrefetchDistance < p1) {
      gather::simd_body::prefetch_row(a.table + index_at<Idx>(a.indices, p + kRowPrefetchDistance) * dim,
                                      row_bytes);
    }
    const int64_t row = index_at<Idx>(a.indices, p);
    if (row == a.padding_idx) {
      if (!a.accumulate) a.out[p] = 0.0f;
      continue;
    }
    const float* g = a.grad + (b * a.grad_rows_per_bag + a.grad_row_offset) * dim;
    const float* f = kFactor ? a.factor + a.factor_rows[p] * dim : nullptr;
    const float d = dot_row<V, kFactor>(g, a.table + row * dim, dim, f) / static_cast<float>(divisor);  // exact for Sum's 1
    a.out[p] = a.accumulate ? a.out[p] + d : d;
  }
}

template <class V, class Idx>
void weights_grad(const WeightsGradArgs& a, int64_t bag, int64_t p0, int64_t p1) {
  if (a.factor != nullptr) {
    weights_grad_impl<V, Idx, true>(a, bag, p0, p1);
  } else {
    weights_grad_impl<V, Idx, false>(a, bag, p0, p1);
  }
}

template <class V>
void zero_untouched_rows(float* out, int64_t dim, const uint64_t* touched, int64_t r0, int64_t r1) {
  const int64_t full_end = dim / V::kLanes * V::kLanes;
  const int tail_lanes = static_cast<int>(dim % V::kLanes);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  for (int64_t r = r0; r < r1; ++r) {
    if (row_bit(touched, r)) continue;
    float* row = out + r * dim;
    for (int64_t c = 0; c < full_end; c += V::kLanes) V::stream(row + c, V::zero());
    if (tail_lanes != 0) V::store_masked(row + full_end, V::zero(), tail);
  }
  V::stream_fence();
}

template <class V>
Kernels make_kernels() {
  Kernels k;
  k.max_backward_columns = max_backward_columns<V>;
  k.zero_untouched_rows = zero_untouched_rows<V>;
  k.streams = V::kStreams;
  k.weights_grad = [](const WeightsGradArgs& a, int64_t bag, int64_t p0, int64_t p1) {
    switch (a.indices.type) {
      case IndexType::Int32: return weights_grad<V, int32_t>(a, bag, p0, p1);
      case IndexType::Uint32: return weights_grad<V, uint32_t>(a, bag, p0, p1);
      case IndexType::Int64: return weights_grad<V, int64_t>(a, bag, p0, p1);
    }
  };
  k.scatter_rows = [](const ScatterArgs& a, const IndexArray& idx, const int64_t* pos, int64_t n,
                       int64_t c0, int64_t c1) {
    switch (idx.type) {
      case IndexType::Int32: return scatter_rows<V, int32_t>(a, idx, pos, n, c0, c1);
      case IndexType::Uint32: return scatter_rows<V, uint32_t>(a, idx, pos, n, c0, c1);
      case IndexType::Int64: return scatter_rows<V, int64_t>(a, idx, pos, n, c0, c1);
    }
  };
  return k;
}

}  // namespace
}  // namespace embedkit::scatter::simd_body
