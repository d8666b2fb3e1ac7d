// The gather and bag-pooling kernels, written once over a vector type V (common/simd_*.h)
// and a row decoder D (decode.h: how the table's format stores a row; the ISA file supplies
// the widening loads). Which row an id reads (itself, a pruned table's remap, or the hash of
// a hashed bag) is decided in one place, row_of. Included by avx2.cc / avx512.cc / neon.cc
// inside their EMBEDKIT_TARGET region; uses no std:: templates (see common/target.h).
//
// Shape of the pooling kernel: the columns of a bag's output are cut into blocks of up to
// kFullBlockVectors<S> vectors (128 floats for f32 tables, else 8 vectors); for each block,
// every row of the bag is streamed through that many accumulators held in registers, each
// pass prefetching its block's columns of the row kPrefetchDistance positions ahead, and the
// block is stored once. The column plan (full blocks, then a remainder of fewer vectors plus
// an optional masked tail) is fixed per call, so the remainder blocks are templates chosen
// once, not per row. A bag of one position skips the blocks (pool_one_position). Both fold a
// bag's rows with the same steps (AddStep / FmaStep / MaxStep), so which one ran never
// changes a bit of the result.
#pragma once

#include "gather.h"

namespace embedkit::gather::simd_body {
// Internal linkage for everything here: each ISA's translation unit compiles these helpers
// for its own target, and shared (inline) symbols would let the linker keep one ISA's copy
// for all of them, which could run AVX-512 code on an AVX2-only CPU.
namespace {

// Per-row helpers of the hot loops are forced inline: in a file that instantiates this many
// kernels, GCC's unit-growth limits otherwise leave some of them (row_of, a QR combine, the
// prefetch helpers) as calls made for every row or every vector. The prefetches themselves
// are volatile asm (common/prefetch.h): GCC deleted __builtin_prefetch here, see that file.
#define EMBEDKIT_HOT [[gnu::always_inline]] inline
#define EMBEDKIT_HOT_LAMBDA __attribute__((always_inline))
// Every loop over a block's accumulators is unrolled completely, so that acc[] lives in
// registers. GCC (12, -O3) left some of them rolled, and then kept the whole array on the
// stack: a load and a store of every accumulator for every row pooled, 3x the instructions of
// a gathered row for a bag of one (callgrind), 1.5x the time of bags of 8-32 rows from a
// cache-resident table.
#define EMBEDKIT_EACH_REG _Pragma("GCC unroll 16")

constexpr int kBlockVectors = 8;
// How many index positions ahead the row stream is prefetched: far enough to cover DRAM
// latency at these row sizes, near enough to stay in L1/L2.
constexpr int64_t kPrefetchDistance = 12;
constexpr int64_t kCacheLine = 64;
// How many bags ahead a scatter-add's destination rows are prefetched.
constexpr int64_t kPrefetchBags = 8;

// Rows up to this many bytes are prefetched by a run of prefetches at constant offsets when
// `bytes` is a compile-time constant (the pooling blocks' own columns), as FBGEMM's JIT emits
// them; longer ones by a loop over their lines, which spaces the prefetches out. On the
// AVX-512 VM (bench/fbgemm/compare.cc, alternated builds, 2026-11-27) the run beat the loop
// at 128 and 256 bytes (dim 32: 1.17-1.30x) and lost at 512 (dim 128, one thread: 16.1
// against 17.2 M rows/s) and 1 KiB (dim 256: 8.0 against 8.8).
constexpr int64_t kUnrolledPrefetchBytes = 256;

// Every cache line of [row, row + bytes). Rows need not start on a line boundary (a JS
// ArrayBuffer usually starts 16 bytes into one, so a 128-byte row can span three lines). The
// short form touches points at most a line apart, from the row's start to its last byte,
// whatever the alignment: one prefetch more than the lines when the row is aligned, and no
// per-line compare and add.
EMBEDKIT_HOT void prefetch_row(const void* row, int64_t bytes) {
  if (bytes <= kUnrolledPrefetchBytes) {
    if (bytes <= 0) return;
    const char* p = static_cast<const char*>(row);
    for (int64_t off = 0; off < bytes - 1; off += kCacheLine) prefetch_read(p + off);
    prefetch_read(p + bytes - 1);
    return;
  }
  const uintptr_t begin = reinterpret_cast<uintptr_t>(row);
  const uintptr_t end = begin + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = begin & ~uintptr_t{kCacheLine - 1}; line < end; line += kCacheLine) {
    prefetch_read(reinterpret_cast<const void*>(line));
  }
}

template <class Idx>
inline int64_t index_at(const IndexArray& indices, int64_t p) {
  return static_cast<int64_t>(static_cast<const Idx*>(indices.data)[p]);
}
// Any index type, read through IndexArray::at: one well-predicted switch per id, for kernels
// whose rows cost far more than that (a QR id reads two rows after a division), so that they
// are instantiated once instead of once per index type.
struct AnyIndex {};
template <>
inline int64_t index_at<AnyIndex>(const IndexArray& indices, int64_t p) {
  return indices.at(p);
}

#include "decode.h"

// The table row that id `id` reads, or -1 for an id a pruned table dropped.
EMBEDKIT_HOT int64_t row_of(const Table& t, int64_t id) {
  if (t.remap != nullptr) return t.remap[id];
  return t.hashed ? hashed_row(static_cast<uint64_t>(id), t.hash_seed, t.rows) : id;
}

// Row sources: which stored rows an id reads, and how they become float32 vectors. The
// kernels below are written over a source S:
//   struct Row;  bool row(int64_t id, int64_t col, Row*) const   false: the id reads nothing
//   Reg load(const Row&, int64_t off) const;  Reg load_tail(const Row&, off, n, Mask) const;
//   int64_t bytes(int64_t cols) const;        bytes one row's cols columns occupy
//   void prefetch(int64_t id, int64_t col, int64_t bytes) const;
//        everything id's row needs: its per-row data and `bytes` bytes from column col on
//   bool maps_ids() const; void prefetch_id(int64_t id) const;     an id -> row array to warm

// One table through its decoder D. With kMapsIds, ids go through a pruned table's remap or
// the hash of a hashed bag (row_of); without, an id is its row, and the row loops carry no
// mapping at all: the kernels pick the plain source once per call when the table has neither
// (PoolBody). The mapping's checks, twice per row (the row and its prefetch), were about 10
// of the 70 instructions per pooled row at dim 64 (bench/fbgemm/count.sh, callgrind_annotate).
template <class D, bool kMapsIds = true>
struct TableSource {
  using Reg = typename D::Reg;
  using Row = typename D::Row;
  D dec;
  Table table;
  explicit TableSource(const Table& t) : dec(t), table(t) {}
  EMBEDKIT_HOT int64_t row_index(int64_t id) const {
    return kMapsIds ? row_of(table, id) : id;
  }
  EMBEDKIT_HOT bool row(int64_t id, int64_t col, Row* out) const {
    const int64_t r = row_index(id);
    if (kMapsIds && r < 0) return false;
    *out = dec.row(r, col);
    return true;
  }
  EMBEDKIT_HOT Reg load(const Row& row, int64_t off) const { return dec.load(row, off); }
  template <class Mask>
  EMBEDKIT_HOT Reg load_tail(const Row& row, int64_t off, int n, Mask m) const {
    return dec.load_tail(row, off, n, m);
  }
  int64_t bytes(int64_t cols) const { return dec.bytes(cols); }
  EMBEDKIT_HOT void prefetch(int64_t id, int64_t col, int64_t bytes) const {
    const int64_t r = row_index(id);
    if (kMapsIds && r < 0) return;
    // Per-row data (q8 / q4 scale and bias) first, then the row's lines.
    dec.prefetch_params(r);
    prefetch_row(dec.address(r, col), bytes);
  }
  bool maps_ids() const { return kMapsIds && table.remap != nullptr; }
  EMBEDKIT_HOT void prefetch_id(int64_t id) const { prefetch_read(table.remap + id); }
};

// A quotient-remainder pair (QrBagArgs): id reads quotient row id / m and remainder row id % m,
// combined as `part` says. The part is a runtime value: the branch on it is the same for
// every vector of a call, and one instantiation per format keeps the compile time in check.
template <class V, class D>
struct QrSource {
  using Reg = typename D::Reg;
  struct Row {
    typename D::Row q, r;
  };
  D quotient, remainder;
  int64_t m;
  QrPart part;
  QrSource(const QrBagArgs& a, QrPart p)
      : quotient(a.bag.table), remainder(a.remainder), m(a.remainder.rows), part(p) {}
  bool reads_quotient() const { return part != QrPart::Remainder; }
  bool reads_remainder() const { return part != QrPart::Quotient; }
  EMBEDKIT_HOT bool row(int64_t id, int64_t col, Row* out) const {
    const int64_t qi = id / m;
    if (reads_quotient()) out->q = quotient.row(qi, col);
    if (reads_remainder()) out->r = remainder.row(id - qi * m, col);
    return true;
  }
  // The combined vector from the two rows' loads lq(quotient, row.q) and lr(...).
  template <class Load>
  EMBEDKIT_HOT Reg combine(const Row& row, Load load) const {
    switch (part) {
      case QrPart::Quotient: return load(quotient, row.q);
      case QrPart::Remainder: return load(remainder, row.r);
      case QrPart::Mul: return V::mul(load(quotient, row.q), load(remainder, row.r));
      case QrPart::Sum: break;
    }
    return V::add(load(quotient, row.q), load(remainder, row.r));
  }
  EMBEDKIT_HOT Reg load(const Row& row, int64_t off) const {
    return combine(row, [&](const D& d, const typename D::Row& x) { return d.load(x, off); });
  }
  template <class Mask>
  EMBEDKIT_HOT Reg load_tail(const Row& row, int64_t off, int n, Mask m) const {
    return combine(row, [&](const D& d, const typename D::Row& x) { return d.load_tail(x, off, n, m); });
  }
  int64_t bytes(int64_t cols) const { return quotient.bytes(cols); }
  EMBEDKIT_HOT void prefetch(int64_t id, int64_t col, int64_t bytes) const {
    const int64_t qi = id / m;
    if (reads_quotient()) {
      quotient.prefetch_params(qi);
      prefetch_row(quotient.address(qi, col), bytes);
    }
    if (reads_remainder()) {
      remainder.prefetch_params(id - qi * m);
      prefetch_row(remainder.address(id - qi * m, col), bytes);
    }
  }
  bool maps_ids() const { return false; }
  void prefetch_id(int64_t) const {}
};

// Prefetches `bytes` bytes from column col of the row(s) that position p + kPrefetchDistance
// reads, unless that position is `limit` or past it, and, for a source that maps ids through
// an array (a pruned table's remap), that array's entry for the position after that (so the
// row id is cached by the time its row is prefetched).
template <class S, class Idx>
EMBEDKIT_HOT void prefetch_position(const S& src, const IndexArray& indices, int64_t p,
                                    int64_t limit, int64_t col, int64_t bytes) {
  if (p + kPrefetchDistance >= limit) return;
  if (src.maps_ids() && p + 2 * kPrefetchDistance < limit) {
    src.prefetch_id(index_at<Idx>(indices, p + 2 * kPrefetchDistance));
  }
  src.prefetch(index_at<Idx>(indices, p + kPrefetchDistance), col, bytes);
}

// What a pooling block needs besides its column range.
template <class S>
struct PoolState {
  const BagArgs* args;
  const S* src;
  int64_t prefetch_limit;  // index positions from this one on are not prefetched
  int64_t row_bytes;       // bytes of a row's columns in the task's range (a bag of one's)
};

// A compile-time bool for generic lambdas (no std:: templates here, see common/target.h).
template <bool kValue>
struct Flag {
  static constexpr bool value = kValue;
};

// How a bag's terms fold into its result, one vector at a time and in position order. Both
// pooling kernels below (a register block per column range, and a bag of one position) fold
// through these, so a bag pools to the same bits whichever kernel runs it.
//   step(acc, x, w, first): the fold of row vector x with weight w into acc
template <class V>
struct AddStep {  // Sum / Mean, unweighted
  using Reg = typename V::Reg;
  static constexpr bool kFirstDiffers = false;
  EMBEDKIT_HOT Reg operator()(Reg acc, Reg x, Reg, bool) const { return V::add(acc, x); }
};
template <class V>
struct FmaStep {  // Sum / Mean with per-index weights
  using Reg = typename V::Reg;
  static constexpr bool kFirstDiffers = false;
  EMBEDKIT_HOT Reg operator()(Reg acc, Reg x, Reg w, bool) const { return V::fma(w, x, acc); }
};
template <class V>
struct MaxStep {  // Max; weighted (spmm's reduce 'max'): the max of weight x row
  using Reg = typename V::Reg;
  static constexpr bool kFirstDiffers = true;  // the first term is taken as it is
  bool weighted;
  EMBEDKIT_HOT Reg operator()(Reg acc, Reg x, Reg w, bool first) const {
    const Reg term = weighted ? V::mul(w, x) : x;
    return first ? term : V::max_gt(term, acc);
  }
};

// Calls fn(step) with the fold of a's mode and weights.
template <class V, class Fn>
EMBEDKIT_HOT void with_step(const BagArgs& a, Fn&& fn) {
  if (a.mode == PoolMode::Max) return fn(MaxStep<V>{a.weights != nullptr});
  if (a.weights != nullptr) return fn(FmaStep<V>{});
  fn(AddStep<V>{});
}

// A fold starts from the destination's value when accumulating (scatter-add), else zero.
// Its end once `count` rows were folded: zero for an empty or all-padding bag, the Mean's
// division.
template <class V>
EMBEDKIT_HOT typename V::Reg fold_end(typename V::Reg acc, int64_t count, bool accumulate,
                                      bool mean) {
  if (count == 0) return accumulate ? acc : V::zero();
  return mean ? V::div(acc, V::set1(static_cast<float>(count))) : acc;
}

// Vector k of a row's block of NV full vectors and, when kTail, the masked vector k == NV.
// Forced inline, as the kernels' lambdas are: GCC left such a load out of line in the q4 QR
// tail-only block (found by test/prefetch-codegen.test.ts, which rejects any out-of-line
// lambda of a kernel).
template <class V, class S, int NV, bool kTail>
EMBEDKIT_HOT typename V::Reg block_vector(const S& src, const typename S::Row& row, int k, int tail_lanes,
                                          typename V::Mask tail) {
  const int64_t off = int64_t{k} * V::kLanes;
  return (kTail && k == NV) ? src.load_tail(row, off, tail_lanes, tail) : src.load(row, off);
}

// Pools bag positions [p_begin, p_end) over NV full vectors (plus one masked vector when
// kTail) starting at column `col`, and stores the result into out.
template <class V, class S, class Idx, int NV, bool kTail>
inline void pool_block(const PoolState<S>& s, int64_t p_begin, int64_t p_end, int64_t col,
                       int tail_lanes, typename V::Mask tail, float* out) {
  using Reg = typename V::Reg;
  constexpr int kRegs = NV + (kTail ? 1 : 0);
  const BagArgs& a = *s.args;
  // Locals, not loads through `a` or `s` in the loops: the id mapping's branches are then
  // loop-invariant and the compiler keeps the source's fields in registers.
  const S src = *s.src;
  const IndexArray indices = a.indices;
  const int64_t padding = a.padding_idx;
  const int64_t prefetch_limit = s.prefetch_limit;
  // Every pass prefetches its own columns of the row kPrefetchDistance positions ahead (in
  // this bag or the next ones), as FBGEMM's JIT does: a compile-time number of bytes (a tail
  // counts as a whole vector; prefetching past a row's end is harmless), so short blocks'
  // prefetches unroll into a fixed run at constant offsets (prefetch_row). (Prefetching the whole width in
  // a bag's first pass instead, as this kernel did before, took a line loop per row:
  // 4 instructions a line, 19 of the 70 per row at dim 64, bench/fbgemm/count.sh.)
  const int64_t prefetch_bytes = src.bytes(int64_t{kRegs} * V::kLanes);
  Reg acc[kRegs > 0 ? kRegs : 1];
  int64_t count = 0;

  auto load = [&](const typename S::Row& row, int k) EMBEDKIT_HOT_LAMBDA {
    return block_vector<V, S, NV, kTail>(src, row, k, tail_lanes, tail);
  };
  auto load_out = [&](int k) EMBEDKIT_HOT_LAMBDA {
    return (kTail && k == NV) ? V::load_masked(out + k * V::kLanes, tail)
                              : V::load(out + k * V::kLanes);
  };
  EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
    acc[k] = a.accumulate ? load_out(k) : V::zero();
  }

  typename S::Row row{};
  with_step<V>(a, [&](auto step) EMBEDKIT_HOT_LAMBDA {
    for (int64_t p = p_begin; p < p_end; ++p) {
      prefetch_position<S, Idx>(src, indices, p, prefetch_limit, col, prefetch_bytes);
      // Padding and pruned ids are skipped, not counted.
      const int64_t id = index_at<Idx>(indices, p);
      if (id == padding || !src.row(id, col, &row)) continue;
      const Reg w = V::set1(a.weights != nullptr ? a.weights[p] : 1.0f);
      auto fold_row = [&](auto first) EMBEDKIT_HOT_LAMBDA {
        EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
          acc[k] = step(acc[k], load(row, k), w, first.value);
        }
      };
      // One branch per row, not per vector, where the fold's first row differs (Max).
      if (decltype(step)::kFirstDiffers && count == 0) {
        fold_row(Flag<true>{});
      } else {
        fold_row(Flag<false>{});
      }
      ++count;
    }
  });

  EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
    const Reg v = fold_end<V>(acc[k], count, a.accumulate, a.mode == PoolMode::Mean);
    if (kTail && k == NV) {
      V::store_masked(out + k * V::kLanes, v, tail);
    } else {
      V::store(out + k * V::kLanes, v);
    }
  }
}

// Pools a bag of one position over columns [col, col + width), a vector at a time. A
// register block pays its setup (the source copied into registers, the accumulators, the id
// mapping) once per kBlockVectors vectors, which one row does not amortize: for bags of one id
// from a cache-resident table the (unrolled) block kernel took 1.2-1.4x as long as this one
// (C++ harness, dims 100-256, 1 thread, interleaved runs, 2026-11-27).
// Such bags are common: a scatter plan's segments, spmm rows with one nonzero. (Bags of two
// or three rows were timed through this kernel too, folding one row per pass over the output
// row: no faster than the blocks.)
template <class V, class S, class Idx>
inline void pool_one_position(const PoolState<S>& s, int64_t p, int64_t col, int64_t width,
                              int tail_lanes, typename V::Mask tail, float* out) {
  using Reg = typename V::Reg;
  const BagArgs& a = *s.args;
  prefetch_position<S, Idx>(*s.src, a.indices, p, s.prefetch_limit, col, s.row_bytes);
  // Locals: the vector stores below may alias anything reached through `a` or `s`, so
  // fields read in the loops would be reloaded for every vector.
  const S src = *s.src;
  const bool accumulate = a.accumulate;
  const bool mean = a.mode == PoolMode::Mean;
  const int64_t id = index_at<Idx>(a.indices, p);
  typename S::Row row{};
  if (id == a.padding_idx || !src.row(id, col, &row)) {  // the bag pools nothing
    if (accumulate) return;
    int64_t c = 0;
    for (; c + V::kLanes <= width; c += V::kLanes) V::store(out + c, V::zero());
    if (tail_lanes != 0) V::store_masked(out + c, V::zero(), tail);
    return;
  }
  const Reg w = V::set1(a.weights != nullptr ? a.weights[p] : 1.0f);
  with_step<V>(a, [&](auto step) EMBEDKIT_HOT_LAMBDA {
    auto fold = [&](Reg start, Reg x) EMBEDKIT_HOT_LAMBDA {
      return fold_end<V>(step(start, x, w, true), 1, accumulate, mean);
    };
    int64_t c = 0;
    for (; c + V::kLanes <= width; c += V::kLanes) {
      const Reg start = accumulate ? V::load(out + c) : V::zero();
      V::store(out + c, fold(start, src.load(row, c)));
    }
    if (tail_lanes != 0) {
      const Reg start = accumulate ? V::load_masked(out + c, tail) : V::zero();
      V::store_masked(out + c, fold(start, src.load_tail(row, c, tail_lanes, tail)), tail);
    }
  });
}

// Max pooling that also records each element's winner (embeddingBag's returnArgmax) over
// bag positions [p_begin, p_end), NV full vectors (plus one masked vector when kTail) from
// column `col`: MaxStep's fold, where a lane takes a row's value only when it is strictly
// greater (V::gt: never a NaN, never an equal value), and the winner's id moves along with
// the same select. A winner is the id, or for a hashed bag the row it hashed to (ref.cc, the
// scalar oracle, says the same); an empty or padding-only bag gets zeros and -1.
template <class V, class S, class Idx, int NV, bool kTail>
inline void argmax_block(const PoolState<S>& s, int64_t p_begin, int64_t p_end, int64_t col, int tail_lanes,
                         typename V::Mask tail, float* out, int32_t* winners) {
  using Reg = typename V::Reg;
  constexpr int kRegs = NV + (kTail ? 1 : 0);
  const BagArgs& a = *s.args;
  const S src = *s.src;
  const IndexArray indices = a.indices;
  const int64_t padding = a.padding_idx;
  const bool hashed = a.table.hashed;
  const int64_t prefetch_bytes = src.bytes(int64_t{kRegs} * V::kLanes);
  auto load = [&](const typename S::Row& row, int k) EMBEDKIT_HOT_LAMBDA {
    return block_vector<V, S, NV, kTail>(src, row, k, tail_lanes, tail);
  };
  Reg acc[kRegs];
  Reg win[kRegs];
  EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
    acc[k] = V::zero();
    win[k] = V::splat_bits(-1);
  }
  bool first = true;
  typename S::Row row{};
  for (int64_t p = p_begin; p < p_end; ++p) {
    prefetch_position<S, Idx>(src, indices, p, s.prefetch_limit, col, prefetch_bytes);
    const int64_t id = index_at<Idx>(indices, p);
    if (id == padding || !src.row(id, col, &row)) continue;
    const Reg who = V::splat_bits(static_cast<int32_t>(hashed ? row_of(a.table, id) : id));
    if (first) {
      EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
        acc[k] = load(row, k);
        win[k] = who;
      }
      first = false;
      continue;
    }
    EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
      const Reg x = load(row, k);
      const typename V::Cmp takes = V::gt(x, acc[k]);
      acc[k] = V::select(takes, x, acc[k]);
      win[k] = V::select(takes, who, win[k]);
    }
  }
  EMBEDKIT_EACH_REG for (int k = 0; k < kRegs; ++k) {
    const int64_t off = int64_t{k} * V::kLanes;
    if (kTail && k == NV) {
      V::store_masked(out + off, acc[k], tail);
      V::store_bits_masked(winners + off, win[k], tail);
    } else {
      V::store(out + off, acc[k]);
      V::store_bits(winners + off, win[k]);
    }
  }
}

template <class V, class S>
using BlockFn = void (*)(const PoolState<S>&, int64_t, int64_t, int64_t, int,
                         typename V::Mask, float*);

// The remainder block for `vectors` full vectors plus an optional tail.
template <class V, class S, class Idx, int NV = 0>
inline BlockFn<V, S> remainder_block(int vectors, bool tail) {
  if constexpr (NV < kBlockVectors) {
    if (vectors == NV) {
      if (tail) return &pool_block<V, S, Idx, NV, true>;
      // A block of no columns is never planned (remainder_plan), so none is instantiated.
      if constexpr (NV > 0) return &pool_block<V, S, Idx, NV, false>;
      return nullptr;
    }
    return remainder_block<V, S, Idx, NV + 1>(vectors, tail);
  } else {
    return nullptr;
  }
}

// Whether source S gets a remainder block for every width (2 x kBlockVectors instantiations
// of pool_block per index type): plain f32 tables (ids are rows), the hot path whose rows are
// cheapest to read. The other sources cover a remainder with blocks of 4, 2 and 1 vectors and
// a tail-only block, one pass over the bag's rows each; that costs up to three extra passes
// (over rows the first pass brought into cache) on dims that are not a multiple of
// kBlockVectors vectors, and cuts what each ISA file compiles to about a third.
template <class S>
constexpr bool kEveryRemainderBlock = false;
template <class V, class W>
constexpr bool kEveryRemainderBlock<TableSource<F32Rows<V, W>, false>> = true;

// Vectors per full block. An f32 row is added straight from memory (the load folds into the
// add), so a block can hold an accumulator in every register AVX2 has: 16 vectors, one pass
// over a bag's rows at dim 128 instead of two, as FBGEMM's JIT does. Against 8-vector blocks
// at dim 128 on AVX2 (bench/fbgemm/compare.cc, 1 thread, alternating runs): 14.2-17.7 against
// 12.5-14.3 M rows/s, FBGEMM 17.1-18.6. But no block covers more than 128 floats (512 bytes
// of each row): on AVX-512 a 16-register block (256 floats, 16 lines of a row prefetched at
// once) pooled dim 256 at 8.5 M rows/s on one thread, two 8-register passes at 9.8 (same
// program, alternated builds, 2026-11-27), as did AVX2's two 16-register passes.
// Decoded formats and QR need registers for the decode and keep 8.
constexpr int64_t kMaxBlockFloats = 128;
template <class S>
constexpr int kFullBlockVectors = kBlockVectors;
template <class V, class W, bool kMapsIds>
constexpr int kFullBlockVectors<TableSource<F32Rows<V, W>, kMapsIds>> =
    2 * kBlockVectors * V::kLanes <= kMaxBlockFloats ? 2 * kBlockVectors : kBlockVectors;

// The blocks covering a bag's remainder columns: block i starts `offset[i]` columns in. At
// most five: under 16-vector full blocks a remainder of up to 15 vectors and a tail is
// 8 + 4 + 2 + 1 vectors and a tail-only block where not every remainder width has its block.
template <class V, class S>
struct RemainderPlan {
  static constexpr int kMaxBlocks = 5;
  BlockFn<V, S> fn[kMaxBlocks] = {};
  int64_t offset[kMaxBlocks] = {};
  int count = 0;
  void add(BlockFn<V, S> f, int64_t off) {
    fn[count] = f;
    offset[count] = off;
    ++count;
  }
};

template <class V, class S, class Idx>
RemainderPlan<V, S> remainder_plan(int vectors, bool tail) {
  static_assert(kBlockVectors == 8, "a remainder of at most 7 vectors is 4 + 2 + 1");
  RemainderPlan<V, S> plan;
  if (vectors == 0 && !tail) return plan;
  int64_t off = 0;
  if (vectors >= kBlockVectors) {  // only under a 16-vector full block
    plan.add(&pool_block<V, S, Idx, kBlockVectors, false>, off);
    off += kBlockVectors * V::kLanes;
    vectors -= kBlockVectors;
    if (vectors == 0 && !tail) return plan;
  }
  if constexpr (kEveryRemainderBlock<S>) {
    plan.add(remainder_block<V, S, Idx>(vectors, tail), off);
  } else {
    if (vectors & 4) {
      plan.add(&pool_block<V, S, Idx, 4, false>, off);
      off += 4 * V::kLanes;
    }
    if (vectors & 2) {
      plan.add(&pool_block<V, S, Idx, 2, false>, off);
      off += 2 * V::kLanes;
    }
    if (vectors & 1) {
      plan.add(&pool_block<V, S, Idx, 1, false>, off);
      off += V::kLanes;
    }
    if (tail) plan.add(&pool_block<V, S, Idx, 0, true>, off);
  }
  return plan;
}

// Bags [bag_begin, bag_end), columns [col_begin, col_end) of a's bags, rows read through src.
template <class V, class S, class Idx>
void pool_bags(const BagArgs& a, const S& src, int64_t bag_begin, int64_t bag_end,
               int64_t col_begin, int64_t col_end) {
  constexpr int kFull = kFullBlockVectors<S>;
  constexpr int64_t kBlockFloats = int64_t{kFull} * V::kLanes;
  const int64_t width = col_end - col_begin;
  const int64_t full_blocks = width / kBlockFloats;
  const int64_t rem = width - full_blocks * kBlockFloats;
  const int rem_vectors = static_cast<int>(rem / V::kLanes);
  const int tail_lanes = static_cast<int>(rem % V::kLanes);
  const RemainderPlan<V, S> rem_plan = remainder_plan<V, S, Idx>(rem_vectors, tail_lanes != 0);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const int64_t out_bytes = width * static_cast<int64_t>(sizeof(float));

  const PoolState<S> state{&a, &src, a.bags.end(bag_end - 1), src.bytes(width)};
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    const int64_t p_begin = a.bags.start(b);
    const int64_t p_end = a.bags.end(b);
    // Scatter-add reads its destination rows, which are scattered too: fetch them ahead
    // like the source rows (a scatter plan's bags hold only a row or two each).
    if (a.accumulate && b + kPrefetchBags < bag_end) {
      prefetch_row(a.out_row(b + kPrefetchBags) + col_begin, out_bytes);
    }
    float* out = a.out_row(b);
    if (p_end - p_begin == 1) {
      pool_one_position<V, S, Idx>(state, p_begin, col_begin, width, tail_lanes, tail,
                                   out + col_begin);
      continue;
    }
    int64_t col = col_begin;
    for (int64_t blk = 0; blk < full_blocks; ++blk, col += kBlockFloats) {
      pool_block<V, S, Idx, kFull, false>(state, p_begin, p_end, col, tail_lanes, tail, out + col);
    }
    for (int i = 0; i < rem_plan.count; ++i) {
      const int64_t c = col + rem_plan.offset[i];
      rem_plan.fn[i](state, p_begin, p_end, c, tail_lanes, tail, out + c);
    }
  }
}

// Vectors per argmax block: a value and a winner register per vector.
constexpr int kArgmaxBlockVectors = 4;

// Max pooling with winners (argmax_block) of bags [bag_begin, bag_end), columns [col_begin,
// col_end): blocks of kArgmaxBlockVectors vectors, then one vector at a time (each a pass
// over the bag's rows, which the first pass brought into cache), then the tail.
template <class V, class S, class Idx>
void pool_bags_max_argmax(const BagArgs& a, const S& src, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
                          int64_t col_end, int32_t* argmax) {
  constexpr int64_t kBlockFloats = int64_t{kArgmaxBlockVectors} * V::kLanes;
  const int64_t width = col_end - col_begin;
  const int64_t full_blocks = width / kBlockFloats;
  const int64_t rem_vectors = (width - full_blocks * kBlockFloats) / V::kLanes;
  const int tail_lanes = static_cast<int>(width % V::kLanes);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const PoolState<S> state{&a, &src, a.bags.end(bag_end - 1), src.bytes(width)};
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    const int64_t p_begin = a.bags.start(b);
    const int64_t p_end = a.bags.end(b);
    float* out = a.out_row(b);
    int32_t* winners = argmax + b * a.table.dim;
    int64_t col = col_begin;
    for (int64_t blk = 0; blk < full_blocks; ++blk, col += kBlockFloats) {
      argmax_block<V, S, Idx, kArgmaxBlockVectors, false>(state, p_begin, p_end, col, tail_lanes, tail, out + col,
                                                          winners + col);
    }
    for (int64_t v = 0; v < rem_vectors; ++v, col += V::kLanes) {
      argmax_block<V, S, Idx, 1, false>(state, p_begin, p_end, col, tail_lanes, tail, out + col, winners + col);
    }
    if (tail_lanes != 0) {
      argmax_block<V, S, Idx, 0, true>(state, p_begin, p_end, col, tail_lanes, tail, out + col, winners + col);
    }
  }
}

template <class V, class D, class Idx>
void gather_rows(const Table& t, const IndexArray& indices, int64_t begin, int64_t end,
                 float* out) {
  const TableSource<D> src(t);
  const D& dec = src.dec;
  const int64_t dim = t.dim;
  const int64_t full = dim / V::kLanes;
  const int tail_lanes = static_cast<int>(dim % V::kLanes);
  const typename V::Mask tail = V::tail_mask(tail_lanes == 0 ? 1 : tail_lanes);
  const int64_t row_bytes = dec.bytes(dim);
  for (int64_t i = begin; i < end; ++i) {
    prefetch_position<TableSource<D>, Idx>(src, indices, i, end, 0, row_bytes);
    float* dst = out + i * dim;
    typename D::Row row{};
    if (!src.row(index_at<Idx>(indices, i), 0, &row)) {  // a pruned id: a zero row
      for (int64_t c = 0; c < dim; ++c) dst[c] = 0.0f;
      continue;
    }
    int64_t c = 0;
    for (int64_t k = 0; k < full; ++k, c += V::kLanes) V::store(dst + c, dec.load(row, c));
    if (tail_lanes != 0) V::store_masked(dst + c, dec.load_tail(row, c, tail_lanes, tail), tail);
  }
}

template <class T>
struct TypeTag {
  using type = T;
};

// Calls fn(TypeTag<decoder>) with the row decoder of `format`.
template <class V, class W, class Fn>
inline void by_format(TableFormat format, Fn&& fn) {
  switch (format) {
    case TableFormat::F32: return fn(TypeTag<F32Rows<V, W>>{});
    case TableFormat::F16: return fn(TypeTag<F16Rows<V, W>>{});
    case TableFormat::BF16: return fn(TypeTag<BF16Rows<V, W>>{});
    case TableFormat::Q8: return fn(TypeTag<Q8Rows<V, W>>{});
    case TableFormat::Q4: return fn(TypeTag<Q4Rows<V, W>>{});
  }
}

// Runs Body<V, decoder, index type>::run(args...) for the table's format and index type.
template <class V, class W, template <class, class, class> class Body, class... Args>
inline void dispatch(const Table& t, IndexType type, Args&&... args) {
  by_format<V, W>(t.format, [&](auto decoder_tag) {
    using D = typename decltype(decoder_tag)::type;
    switch (type) {
      case IndexType::Int32: return Body<V, D, int32_t>::run(args...);
      case IndexType::Uint32: return Body<V, D, uint32_t>::run(args...);
      case IndexType::Int64: return Body<V, D, int64_t>::run(args...);
    }
  });
}

template <class V, class D, class Idx>
struct GatherBody {
  static void run(const Table& t, const IndexArray& idx, int64_t b, int64_t e, float* out) {
    gather_rows<V, D, Idx>(t, idx, b, e, out);
  }
};
template <class V, class D, class Idx>
struct PoolBody {
  // Ids that are rows take the plain source, per index type; a remap or hash takes the
  // mapping source over any index type (AnyIndex: its rows cost a mapping anyway), which
  // keeps the instantiations at 4 per format instead of 6.
  static void run(const BagArgs& a, int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
    if (a.table.remap != nullptr || a.table.hashed) {
      using Mapped = TableSource<D, true>;
      pool_bags<V, Mapped, AnyIndex>(a, Mapped(a.table), b0, b1, c0, c1);
    } else {
      using Plain = TableSource<D, false>;
      pool_bags<V, Plain, Idx>(a, Plain(a.table), b0, b1, c0, c1);
    }
  }
};

template <class V, class D, class Idx>
struct ArgmaxBody {
  // Sources as PoolBody picks them.
  static void run(const BagArgs& a, int64_t b0, int64_t b1, int64_t c0, int64_t c1, int32_t* argmax) {
    if (a.table.remap != nullptr || a.table.hashed) {
      using Mapped = TableSource<D, true>;
      pool_bags_max_argmax<V, Mapped, AnyIndex>(a, Mapped(a.table), b0, b1, c0, c1, argmax);
    } else {
      using Plain = TableSource<D, false>;
      pool_bags_max_argmax<V, Plain, Idx>(a, Plain(a.table), b0, b1, c0, c1, argmax);
    }
  }
};

// A QR pass: one instantiation per format, over any index type (AnyIndex).
template <class V, class W>
void pool_qr_bags(const QrBagArgs& a, QrPart part, int64_t b0, int64_t b1, int64_t c0,
                  int64_t c1) {
  by_format<V, W>(a.bag.table.format, [&](auto decoder_tag) {
    using D = typename decltype(decoder_tag)::type;
    pool_bags<V, QrSource<V, D>, AnyIndex>(a.bag, QrSource<V, D>(a, part), b0, b1, c0, c1);
  });
}

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
  k.pool_qr_bags = &pool_qr_bags<V, W>;
  k.pool_bags_max_argmax = [](const BagArgs& a, int64_t b0, int64_t b1, int64_t c0, int64_t c1, int32_t* argmax) {
    dispatch<V, W, ArgmaxBody>(a.table, a.indices.type, a, b0, b1, c0, c1, argmax);
  };
  return k;
}

}  // namespace
}  // namespace embedkit::gather::simd_body

#undef EMBEDKIT_HOT
#undef EMBEDKIT_HOT_LAMBDA
#undef EMBEDKIT_EACH_REG
