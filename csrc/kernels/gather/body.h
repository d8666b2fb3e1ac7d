// The gather and bag-pooling kernels, written once over a vector type V (common/simd_*.h)
// and a row decoder D (decode.h: how the table's format stores a row; the ISA file supplies
// the widening loads). Which row an id reads (itself, a pruned table's remap, or the hash of
// a hashed bag) is decided in one place, row_of. Included by avx2.cc / avx512.cc / neon.cc
// inside their EMBEDKIT_TARGET region; uses no std:: templates (see common/target.h).
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
inline void prefetch_row(const void* row, int64_t bytes) {
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

#include "decode.h"

// The table row that id `id` reads, or -1 for an id a pruned table dropped.
inline int64_t row_of(const Table& t, int64_t id) {
  if (t.remap != nullptr) return t.remap[id];
  return t.hashed ? hashed_row(static_cast<uint64_t>(id), t.hash_seed, t.rows) : id;
}

// Prefetches the bytes [col, col + cols) of the row that position p + kPrefetchDistance reads,
// and, for a pruned table, the remap entry of the position after that (so the row id is
// cached by the time its row is prefetched).
template <class D, class Idx>
inline void prefetch_position(const D& dec, const Table& t, const IndexArray& indices,
                              int64_t p, int64_t limit, int64_t col, int64_t bytes) {
  if (p + kPrefetchDistance >= limit) return;
  const int64_t id = index_at<Idx>(indices, p + kPrefetchDistance);
  if (t.remap != nullptr && p + 2 * kPrefetchDistance < limit) {
    __builtin_prefetch(t.remap + index_at<Idx>(indices, p + 2 * kPrefetchDistance), 0, 3);
  }
  const int64_t r = row_of(t, id);
  if (r < 0) return;
  prefetch_row(dec.address(r, col), bytes);
  if (t.scales != nullptr) {
    __builtin_prefetch(t.scales + r, 0, 3);
    __builtin_prefetch(t.biases + r, 0, 3);
  }
}

// What a pooling block needs besides its column range.
template <class D>
struct PoolState {
  const BagArgs* args;
  const D* dec;
  int64_t prefetch_limit;  // index positions past this are not prefetched
  int64_t prefetch_bytes;  // 0: this pass does not prefetch (rows are already cached)
};

// Pools bag positions [p_begin, p_end) over NV full vectors (plus one masked vector when
// kTail) starting at column `col`, and stores the result into out.
template <class V, class D, class Idx, int NV, bool kTail>
inline void pool_block(const PoolState<D>& s, int64_t p_begin, int64_t p_end, int64_t col,
                       int tail_lanes, typename V::Mask tail, float* out) {
  using Reg = typename V::Reg;
  constexpr int kRegs = NV + (kTail ? 1 : 0);
  const BagArgs& a = *s.args;
  const D dec = *s.dec;
  // Locals, not loads through `a` in the loops: the id mapping's branches are then
  // loop-invariant and the compiler keeps the table's fields in registers.
  const Table table = a.table;
  const IndexArray indices = a.indices;
  const int64_t padding = a.padding_idx;
  const int64_t prefetch_bytes = s.prefetch_bytes;
  const int64_t prefetch_limit = s.prefetch_limit;
  Reg acc[kRegs > 0 ? kRegs : 1];
  int64_t count = 0;

  auto prefetch_ahead = [&](int64_t p) {
    if (prefetch_bytes != 0) {
      prefetch_position<D, Idx>(dec, table, indices, p, prefetch_limit, col, prefetch_bytes);
    }
  };
  // The row position p pools, or false for padding and pruned ids (skipped, not counted).
  auto row_at = [&](int64_t p, typename D::Row* row) {
    const int64_t id = index_at<Idx>(indices, p);
    if (id == padding) return false;
    const int64_t r = row_of(table, id);
    if (r < 0) return false;
    *row = dec.row(r, col);
    return true;
  };
  auto load = [&](const typename D::Row& row, int k) {
    const int64_t off = int64_t{k} * V::kLanes;
    return (kTail && k == NV) ? dec.load_tail(row, off, tail_lanes, tail) : dec.load(row, off);
  };
  auto load_out = [&](int k) {
    return (kTail && k == NV) ? V::load_masked(out + k * V::kLanes, tail)
                              : V::load(out + k * V::kLanes);
  };
  // Scatter-add starts from the destination row (Sum only), everything else from zero.
  for (int k = 0; k < kRegs; ++k) acc[k] = a.accumulate ? load_out(k) : V::zero();

  typename D::Row row;
  if (a.mode == PoolMode::Max) {
    for (int64_t p = p_begin; p < p_end; ++p) {
      prefetch_ahead(p);
      if (!row_at(p, &row)) continue;
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
      if (!row_at(p, &row)) continue;
      const Reg w = V::set1(a.weights[p]);
      for (int k = 0; k < kRegs; ++k) acc[k] = V::fma(w, load(row, k), acc[k]);
      ++count;
    }
  } else {
    for (int64_t p = p_begin; p < p_end; ++p) {
      prefetch_ahead(p);
      if (!row_at(p, &row)) continue;
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

template <class V, class D>
using BlockFn = void (*)(const PoolState<D>&, int64_t, int64_t, int64_t, int,
                         typename V::Mask, float*);

// The remainder block for `vectors` full vectors plus an optional tail.
template <class V, class D, class Idx, int NV = 0>
inline BlockFn<V, D> remainder_block(int vectors, bool tail) {
  if constexpr (NV < kBlockVectors) {
    if (vectors == NV) {
      return tail ? &pool_block<V, D, Idx, NV, true> : &pool_block<V, D, Idx, NV, false>;
    }
    return remainder_block<V, D, Idx, NV + 1>(vectors, tail);
  } else {
    return nullptr;
  }
}

template <class V, class D, class Idx>
void pool_bags(const BagArgs& a, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
               int64_t col_end) {
  constexpr int64_t kBlockFloats = int64_t{kBlockVectors} * V::kLanes;
  const D dec(a.table);
  const int64_t width = col_end - col_begin;
  const int64_t full_blocks = width / kBlockFloats;
  const int64_t rem = width - full_blocks * kBlockFloats;
  const int rem_vectors = static_cast<int>(rem / V::kLanes);
  const int tail_lanes = static_cast<int>(rem % V::kLanes);
  const BlockFn<V, D> rem_fn = remainder_block<V, D, Idx>(rem_vectors, tail_lanes != 0);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const bool has_rem = rem != 0;
  const int64_t out_bytes = width * static_cast<int64_t>(sizeof(float));

  PoolState<D> first{&a, &dec, a.bags.end(bag_end - 1), dec.bytes(width)};
  PoolState<D> later{&a, &dec, 0, 0};
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    const int64_t p_begin = a.bags.start(b);
    const int64_t p_end = a.bags.end(b);
    // Scatter-add reads its destination rows, which are scattered too: fetch them ahead
    // like the source rows (a scatter plan's bags hold only a row or two each).
    if (a.accumulate && b + kPrefetchBags < bag_end) {
      prefetch_row(a.out_row(b + kPrefetchBags) + col_begin, out_bytes);
    }
    float* out = a.out_row(b);
    int64_t col = col_begin;
    const PoolState<D>* state = &first;
    for (int64_t blk = 0; blk < full_blocks; ++blk, col += kBlockFloats) {
      pool_block<V, D, Idx, kBlockVectors, false>(*state, p_begin, p_end, col, tail_lanes, tail,
                                                  out + col);
      state = &later;
    }
    if (has_rem) rem_fn(*state, p_begin, p_end, col, tail_lanes, tail, out + col);
  }
}

template <class V, class D, class Idx>
void gather_rows(const Table& t, const IndexArray& indices, int64_t begin, int64_t end,
                 float* out) {
  const D dec(t);
  const int64_t dim = t.dim;
  const int64_t full = dim / V::kLanes;
  const int tail_lanes = static_cast<int>(dim % V::kLanes);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const int64_t row_bytes = dec.bytes(dim);
  for (int64_t i = begin; i < end; ++i) {
    prefetch_position<D, Idx>(dec, t, indices, i, end, 0, row_bytes);
    float* dst = out + i * dim;
    const int64_t r = row_of(t, index_at<Idx>(indices, i));
    if (r < 0) {  // a pruned id: a zero row
      for (int64_t c = 0; c < dim; ++c) dst[c] = 0.0f;
      continue;
    }
    const typename D::Row row = dec.row(r, 0);
    int64_t c = 0;
    for (int64_t k = 0; k < full; ++k, c += V::kLanes) V::store(dst + c, dec.load(row, c));
    if (tail_lanes != 0) V::store_masked(dst + c, dec.load_tail(row, c, tail_lanes, tail), tail);
  }
}

template <class T>
struct TypeTag {
  using type = T;
};

// Runs Body<V, decoder, index type>::run(args...) for the table's format and index type.
template <class V, class W, template <class, class, class> class Body, class... Args>
inline void dispatch(const Table& t, IndexType type, Args&&... args) {
  auto by_index = [&](auto decoder_tag) {
    using D = typename decltype(decoder_tag)::type;
    switch (type) {
      case IndexType::Int32: return Body<V, D, int32_t>::run(args...);
      case IndexType::Uint32: return Body<V, D, uint32_t>::run(args...);
      case IndexType::Int64: return Body<V, D, int64_t>::run(args...);
    }
  };
  switch (t.format) {
    case TableFormat::F32: return by_index(TypeTag<F32Rows<V, W>>{});
    case TableFormat::F16: return by_index(TypeTag<F16Rows<V, W>>{});
    case TableFormat::BF16: return by_index(TypeTag<BF16Rows<V, W>>{});
    case TableFormat::Q8: return by_index(TypeTag<Q8Rows<V, W>>{});
    case TableFormat::Q4: return by_index(TypeTag<Q4Rows<V, W>>{});
  }
}

template <class V, class D, class Idx>
struct GatherBody {
  static void run(const Table& t, const IndexArray& idx, int64_t b, int64_t e, float* out) {
    gather_rows<V, D, Idx>(t, idx, b, e, out);
  }
};
template <class V, class D, class Idx>
struct PoolBody {
  static void run(const BagArgs& a, int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
    pool_bags<V, D, Idx>(a, b0, b1, c0, c1);
  }
};

// Instantiates every kernel for vector type V and the widening helpers W (decode.h).
template <class V, class W>
Kernels make_kernels() {
  Kernels k;
  k.gather_rows = [](const Table& t, const IndexArray& idx, int64_t b, int64_t e, float* out) {
    dispatch<V, W, GatherBody>(t, idx.type, t, idx, b, e, out);
  };
  k.pool_bags = [](const BagArgs& a, int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
    dispatch<V, W, PoolBody>(a.table, a.indices.type, a, b0, b1, c0, c1);
  };
  return k;
}

}  // namespace
}  // namespace embedkit::gather::simd_body
