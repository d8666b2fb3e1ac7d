// The scalar reference: the oracle every SIMD path is tested against, and the "scalar"
// path itself. Written for clarity; it follows PyTorch's embedding_bag semantics exactly.
#include "gather.h"
#include "scalar_decode.h"

namespace embedkit::gather {
namespace {

// Calls fn(c, x) for the columns c in [c0, c1) of row r, x the decoded element. The format
// is dispatched once per row, not per element, so the f32 path stays a plain loop.
template <class Fn>
void for_each_value(const Table& t, int64_t r, int64_t c0, int64_t c1, Fn fn) {
  if (t.format == TableFormat::F32) {
    const float* row = t.data + r * t.dim;
    for (int64_t c = c0; c < c1; ++c) fn(c, row[c]);
  } else {
    for (int64_t c = c0; c < c1; ++c) fn(c, decode_value(t, r, c));
  }
}

// The row id `id` reads: through a pruned table's remap (-1: pruned), the hash, or itself.
int64_t table_row(const Table& t, int64_t id) {
  if (t.remap != nullptr) return t.remap[id];
  if (t.hashed) return hashed_row(static_cast<uint64_t>(id), t.hash_seed, t.rows);
  return id;
}

// The table row bag position p pools, or -1 when it is skipped (padding, or pruned away).
int64_t pooled_row(const BagArgs& a, int64_t p) {
  const int64_t id = a.indices.at(p);
  return id == a.padding_idx ? -1 : table_row(a.table, id);
}

void gather_rows_ref(const Table& table, const IndexArray& indices, int64_t begin, int64_t end,
                     float* out) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t r = table_row(table, indices.at(i));
    float* dst = out + i * table.dim;
    if (r < 0) {  // a pruned id: a zero row
      for (int64_t c = 0; c < table.dim; ++c) dst[c] = 0.0f;
    } else {
      for_each_value(table, r, 0, table.dim, [&](int64_t c, float x) { dst[c] = x; });
    }
  }
}

// Pools bags [bag_begin, bag_end), columns [col_begin, col_end), over rows read by
// `values(p, c0, c1, fn)`: it calls fn(c, x) for the columns of position p's row and returns
// false (calling nothing) when position p is skipped.
template <class Values>
void pool_ref(const BagArgs& a, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
              int64_t col_end, Values values) {
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    float* out = a.out_row(b);
    // Scatter-add (accumulate) starts from the destination row's value.
    if (!a.accumulate) {
      for (int64_t c = col_begin; c < col_end; ++c) out[c] = 0.0f;
    }
    int64_t count = 0;
    for (int64_t p = a.bags.start(b); p < a.bags.end(b); ++p) {
      const float w = a.weights != nullptr ? a.weights[p] : 1.0f;
      bool taken;
      if (a.mode == PoolMode::Max) {
        // The first row initializes; later rows replace an element only when greater.
        // With weights (spmm), each term is weight x row.
        taken = values(p, col_begin, col_end, [&](int64_t c, float x) {
          const float v = a.weights != nullptr ? w * x : x;
          out[c] = count == 0 || v > out[c] ? v : out[c];
        });
      } else {
        taken = values(p, col_begin, col_end, [&](int64_t c, float x) { out[c] += w * x; });
      }
      if (taken) ++count;
    }
    if (a.mode == PoolMode::Mean && count > 0) {
      const float n = static_cast<float>(count);
      for (int64_t c = col_begin; c < col_end; ++c) out[c] /= n;
    }
  }
}

// pool_ref's `values` for a plain table (remapped or hashed): position p's row.
auto table_values(const BagArgs& a) {
  return [&a](int64_t p, int64_t c0, int64_t c1, auto fn) {
    const int64_t r = pooled_row(a, p);
    if (r < 0) return false;
    for_each_value(a.table, r, c0, c1, fn);
    return true;
  };
}

void pool_bags_ref(const BagArgs& a, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
                   int64_t col_end) {
  pool_ref(a, bag_begin, bag_end, col_begin, col_end, table_values(a));
}

// Max pooling that records each element's winner, over rows read by `values` (as pool_ref):
// the first value initializes, a later one wins an element only when strictly greater (ties
// and NaN keep the earlier winner), the rule of every max kernel. `winners.clear(b, c)` marks
// an element as won by nothing, `winners.take(b, c, p)` records position p as its winner.
template <class Values, class Winners>
void pool_max_with_winners(const BagArgs& a, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
                           int64_t col_end, Values values, Winners winners) {
  for (int64_t b = bag_begin; b < bag_end; ++b) {
    float* out = a.out_row(b);
    for (int64_t c = col_begin; c < col_end; ++c) {
      out[c] = 0.0f;
      winners.clear(b, c);
    }
    bool first = true;
    for (int64_t p = a.bags.start(b); p < a.bags.end(b); ++p) {
      const bool taken = values(p, col_begin, col_end, [&](int64_t c, float x) {
        if (first || x > out[c]) {
          out[c] = x;
          winners.take(b, c, p);
        }
      });
      if (taken) first = false;
    }
  }
}

// A QR id reads quotient row id / m and remainder row id % m; the combined value is one
// float32 add or multiply of the two decoded values. pool_ref's `values` for such a pair.
auto qr_values(const QrBagArgs& a, QrPart part) {
  return [&a, part](int64_t p, int64_t c0, int64_t c1, auto fn) {
    const Table& q = a.bag.table;
    const Table& rem = a.remainder;
    const int64_t id = a.bag.indices.at(p);
    if (id == a.bag.padding_idx) return false;
    const int64_t qi = id / rem.rows;
    const int64_t ri = id % rem.rows;
    for (int64_t c = c0; c < c1; ++c) {
      switch (part) {
        case QrPart::Quotient: fn(c, decode_value(q, qi, c)); break;
        case QrPart::Remainder: fn(c, decode_value(rem, ri, c)); break;
        case QrPart::Sum: fn(c, decode_value(q, qi, c) + decode_value(rem, ri, c)); break;
        case QrPart::Mul: fn(c, decode_value(q, qi, c) * decode_value(rem, ri, c)); break;
      }
    }
    return true;
  };
}

void pool_qr_bags_ref(const QrBagArgs& a, QrPart part, int64_t bag_begin, int64_t bag_end,
                      int64_t col_begin, int64_t col_end) {
  pool_ref(a.bag, bag_begin, bag_end, col_begin, col_end, qr_values(a, part));
}

void pool_bags_max_argmax_ref(const BagArgs& a, int64_t bag_begin, int64_t bag_end,
                              int64_t col_begin, int64_t col_end, int32_t* argmax) {
  // A hashed bag's winner is the table row its id hashed to (what the max gradient needs; the
  // id may not fit 32 bits); otherwise the id, a row of the original id space.
  struct Winners {
    const BagArgs& a;
    int32_t* argmax;
    void clear(int64_t b, int64_t c) const { argmax[b * a.table.dim + c] = -1; }
    void take(int64_t b, int64_t c, int64_t p) const {
      const int64_t id = a.indices.at(p);
      argmax[b * a.table.dim + c] = static_cast<int32_t>(a.table.hashed ? table_row(a.table, id) : id);
    }
  };
  pool_max_with_winners(a, bag_begin, bag_end, col_begin, col_end, table_values(a), Winners{a, argmax});
}

}  // namespace

void pool_qr_bags_max_argmax(const QrBagArgs& a, QrPart part, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
                             int64_t col_end, int32_t* quotient_winners, int32_t* remainder_winners) {
  // The winning id's row in each table whose array is given.
  struct Winners {
    const QrBagArgs& a;
    int32_t* quotient;
    int32_t* remainder;
    void clear(int64_t b, int64_t c) const {
      const int64_t e = b * a.bag.table.dim + c;
      if (quotient != nullptr) quotient[e] = -1;
      if (remainder != nullptr) remainder[e] = -1;
    }
    void take(int64_t b, int64_t c, int64_t p) const {
      const int64_t e = b * a.bag.table.dim + c;
      const int64_t id = a.bag.indices.at(p);
      if (quotient != nullptr) quotient[e] = static_cast<int32_t>(id / a.remainder.rows);
      if (remainder != nullptr) remainder[e] = static_cast<int32_t>(id % a.remainder.rows);
    }
  };
  pool_max_with_winners(a.bag, bag_begin, bag_end, col_begin, col_end, qr_values(a, part),
                        Winners{a, quotient_winners, remainder_winners});
}

const Kernels& reference_kernels() {
  static const Kernels kernels{gather_rows_ref, pool_bags_ref, pool_qr_bags_ref, pool_bags_max_argmax_ref};
  return kernels;
}

}  // namespace embedkit::gather
