// The orders the GPU codebook kernels rank by, as pure functions shared by the CUDA kernels
// and the native tests (test/native/gpu_order_test.cc replays the GPU's selections on the
// CPU with them and compares against the CPU ops, so the logic is checked where there is no
// GPU). Each is a strict total order equal to what the CPU computes sequentially:
//
// - beats(): the nearest-code scan of score_rows (codes in ascending order, the first code
//   taken outright, a strictly better score replaces). Equivalent order: code 0 with a NaN
//   score first (nothing replaces it), other NaN never win, then the better score, then the
//   lower code. A total order, so a reduction in any grouping picks the CPU's code.
// - rank_bits() / sort_key(): 64-bit keys [segment | rank of the score | id] whose ascending
//   order is the CPU's top-k order (pq_scan's HitOrder, vq_top_k's ranks_above + token id):
//   the better score first, NaN last, -0 equal to +0, then the lower id.
#pragma once

#include <cstdint>
#include <cstring>

#include "../common/host_device.h"

namespace embedkit::codebook::rank_order {

struct Candidate {
  float score;
  int32_t code;  // -1: none yet
};

EMBEDKIT_HOST_DEVICE inline bool is_nan(float v) { return v != v; }

EMBEDKIT_HOST_DEVICE inline bool beats(const Candidate& a, const Candidate& b, bool minimize) {
  if (a.code < 0 || b.code < 0) return b.code < 0 && a.code >= 0;
  const bool a_first_nan = a.code == 0 && is_nan(a.score);
  const bool b_first_nan = b.code == 0 && is_nan(b.score);
  if (a_first_nan || b_first_nan) return a_first_nan;
  const bool a_nan = is_nan(a.score), b_nan = is_nan(b.score);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.score != b.score) return minimize ? a.score < b.score : a.score > b.score;
  return a.code < b.code;
}

// 32 bits that sort ascending in the order wanted (ascending scores, or descending ones when
// `descending`); NaN always last (all ones, which no number maps to); -0 ranks as +0.
EMBEDKIT_HOST_DEVICE inline uint32_t rank_bits(float v, bool descending) {
  if (is_nan(v)) return 0xffffffffu;
  if (v == 0.0f) v = 0.0f;
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  u = (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);  // monotone in v
  return descending ? ~u : u;
}

// id_bits <= 31 (ids below 2^31) keeps the shift below 64.
EMBEDKIT_HOST_DEVICE inline uint64_t sort_key(int64_t segment, uint32_t rank, int64_t id, int id_bits) {
  return (static_cast<uint64_t>(segment) << (32 + id_bits)) | (static_cast<uint64_t>(rank) << id_bits) |
         static_cast<uint64_t>(id);
}

// Bits that hold every id below `count` (at least 1).
EMBEDKIT_HOST_DEVICE inline int id_bits_for(int64_t count) {
  int bits = 1;
  while (bits < 62 && (int64_t{1} << bits) < count) ++bits;
  return bits;
}

// vqTopK without ranking all V tokens: over a row's codes sorted by their keys
// (rank_bits(logit, descending) << code_bits | code), the leading codes whose tokens can be
// among the k best: up to the code holding the k-th token, and every code tied with it (a
// tie interleaves its codes' tokens by id). token_offsets[p] receives where the tokens of
// the p-th sorted code start among the candidates. Codes without tokens count for nothing.
struct CodePrefix {
  int64_t codes;   // leading sorted codes taken
  int64_t tokens;  // their tokens: the candidates, >= k when the row has k tokens
};
EMBEDKIT_HOST_DEVICE inline CodePrefix top_k_code_prefix(const uint64_t* sorted_keys, int64_t num_codes, int code_bits,
                                                         const int32_t* counts, int64_t k, int32_t* token_offsets) {
  const uint64_t code_mask = (uint64_t{1} << code_bits) - 1;
  int64_t p = 0, total = 0;
  while (p < num_codes && total < k) {
    token_offsets[p] = static_cast<int32_t>(total);
    total += counts[sorted_keys[p] & code_mask];
    ++p;
  }
  const uint64_t last_rank = p > 0 ? sorted_keys[p - 1] >> code_bits : 0;
  while (p < num_codes && (sorted_keys[p] >> code_bits) == last_rank) {
    token_offsets[p] = static_cast<int32_t>(total);
    total += counts[sorted_keys[p] & code_mask];
    ++p;
  }
  return CodePrefix{p, total};
}

}  // namespace embedkit::codebook::rank_order
