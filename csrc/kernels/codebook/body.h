// The codebook family's SIMD kernels, written once over a vector type V (common/simd_*.h)
// and a gather G (the one operation that differs by ISA: G::gather(base, idx) loads
// base[idx[0..kLanes)]). Included by avx2.cc / avx512.cc / neon.cc inside their
// EMBEDKIT_TARGET region; uses no std:: templates (see common/target.h).
//
// score_rows is a small GEMM: a panel holds `width` = 2 vectors of codes, coordinate-major,
// so one coordinate of kRowBlock rows is broadcast and multiplied into two vectors of codes
// (12 accumulators: fits the 16 YMM registers of AVX2 with the operands). Rows are taken in
// tiles of kRowTile that stay in L2 while every panel streams past them from L1; the best
// code of each row is tracked across panels, so each row's scores, and hence its result,
// do not depend on which tile or thread computed it.
#pragma once

#include "codebook.h"

namespace embedkit::codebook::simd_body {
// Internal linkage: each ISA's translation unit compiles its own copy (see gather/body.h).
namespace {

constexpr int kRowBlock = 6;
constexpr int64_t kRowTile = 16 * kRowBlock;

template <class V, class G>
void expand_rows(const CodeLogits& logits, const VqMap& map, int64_t begin, int64_t end,
                 float* out) {
  const int64_t v_count = map.num_tokens;
  const int64_t full = v_count - v_count % V::kLanes;
  for (int64_t b = begin; b < end; ++b) {
    const float* row = logits.data + b * map.num_codes;
    float* dst = out + b * v_count;
    int64_t t = 0;
    for (; t < full; t += V::kLanes) V::store(dst + t, G::gather(row, map.token_to_code + t));
    for (; t < v_count; ++t) dst[t] = row[map.token_to_code[t]];
  }
}

// Scores rows [r0, r0 + kRowBlock) (row pointers given; a short block repeats its last row)
// against panel `pnl`, into block[r][c] for the panel's 2 * kLanes codes.
template <class V>
inline void score_block(const float* const* xrow, const Panels& p, Metric metric, int64_t pnl,
                        float* block) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  const float* panel = p.data + pnl * p.dim * 2 * L;
  Reg acc[kRowBlock][2];
  for (int r = 0; r < kRowBlock; ++r) acc[r][0] = acc[r][1] = V::zero();
  for (int64_t k = 0; k < p.dim; ++k) {
    const Reg c0 = V::load(panel + k * 2 * L);
    const Reg c1 = V::load(panel + k * 2 * L + L);
    for (int r = 0; r < kRowBlock; ++r) {
      const Reg xr = V::set1(xrow[r][k]);
      acc[r][0] = V::fma(xr, c0, acc[r][0]);
      acc[r][1] = V::fma(xr, c1, acc[r][1]);
    }
  }
  if (metric == Metric::L2) {
    // ||c||² - 2 x·c: the part of ||x - c||² that depends on the code.
    const Reg minus2 = V::set1(-2.0f);
    const Reg n0 = V::load(p.norms + pnl * 2 * L);
    const Reg n1 = V::load(p.norms + pnl * 2 * L + L);
    for (int r = 0; r < kRowBlock; ++r) {
      acc[r][0] = V::fma(minus2, acc[r][0], n0);
      acc[r][1] = V::fma(minus2, acc[r][1], n1);
    }
  }
  for (int r = 0; r < kRowBlock; ++r) {
    V::store(block + r * 2 * L, acc[r][0]);
    V::store(block + r * 2 * L + L, acc[r][1]);
  }
}

template <class V>
void score_rows(const Rows& x, const Panels& p, Metric metric, int64_t begin, int64_t end,
                int32_t* codes, float* scores) {
  constexpr int W = 2 * V::kLanes;
  const int64_t panels = (p.num_codes + W - 1) / W;
  const bool minimize = metric == Metric::L2;
  float block[kRowBlock * W];
  float best[kRowTile];
  int32_t best_code[kRowTile];
  for (int64_t t0 = begin; t0 < end; t0 += kRowTile) {
    const int64_t t1 = t0 + kRowTile < end ? t0 + kRowTile : end;
    for (int64_t i = 0; i < t1 - t0; ++i) best_code[i] = -1;
    for (int64_t pnl = 0; pnl < panels; ++pnl) {
      const int64_t c_end = (pnl + 1) * W < p.num_codes ? (pnl + 1) * W : p.num_codes;
      for (int64_t r0 = t0; r0 < t1; r0 += kRowBlock) {
        const float* xrow[kRowBlock];
        for (int r = 0; r < kRowBlock; ++r) xrow[r] = x.row(r0 + r < t1 ? r0 + r : t1 - 1);
        score_block<V>(xrow, p, metric, pnl, block);
        const int rn = static_cast<int>(r0 + kRowBlock < t1 ? kRowBlock : t1 - r0);
        for (int r = 0; r < rn; ++r) {
          const float* s = block + r * W;
          const int64_t i = r0 + r - t0;
          for (int64_t c = pnl * W; c < c_end; ++c) {
            const float v = s[c - pnl * W];
            // Strict comparison in ascending code order: the lowest index wins ties.
            if (best_code[i] < 0 || (minimize ? v < best[i] : v > best[i])) {
              best[i] = v;
              best_code[i] = static_cast<int32_t>(c);
            }
          }
        }
      }
    }
    for (int64_t i = 0; i < t1 - t0; ++i) {
      codes[t0 + i] = best_code[i];
      scores[t0 + i] = best[i];
    }
  }
}

template <class V, class G>
Kernels make_kernels() {
  Kernels k;
  k.panel_width = 2 * V::kLanes;
  k.expand_rows = &expand_rows<V, G>;
  k.score_rows = &score_rows<V>;
  return k;
}

}  // namespace
}  // namespace embedkit::codebook::simd_body
