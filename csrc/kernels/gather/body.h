// The gather and bag-pooling kernels, written once over a vector type V (common/simd_*.h).
// Included by avx2.cc / avx512.cc / neon.cc inside their EMBEDKIT_TARGET region; uses no
// std:: templates (see common/target.h).
//
// Shape of the pooling kernel: the columns of a bag's output are cut into blocks of up to
// kBlockVectors vectors; for each block, every row of the bag is streamed through that many
// accumulators held in registers, and the block is stored once. The column plan (full
// blocks, then a remainder of 0..kBlockVectors-1 vectors plus an optional masked tail) is
// fixed per call, so the remainder block is a template chosen once, not per row.
#pragma once

#include "gather.h"

namespace embedkit::gather::simd_body {
// Internal linkage for everything here: each ISA's translation unit compiles these helpers
// for its own target, and shared (inline) symbols would let the linker keep one ISA's copy
// for all of them, which could run AVX-512 code on an AVX2-only CPU.
namespace {

constexpr int kBlockVectors = 8;
// How many index positions ahead the row stream is prefetched: far enough to cover DRAM
// latency at these row sizes, near enough to stay in L1/L2.
constexpr int64_t kPrefetchDistance = 12;
constexpr int64_t kCacheLine = 64;
// How many bags ahead a scatter-add's destination rows are prefetched.
constexpr int64_t kPrefetchBags = 8;

// Every cache line the row touches: rows need not start on a line boundary (a JS
// ArrayBuffer usually starts 16 bytes into one), so a 128-byte row can span three lines.
inline void prefetch_row(const float* row, int64_t bytes) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(row);
  const uintptr_t end = begin + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = begin & ~uintptr_t{kCacheLine - 1}; line < end; line += kCacheLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  }
}

template <class Idx>
inline int64_t index_at(const IndexArray& indices, int64_t p) {
  return static_cast<int64_t>(static_cast<const Idx*>(indices.data)[p]);
}

// What a pooling block needs besides its column range.
struct PoolState {
  const BagArgs* args;
  int64_t prefetch_limit;  // index positions past this are not prefetched
  int64_t prefetch_bytes;  // 0: this pass does not prefetch (rows are already cached)
};

// Pools bag positions [p_begin, p_end) over NV full vectors (plus one masked vector when
// kTail) starting at column `col`, and stores the result into out.
template <class V, class Idx, int NV, bool kTail>
inline void pool_block(const PoolState& s, int64_t p_begin, int64_t p_end, int64_t col,
                       typename V::Mask tail, float* out) {
  using Reg = typename V::Reg;
  constexpr int kRegs = NV + (kTail ? 1 : 0);
  const BagArgs& a = *s.args;
  const float* table = a.table.data + col;
  const int64_t dim = a.table.dim;
  const int64_t padding = a.padding_idx;
  Reg acc[kRegs > 0 ? kRegs : 1];
  int64_t count = 0;

  auto prefetch_ahead = [&](int64_t p) {
    if (s.prefetch_bytes != 0 && p + kPrefetchDistance < s.prefetch_limit) {
      const int64_t ahead = index_at<Idx>(a.indices, p + kPrefetchDistance);
      prefetch_row(table + ahead * dim, s.prefetch_bytes);  // this call's columns, from col
    }
  };
  auto load = [&](const float* row, int k) {
    return (kTail && k == NV) ? V::load_masked(row + k * V::kLanes, tail)
                              : V::load(row + k * V::kLanes);
  };
  // Scatter-add starts from the destination row (Sum only), everything else from zero.
  for (int k = 0; k < kRegs; ++k) acc[k] = a.accumulate ? load(out, k) : V::zero();

  if (a.mode == PoolMode::Max) {
    for (int64_t p = p_begin; p < p_end; ++p) {
      prefetch_ahead(p);
      const int64_t idx = index_at<Idx>(a.indices, p);
      if (idx == padding) continue;
      const float* row = table + idx * dim;
      // Weighted max (spmm's reduce 'max'): the max of weight x row.
      const bool weighted = a.weights != nullptr;
      const Reg w = V::set1(weighted ? a.weights[p] : 1.0f);
      auto term = [&](int k) { return weighted ? V::mul(w, load(row, k)) : load(row, k); };
      if (count == 0) {
        for (int k = 0; k < kRegs; ++k) acc[k] = term(k);
      } else {
        for (int k = 0; k < kRegs; ++k) acc[k] = V::max_gt(term(k), acc[k]);
      }
      ++count;
    }
  } else if (a.weights != nullptr) {
    for (int64_t p = p_begin; p < p_end; ++p) {
      prefetch_ahead(p);
      const int64_t idx = index_at<Idx>(a.indices, p);
      if (idx == padding) continue;
      const float* row = table + idx * dim;
      const Reg w = V::set1(a.weights[p]);
      for (int k = 0; k < kRegs; ++k) acc[k] = V::fma(w, load(row, k), acc[k]);
      ++count;
    }
  } else {
    for (int64_t p = p_begin; p < p_end; ++p) {
      prefetch_ahead(p);
      const int64_t idx = index_at<Idx>(a.indices, p);
      if (idx == padding) continue;
      const float* row = table + idx * dim;
      for (int k = 0; k < kRegs; ++k) acc[k] = V::add(acc[k], load(row, k));
      ++count;
    }
  }

  if (count == 0) {
    if (!a.accumulate) {
      for (int k = 0; k < kRegs; ++k) acc[k] = V::zero();  // empty bag, or padding only
    }
  } else if (a.mode == PoolMode::Mean) {
    const Reg inv = V::set1(static_cast<float>(count));
    for (int k = 0; k < kRegs; ++k) acc[k] = V::div(acc[k], inv);
  }
  for (int k = 0; k < kRegs; ++k) {
    if (kTail && k == NV) {
      V::store_masked(out + k * V::kLanes, acc[k], tail);
    } else {
      V::store(out + k * V::kLanes, acc[k]);
    }
  }
}

template <class V, class Idx>
using BlockFn = void (*)(const PoolState&, int64_t, int64_t, int64_t, typename V::Mask, float*);

// The remainder block for `vectors` full vectors plus an optional tail.
template <class V, class Idx, int NV = 0>
inline BlockFn<V, Idx> remainder_block(int vectors, bool tail) {
  if constexpr (NV < kBlockVectors) {
    if (vectors == NV) {
      return tail ? &pool_block<V, Idx, NV, true> : &pool_block<V, Idx, NV, false>;
    }
    return remainder_block<V, Idx, NV + 1>(vectors, tail);
  } else {
    return nullptr;
  }
}

template <class V, class Idx>
void pool_bags(const BagArgs& a, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
               int64_t col_end) {
  constexpr int64_t kBlockFloats = int64_t{kBlockVectors} * V::kLanes;
  const int64_t width = col_end - col_begin;
  const int64_t full_blocks = width / kBlockFloats;
  const int64_t rem = width - full_blocks * kBlockFloats;
  const int rem_vectors = static_cast<int>(rem / V::kLanes);
  const int tail_lanes = static_cast<int>(rem % V::kLanes);
  const BlockFn<V, Idx> rem_fn = remainder_block<V, Idx>(rem_vectors, tail_lanes != 0);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const bool has_rem = rem != 0;
  const int64_t row_bytes = width * static_cast<int64_t>(sizeof(float));

  PoolState first{&a, a.bags.end(bag_end - 1), row_bytes};
  PoolState later{&a, 0, 0};
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    const int64_t p_begin = a.bags.start(b);
    const int64_t p_end = a.bags.end(b);
    // Scatter-add reads its destination rows, which are scattered too: fetch them ahead
    // like the source rows (a scatter plan's bags hold only a row or two each).
    if (a.accumulate && b + kPrefetchBags < bag_end) {
      prefetch_row(a.out_row(b + kPrefetchBags) + col_begin, row_bytes);
    }
    float* out = a.out_row(b);
    int64_t col = col_begin;
    const PoolState* state = &first;
    for (int64_t blk = 0; blk < full_blocks; ++blk, col += kBlockFloats) {
      pool_block<V, Idx, kBlockVectors, false>(*state, p_begin, p_end, col, tail, out + col);
      state = &later;
    }
    if (has_rem) rem_fn(*state, p_begin, p_end, col, tail, out + col);
  }
}

template <class V, class Idx>
void gather_rows(const Table& t, const IndexArray& indices, int64_t begin, int64_t end,
                 float* out) {
  const int64_t dim = t.dim;
  const int64_t full = dim / V::kLanes;
  const int tail_lanes = static_cast<int>(dim % V::kLanes);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const int64_t row_bytes = dim * static_cast<int64_t>(sizeof(float));
  for (int64_t i = begin; i < end; ++i) {
    if (i + kPrefetchDistance < end) {
      prefetch_row(t.data + index_at<Idx>(indices, i + kPrefetchDistance) * dim, row_bytes);
    }
    const float* src = t.data + index_at<Idx>(indices, i) * dim;
    float* dst = out + i * dim;
    int64_t c = 0;
    for (int64_t k = 0; k < full; ++k, c += V::kLanes) V::store(dst + c, V::load(src + c));
    if (tail_lanes != 0) V::store_masked(dst + c, V::load_masked(src + c, tail), tail);
  }
}

// Instantiates every kernel for vector type V.
template <class V>
Kernels make_kernels() {
  Kernels k;
  k.gather_rows = [](const Table& t, const IndexArray& idx, int64_t b, int64_t e, float* out) {
    switch (idx.type) {
      case IndexType::Int32: return gather_rows<V, int32_t>(t, idx, b, e, out);
      case IndexType::Uint32: return gather_rows<V, uint32_t>(t, idx, b, e, out);
      case IndexType::Int64: return gather_rows<V, int64_t>(t, idx, b, e, out);
    }
  };
  k.pool_bags = [](const BagArgs& a, int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
    switch (a.indices.type) {
      case IndexType::Int32: return pool_bags<V, int32_t>(a, b0, b1, c0, c1);
      case IndexType::Uint32: return pool_bags<V, uint32_t>(a, b0, b1, c0, c1);
      case IndexType::Int64: return pool_bags<V, int64_t>(a, b0, b1, c0, c1);
    }
  };
  return k;
}

}  // namespace
}  // namespace embedkit::gather::simd_body
