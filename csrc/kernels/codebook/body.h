// The codebook family's SIMD kernels, written once over a vector type V (common/simd_*.h),
// its float64 companion D (the distance tables' sums) and a gather G (the one operation that
// differs by ISA: G::gather(base, idx) loads base[idx[0..kLanes)]). Included by avx2.cc /
// avx512.cc / neon.cc inside their EMBEDKIT_TARGET region; uses no std:: templates (see
// common/target.h).
//
// score_rows is a small GEMM: a panel holds `width` = 2 vectors of codes, coordinate-major,
// so one coordinate of kRowBlock rows is broadcast and multiplied into two vectors of codes
// (12 accumulators: fits the 16 YMM registers of AVX2 with the operands). Rows are taken in
// tiles of kRowTile that stay in L2 while every panel streams past them from L1; the best
// code of each row is tracked across panels, so each row's scores, and hence its result,
// do not depend on which tile or thread computed it.
#pragma once

#include "codebook.h"
// rank_order.h must be included by the ISA's file before its EMBEDKIT_TARGET region: its
// inline functions are shared with code built without the target's instructions.

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
// against panel `pnl`: acc[r][h] holds the scores of the panel's codes pnl * 2L + h * L + lane.
template <class V>
[[gnu::always_inline]] inline void score_block(const float* const* xrow, const Panels& p, Metric metric, int64_t pnl,
                                               typename V::Reg (&acc)[kRowBlock][2]) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  const float* panel = p.data + pnl * p.dim * 2 * L;
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
}

// The nearest code is kept per lane, in vectors: lane l of a row sees the codes l, L + l,
// 2L + l, ... in ascending order and keeps the first of those strictly better than all before
// it, starting from the worst score (+inf for l2, -inf for ip), so NaN never replaces, nor
// does a tie. Which code it is rides along as "slot" bits (2 pnl + h, see score_block) in a
// float register, moved by selects only. At the end of a tile each row's lanes, and its first
// code's own score, are reduced in rank_order::beats, the strict order of the sequential scan
// (score_rows_ref): the result is that scan's code whatever the panel width. A 128-float
// panel row of 8-float subspaces (pqEncode) spends 16 fmas per 2 x 6 x L scores; a scalar
// compare per score, as this kernel did before, cost 4x its fmas (FAISS encoded 1.8x as fast).
template <class V, bool kMinimize>
void score_rows_in(const Rows& x, const Panels& p, int64_t begin, int64_t end, int32_t* codes, float* scores) {
  using Reg = typename V::Reg;
  constexpr Metric metric = kMinimize ? Metric::L2 : Metric::InnerProduct;  // l2 is minimized
  constexpr int L = V::kLanes;
  constexpr int W = 2 * L;
  const int64_t panels = (p.num_codes + W - 1) / W;
  const Reg worst = V::set1(kMinimize ? __builtin_inff() : -__builtin_inff());
  float best[kRowTile * L];
  float slot[kRowTile * L];  // int32 bit patterns; -1: no code yet
  float first[kRowTile];     // the score of code 0
  if (panels == 0) {  // no codes: as the scan, no code and a zero score
    for (int64_t r = begin; r < end; ++r) {
      codes[r] = -1;
      scores[r] = 0.0f;
    }
    return;
  }
  auto keep_better = [&](Reg score, Reg score_slot, float* b, float* s) {
    const Reg held = V::load(b);
    const auto better = kMinimize ? V::gt(held, score) : V::gt(score, held);
    V::store(b, V::select(better, score, held));
    V::store(s, V::select(better, score_slot, V::load(s)));
  };
  for (int64_t t0 = begin; t0 < end; t0 += kRowTile) {
    const int64_t t1 = t0 + kRowTile < end ? t0 + kRowTile : end;
    for (int64_t i = 0; i < t1 - t0; ++i) {
      V::store(best + i * L, worst);
      V::store(slot + i * L, V::splat_bits(-1));
    }
    for (int64_t pnl = 0; pnl < panels; ++pnl) {
      const Reg slot0 = V::splat_bits(static_cast<int32_t>(2 * pnl));
      const Reg slot1 = V::splat_bits(static_cast<int32_t>(2 * pnl + 1));
      for (int64_t r0 = t0; r0 < t1; r0 += kRowBlock) {
        const float* xrow[kRowBlock];
        for (int r = 0; r < kRowBlock; ++r) xrow[r] = x.row(r0 + r < t1 ? r0 + r : t1 - 1);
        Reg acc[kRowBlock][2];
        score_block<V>(xrow, p, metric, pnl, acc);
        const int rn = static_cast<int>(r0 + kRowBlock < t1 ? kRowBlock : t1 - r0);
        for (int r = 0; r < rn; ++r) {
          const int64_t i = r0 + r - t0;
          if (pnl == 0) {
            float lanes[L];
            V::store(lanes, acc[r][0]);
            first[i] = lanes[0];
          }
          keep_better(acc[r][0], slot0, best + i * L, slot + i * L);
          keep_better(acc[r][1], slot1, best + i * L, slot + i * L);
        }
      }
    }
    for (int64_t i = 0; i < t1 - t0; ++i) {
      rank_order::Candidate win{first[i], 0};
      for (int l = 0; l < L; ++l) {
        int32_t s;
        __builtin_memcpy(&s, slot + i * L + l, sizeof s);
        if (s < 0) continue;
        const rank_order::Candidate lane{best[i * L + l], (s >> 1) * W + (s & 1) * L + l};
        if (rank_order::beats(lane, win, kMinimize)) win = lane;
      }
      codes[t0 + i] = win.code;
      scores[t0 + i] = win.score;
    }
  }
}

template <class V>
void score_rows(const Rows& x, const Panels& p, Metric metric, int64_t begin, int64_t end,
                int32_t* codes, float* scores) {
  if (metric == Metric::L2) {
    score_rows_in<V, true>(x, p, begin, end, codes, scores);
  } else {
    score_rows_in<V, false>(x, p, begin, end, codes, scores);
  }
}

// kVecs vectors of codes [c, c + kVecs L) of one distance-table row, over the widened
// sub-codebook book_t (dsub x ksub doubles): lane l of vector j sums code c + j L + l's terms
// in coordinate order from +0 with the scalar definition's operations (ref.cc), so its bits;
// the kVecs independent sums hide the add's latency. L2's subtract alternates with
// sub_on_fma (the same rounding), so that it does not queue behind the sums on the add pipes
// (Zen 4: 64 query tables 233 -> 221 us on AVX-512, 268 -> 234 on AVX2, one thread).
template <class D, bool kL2, int kVecs>
[[gnu::always_inline]] inline void table_codes(const double* book_t, int64_t dsub, int64_t ksub, const float* x,
                                               int64_t c, float* row) {
  using Reg = typename D::Reg;
  constexpr int L = D::kLanes;
  Reg sum[kVecs];
  for (int j = 0; j < kVecs; ++j) sum[j] = D::zero();
  for (int64_t d = 0; d < dsub; ++d) {
    const Reg xd = D::set1(static_cast<double>(x[d]));
    const double* coord = book_t + d * ksub + c;
    for (int j = 0; j < kVecs; ++j) {
      const Reg cd = D::load(coord + j * L);
      if constexpr (kL2) {
        const Reg diff = j % 2 == 0 ? D::sub(xd, cd) : D::sub_on_fma(xd, cd);
        sum[j] = D::add(sum[j], D::mul(diff, diff));
      } else {
        sum[j] = D::add(sum[j], D::mul(xd, cd));
      }
    }
  }
  for (int j = 0; j < kVecs; ++j) D::store_rounded(row + c + j * L, sum[j]);
}

// book (ksub x dsub floats) -> book_t (dsub x ksub doubles), in L x L register blocks where
// both sides are multiples of L: for m 16 x 256 codes of 8 floats, a scalar copy took ~12 us
// on one thread here, as long as 4 queries' tables; the blocks ~6 us.
template <class D>
void widen_transposed(const float* book, int64_t ksub, int64_t dsub, double* book_t) {
  using Reg = typename D::Reg;
  constexpr int L = D::kLanes;
  if (ksub % L == 0 && dsub % L == 0) {
    for (int64_t c = 0; c < ksub; c += L) {
      for (int64_t d = 0; d < dsub; d += L) {
        Reg cols[L];
        D::load_columns(book + c * dsub + d, dsub, cols);
        for (int j = 0; j < L; ++j) D::store(book_t + (d + j) * ksub + c, cols[j]);
      }
    }
    return;
  }
  for (int64_t c = 0; c < ksub; ++c) {
    for (int64_t d = 0; d < dsub; ++d) book_t[d * ksub + c] = static_cast<double>(book[c * dsub + d]);
  }
}

// Kernels::table_rows: the sub-codebook widened to float64 and transposed once (so a vector
// load holds one coordinate of L codes), then each query's row in blocks of 4 vectors of
// codes. The scalar path summed one code at a time, one dependent add per coordinate: 4 query
// tables of m 16 x 256 codes took ~90 us on one thread here, these paths ~19 (FAISS's float32
// ones: 10).
template <class D, bool kL2>
void table_rows_in(const Pq& pq, int64_t s, const float* queries, int64_t q0, int64_t q1, double* book_t,
                   float* tables) {
  constexpr int L = D::kLanes;
  constexpr int kVecs = 4;
  const int64_t dsub = pq.dsub(), ksub = pq.ksub;
  widen_transposed<D>(pq.codebook(s), ksub, dsub, book_t);
  for (int64_t q = q0; q < q1; ++q) {
    const float* x = queries + q * pq.dim + s * dsub;
    float* row = tables + (q * pq.m + s) * ksub;
    int64_t c = 0;
    for (; c + kVecs * L <= ksub; c += kVecs * L) table_codes<D, kL2, kVecs>(book_t, dsub, ksub, x, c, row);
    for (; c + L <= ksub; c += L) table_codes<D, kL2, 1>(book_t, dsub, ksub, x, c, row);
    for (; c < ksub; ++c) {  // ksub (a power of two) below L
      double sum = 0.0;
      for (int64_t d = 0; d < dsub; ++d) {
        const double xd = x[d], cd = book_t[d * ksub + c];
        sum += kL2 ? (xd - cd) * (xd - cd) : xd * cd;
      }
      row[c] = static_cast<float>(sum);
    }
  }
}

template <class D>
void table_rows(const Pq& pq, int64_t s, const float* queries, int64_t q0, int64_t q1, Metric metric,
                double* scratch, float* tables) {
  if (metric == Metric::L2) {
    table_rows_in<D, true>(pq, s, queries, q0, q1, scratch, tables);
  } else {
    table_rows_in<D, false>(pq, s, queries, q0, q1, scratch, tables);
  }
}

template <class V, class D, class G>
Kernels make_kernels() {
  Kernels k;
  k.panel_width = 2 * V::kLanes;
  k.expand_rows = &expand_rows<V, G>;
  k.score_rows = &score_rows<V>;
  k.table_rows = &table_rows<D>;
  return k;
}

}  // namespace
}  // namespace embedkit::codebook::simd_body
