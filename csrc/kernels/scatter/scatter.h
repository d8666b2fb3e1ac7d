// The scatter / SpMM family's contract: scatter-add (index_add), the gradient of
// embedding_bag, and CSR x dense products. No float atomics anywhere: every destination row
// is summed by one task in index order, so results are bitwise identical for any thread
// count. A scatter-add runs this family's row kernel (body.h) in index order, or, with a plan
// (the transposed index pattern: which positions feed each destination row), the same kernel
// in plan order, rows ascending. The sparse bag backward and SpMM are the gather family's
// pooling kernels (gather/body.h): a plan segment or a CSR row is a bag. Callers validate
// first; these never fail on valid input.
#pragma once

#include <cstdint>
#include <vector>

#include "../common/index_array.h"
#include "../common/large_array.h"
#include "../common/isa.h"
#include "../gather/gather.h"

namespace embedkit::scatter {

// Positions [0, keys.length) minus those whose key equals `skip` (-1: none), stably sorted by
// key (each key in [0, limit)): equal keys keep their position order. Counting sort in one
// pass when the key range is small next to n, else LSD radix over 11-bit digits, so no
// O(limit) work or memory is spent on a sparse key range.
void stable_order_by_key(const IndexArray& keys, int64_t limit, int64_t skip,
                         LargeArray<int64_t>* order);

// The transposed pattern of an index array: for each distinct destination row, ascending,
// the positions that feed it, in position order.
struct Plan {
  int64_t num_rows = 0;     // destination rows (the limit of the indices)
  int64_t num_indices = 0;  // length of the index array it was built from
  LargeArray<int64_t> rows;    // distinct rows, ascending
  LargeArray<int64_t> bounds;  // rows.size() + 1 boundaries into order
  LargeArray<int64_t> order;   // positions sorted by (row, position)

  int64_t num_segments() const { return static_cast<int64_t>(rows.size()); }
  gather::Bags segments() const;  // bounds as the gather family's bag boundaries
};
// indices in [0, num_rows), validated by the caller; positions holding `skip` are left out.
void build_plan(const IndexArray& indices, int64_t num_rows, int64_t skip, Plan* plan);
// Whether `plan` (built with no skip) is the plan of `indices`: the first position p whose
// index differs from the row the plan files it under, or -1 when every one agrees (the plan
// then covers each position once, so it is exactly build_plan's result). One pass over the
// plan; a caller-supplied plan is checked with it before use.
int64_t find_plan_mismatch(const Plan& plan, const IndexArray& indices);
// `plan` without the positions of destination row `row` (a padding row), as build_plan with
// skip = row would have made it.
void plan_without_row(const Plan& plan, int64_t row, Plan* out);

// dst[indices[i]] += alpha * weights[i] * src[i] for every position i, as a plan.
struct ScatterArgs {
  float* dst = nullptr;         // num_rows x dim, updated in place
  int64_t dim = 0;
  const float* src = nullptr;   // num_indices x dim
  const float* weights = nullptr;  // num_indices, or null
  float alpha = 1.0f;
  // The source row of position i: src_rows[i] when set (the bag of an index, for the
  // embedding_bag gradient), else i. Plan-free form only.
  const int64_t* src_rows = nullptr;
  // When set, position i's source row is first multiplied element-wise by row factor_rows[i]
  // of `factor` (dim floats each): the gradient of a product of two rows (a QR bag's 'mul'
  // combine). Plan-free form (scatter_add over indices) only.
  const float* factor = nullptr;
  const int64_t* factor_rows = nullptr;
  // When set, first_touch[i] != 0 marks the positions whose row no earlier position writes:
  // that row holds nothing to keep (scatter_add_into_zeros), so the kernel writes it as
  // 0 + contribution without reading it, with streaming stores where the ISA has them (dst
  // rows then 64-byte aligned, dim a multiple of 16). Plan-free form only.
  const uint8_t* first_touch = nullptr;
};
// Each touched row becomes dst + c0 + c1 + ... (contributions in index order, each
// alpha * w_i * src_i rounded to float first). Runs on the active ISA over the pool; on one
// thread as the plan-free form below (faster there; the plan then only gives the rows).
void scatter_add(const Plan& plan, const ScatterArgs& args);
// The same without a plan: each task owns a group of columns (and, with more tasks than cache
// lines in a row, a range of destination rows; with little src, rows only) and applies, in
// index order, the positions whose row is its own (no sort, no serial pass; src is read in
// order). Every element sees the same operations in the same order as the plan form:
// bitwise identical.
// Positions whose index equals `skip` (a padding row, or num_rows marking positions to drop;
// -1: none) are left out; every other index lies in [0, num_rows).
void scatter_add(const IndexArray& indices, int64_t num_rows, const ScatterArgs& args,
                 int64_t skip = -1);
// Up to this many bytes of src (length x dim floats) the form above splits by destination
// rows alone, src being in cache (scatter.cc). Returns the previous limit; -1: always by
// columns where rows are whole lines. For tests, which reach the column split with small
// inputs this way; not thread-safe against running calls.
int64_t set_row_split_max_src_bytes(int64_t bytes);
// dst = 0, then scatter_add(indices, num_rows, args, skip): every row of dst is written, with
// the sums of its contributions or zeros. Where the ISA has streaming stores, dst is 24 MiB
// or more (less stays in cache; scatter.cc) and its rows are whole aligned cache lines, no
// row is written twice or read before its first write: rows no position names are zeroed
// with streaming stores and each other row's first contribution is stored over it
// (first_touch), where a zero fill followed by the scatter would write every row once more
// and read back each one it adds to (bench shape, 524,288 positions into 1 M x 128: 28.4 ->
// 16.6 ms on 2 threads, C++ harness, bench/NOTES.md). The same bits either way.
// dst_is_zero: dst holds zeros already (a fresh array), nothing to fill.
void scatter_add_into_zeros(const IndexArray& indices, int64_t num_rows, const ScatterArgs& args,
                            int64_t skip, bool dst_is_zero);
// The dst size from which scatter_add_into_zeros streams (24 MiB); returns the previous one.
// For tests, which reach the streaming path with small inputs this way; not thread-safe
// against running calls.
int64_t set_stream_min_bytes(int64_t bytes);

// Column cuts [0, c1, ..., dim] into at most `groups` runs, one per task, for rows of dim
// floats starting at `rows`: on cache-line boundaries (the rows' own when dim % 16 == 0), each
// the boundary nearest its target, the first run `first_shares` shares of the row and the
// others one each (scatter.cc). Used by both column splits above and below.
std::vector<int64_t> line_cuts(const float* rows, int64_t dim, int64_t groups, int64_t first_shares);

// The dense gradient of max pooling: num_bags x dim argmax row ids (-1: none) and gradients.
struct MaxBackwardArgs {
  float* out = nullptr;  // num_rows x dim, accumulated into
  const float* grad = nullptr;
  const int32_t* argmax = nullptr;
  int64_t num_bags = 0;
  int64_t dim = 0;
};

// The gradient of embedding_bag with respect to its per-sample weights (Sum / Mean): position
// p of bag b gets out[p] = grad[b] . table[indices[p]], divided by the bag's count of
// non-padding entries for Mean (the forward's weighted mean is sum(w_p x row_p) / count), and
// 0 when its index is the padding row. Each output is one dot product of its own, so the
// result does not depend on the thread count. (A QR bag's: see the extras below.)
struct WeightsGradArgs {
  const float* grad = nullptr;   // num_bags x dim (gradOutput)
  const float* table = nullptr;  // rows x dim
  int64_t dim = 0;
  IndexArray indices;            // rows of table, validated by the caller
  gather::Bags bags;             // validated; they cover every position unless there are none
  bool mean = false;
  int64_t padding_idx = -1;      // a row id to skip (may lie past the table: never read), or -1
  float* out = nullptr;          // indices.length
  // A QR bag's extras. Bag b's gradient is row b * grad_rows_per_bag + grad_row_offset of grad
  // read as rows of dim floats (one half of a 'concat' gradient); with a factor, position p's
  // dot product is grad[b] . (table[row] x factor[factor_rows[p]]) ('mul'); with accumulate,
  // out[p] += the result (the second table's term of 'sum' / 'concat').
  int64_t grad_rows_per_bag = 1;
  int64_t grad_row_offset = 0;
  const float* factor = nullptr;
  const int64_t* factor_rows = nullptr;
  bool accumulate = false;
};
void bag_weights_grad(const WeightsGradArgs& args);
// What position p of bag b is divided by: 1 for Sum, the bag's count of non-padding entries
// for Mean (never 0 for a bag that has a non-padding entry). weights_grad.cc.
int64_t weights_grad_divisor(const WeightsGradArgs& args, int64_t b);

// One ISA's kernels for the plan-free forms.
// Bit r of a bitmap over rows, 64 rows a word, low bit first.
inline bool row_bit(const uint64_t* bits, int64_t r) { return (bits[r >> 6] >> (r & 63) & 1) != 0; }

struct Kernels {
  // Applies positions[0..count) in that order (positions null: 0..count), each i as
  // dst[indices[i]] = dst[indices[i]] + scale_i * src[i] (a plain add when unscaled;
  // scale_i = alpha * weights[i] rounded to float, or alpha; src[i] multiplied by its factor
  // row first when there is one), over columns [c0, c1) of the rows only.
  void (*scatter_rows)(const ScatterArgs& args, const IndexArray& indices,
                       const int64_t* positions, int64_t count, int64_t c0, int64_t c1);
  // The dense max backward over columns [c0, c1) of every bag, bags in order:
  // out[argmax[b][c]][c] += grad[b][c] for each (b, c) whose argmax is not -1. A run of
  // columns won by one row (a one-row bag, or one row winning throughout) is a vector add.
  void (*max_backward_columns)(const MaxBackwardArgs& args, int64_t c0, int64_t c1);
  // bag_weights_grad over positions [p0, p1), p0 inside bag `bag` (or at its start): each
  // output a dot product of two rows, the table rows prefetched ahead across bag boundaries.
  void (*weights_grad)(const WeightsGradArgs& args, int64_t bag, int64_t p0, int64_t p1);
  // Zeroes rows [r0, r1) of out (dim floats each) whose bit in `touched` (row_bit) is clear,
  // with streaming stores where the ISA has them, then fences them.
  void (*zero_untouched_rows)(float* out, int64_t dim, const uint64_t* touched, int64_t r0, int64_t r1);
  // Whether scatter_rows' first-touch stores and zero_untouched_rows stream (bypass the
  // caches): scatter_add_into_zeros takes its first-touch path only then.
  bool streams = false;
};
const Kernels& reference_kernels();  // ref.cc
const Kernels* avx2_kernels();
const Kernels* avx512_kernels();
const Kernels* neon_kernels();
const Kernels& kernels_for(Isa isa);

// The rows a max pooling's argmax names and, per (bag, column) entry, the slot of its winner
// among them, so that the sparse max backward runs the dense column kernel on a compact
// output (winner ids replaced by slots) instead of sorting the entries. argmax holds -1 or
// a row in [0, num_rows), validated by the caller.
struct Winners {
  LargeArray<int64_t> rows;   // distinct winning rows, ascending
  LargeArray<int32_t> slots;  // per entry: the index of its row in `rows`, or -1
};
// A bitmap over the rows when num_rows is small next to `entries`, else a sort of the entries
// (winners.cc): the same result either way.
void index_winners(const int32_t* argmax, int64_t entries, int64_t num_rows, Winners* out);

// The gradient of embedding_bag with respect to its table.
struct BagBackwardArgs {
  const float* grad = nullptr;  // num_bags x dim (gradOutput)
  int64_t dim = 0;
  IndexArray indices;
  gather::Bags bags;
  gather::PoolMode mode = gather::PoolMode::Sum;
  const float* weights = nullptr;   // Sum / Mean, or null
  int64_t padding_idx = -1;         // a row id to skip, or -1
  int64_t num_rows = 0;             // the table's rows
  const int32_t* argmax = nullptr;  // Max: num_bags x dim winning row ids (-1: none)
  // Sum / Mean: the plan of `indices` (build_plan with no skip, checked by the caller with
  // find_plan_mismatch), used instead of sorting them; null: none. Must outlive the pass.
  const Plan* plan = nullptr;
  // Dense: the output is known to hold zeros already (a fresh array), so run_dense does not
  // fill it.
  bool out_is_zero = false;
  // Sum / Mean: bag b's gradient is row b * grad_rows_per_bag + grad_row_offset of grad read
  // as rows of dim floats: one half of a QR bag's 'concat' gradient (2 and 0 or 1).
  int64_t grad_rows_per_bag = 1;
  int64_t grad_row_offset = 0;
  // Sum / Mean, no plan: position p's contribution is its bag's gradient times
  // row factor_rows[p] of `factor` (dim floats each), element-wise: a QR bag's 'mul' combine,
  // whose quotient rows get the gradient times their remainder rows and the other way round.
  const float* factor = nullptr;
  const int64_t* factor_rows = nullptr;
  int64_t factor_table_rows = 0;  // rows of `factor`
};

// A prepared backward pass. Sum / Mean: the bag and the scale (weight / count) of every
// position; the dense form is then a plan-free scatter-add of gradient rows onto zeros
// (scatter_add_into_zeros; or, where the indices hold 8 or more positions per table row, the
// pooled plan form below), and the sparse form a plan (the distinct rows and the positions
// feeding each) whose segments the gather family's pooling kernels sum into the compact
// output, one bag of gradOutput rows per row. With a given plan both forms use it (no sort;
// the dense form then as scatter_add with a plan: pooled where rows repeat, else the row
// kernel in plan order, except where the plan-free form streams or runs on one thread, which
// are faster): the same sums, bit for bit. With a factor both forms pool each plan segment
// through the gather family's QR 'mul' kernel where the dense form would pool (its ids made
// of a gradient row and a factor row), and are otherwise the plan-free scatter, the sparse
// one into the compact output: dense and sparse choose alike, so they agree bit for bit.
// Max: both forms walk the bags in order per column range (max_backward_columns, no plan),
// the sparse one with winners renamed to their slots among rows() (index_winners); both add
// each element's gradients in bag order, the same bits.
// rows() are the rows that get a gradient, what the sparse form returns.
class BagBackward {
 public:
  explicit BagBackward(const BagBackwardArgs& args);
  const LargeArray<int64_t>& rows();  // builds the plan on first use
  // Dense: out is num_rows x dim and is entirely written (zeros where no gradient).
  void run_dense(float* out);
  // Sparse: out is rows().size() x dim, entirely written, row u holding the gradient of
  // rows()[u]. Max adds into it, so it must hold zeros (a fresh array); Sum / Mean overwrite.
  void run_sparse(float* out);

 private:
  // Column-owned tasks, bags in order: out[winner[e]][column] += grad[e] for every entry e.
  void run_max_columns(float* out, const int32_t* winner);
  // Sum / Mean through the plan: row u's gradient into out row rows()[u] (dense) or u.
  void run_planned(float* out, bool dense);
  // Whether the indices repeat each table row often enough (8+ positions per row) that
  // the dense form sorts and pools rather than scattering.
  bool rows_repeat() const;
  // Whether the dense form into `out` sums through the plan (pooled, or the row kernel in plan
  // order) rather than scatter_add_into_zeros: with a factor where it pools, without a plan
  // where rows repeat; with a given plan from two threads on, where the plan pools or the
  // plan-free form cannot stream (streaming, the plan-free form wrote the bench shape in 17 ms
  // where plan order took 27.5).
  bool dense_through_plan(const float* out) const;
  // With a factor, whether rows_repeat() and every (gradient row, factor row) pair fits one
  // int64 id: then both forms pool.
  bool factor_pools() const;
  // Sum / Mean with a factor, sparse: the plan-free scatter into the compact output, each
  // position sent to the slot of its row in rows().
  void run_factor_sparse(float* out);
  // Sum / Mean with a factor, pooled: plan segment u summed into row u of a compact output
  // (out itself when sparse, else a buffer whose rows are then copied to rows()[u] of out).
  void run_factor_pooled(float* out, bool dense);
  // A scatter of gradOutput rows src_rows[k] (scaled by scales[k], if any) into out.
  ScatterArgs gradient_rows(float* out, const int64_t* src_rows, const float* scales) const;
  // The plan's contributions in plan order (rows() has run): each one's source, its gradient
  // row (with a factor, gradient row x factor_table_rows + factor row: an id of the QR 'mul'
  // pooling) and its scale (none without weights or Mean).
  struct PlanOrder {
    LargeArray<int64_t> sources;
    LargeArray<float> scales;
    const float* scale_data() const { return scales.empty() ? nullptr : scales.data(); }
  };
  PlanOrder in_plan_order() const;
  BagBackwardArgs args_;
  Plan own_plan_;                // built here, or the given plan less the padding row
  const Plan* plan_ = nullptr;   // Sum / Mean: the plan in use, once rows() has run
  Winners winners_;              // Max: built by rows()
  bool winners_ready_ = false;
  std::vector<int64_t> bag_of_;  // Sum / Mean: the bag of each position
  std::vector<float> scale_;     // Sum / Mean: weight / count of each position, or empty
};

// A compressed bag's ids as the rows they read, for its backward pass: position p becomes
// gather::hashed_row(ids[p], seed, table_rows) (hashedEmbeddingBagBackward), or the two rows
// ids[p] / m of the quotient table and ids[p] % m of the remainder table
// (qrEmbeddingBagBackward); positions whose id is `padding_id` are dropped, and the bag bounds
// and weights are compacted with them. The plain backward over the result (no padding row)
// is the compressed bag's backward: a Mean bag's divisor, its count of non-padding entries,
// is then its length. Work is cut into position runs over the pool; the result does not
// depend on the thread count.
enum class IdMap : int { Hashed, QuotientRemainder };
struct IdRowsArgs {
  IndexArray ids;                  // non-negative (QR: below table_rows x remainder_rows),
                                   // validated by the caller
  gather::Bags bags;               // validated
  IdMap map = IdMap::Hashed;
  uint64_t seed = 0;               // Hashed
  int64_t table_rows = 0;          // Hashed: the table's rows; QR: the quotient table's. At
                                   // least 1 when there are ids
  int64_t remainder_rows = 0;      // QR: m, at least 1 when there are ids
  int64_t padding_id = -1;         // an id to drop, or -1
  const float* weights = nullptr;  // one per id, or null
  bool wide = false;               // int64 rows even where every row fits int32
  // Keep padding positions (no compaction) with sentinel rows one past each table's last
  // (table_rows; QR: table_rows and remainder_rows), for passes that give every position a
  // result (the per-sample weights' gradient: 0 there).
  bool keep_padding = false;
};
struct IdRows {
  bool wide = false;                 // rows64 (asked for, or tables past INT32_MAX rows), else rows32
  LargeArray<int32_t> rows32[2];     // [0]: the rows (QR: quotient rows); [1]: QR remainder rows
  LargeArray<int64_t> rows64[2];
  LargeArray<int64_t> starts;        // num_bags + 1 bounds into the rows
  LargeArray<float> weights;         // the kept positions' weights, when weights were given
  IndexArray rows(int part = 0) const;
  gather::Bags bags() const;
};
void id_rows(const IdRowsArgs& args, IdRows* out);

// A CSR matrix read in place. Callers validate with validate_csr.
struct CsrView {
  IndexArray row_ptr;  // num_rows + 1
  IndexArray col_idx;  // nnz
  const float* values = nullptr;  // nnz, or null for all ones
  int64_t num_rows = 0;
  int64_t num_cols = 0;
  int64_t nnz() const { return col_idx.length; }
};

enum class CsrError : int {
  None = 0,
  RowPtrLength,   // row_ptr.length != num_rows + 1
  FirstNotZero,   // row_ptr[0] != 0
  Decreasing,     // row_ptr[position] < row_ptr[position - 1]
  PastEnd,        // row_ptr[position] > nnz
  LastNotNnz,     // row_ptr[num_rows] != nnz
  ColOutOfRange,  // col_idx[position] outside [0, num_cols)
};
struct CsrCheck {
  CsrError error = CsrError::None;
  int64_t position = -1;
};
CsrCheck validate_csr(const CsrView& a);

// An owned CSR matrix (the result of csr_from_coo and csr_transpose).
struct Csr {
  LargeArray<int64_t> row_ptr;
  LargeArray<int64_t> col_idx;
  LargeArray<float> values;  // empty when every value is 1 (no values given, no duplicates summed)
  bool has_values = false;
};

// Rows / cols validated by the caller (in range, same length; values null or nnz long).
// Entries are sorted by (row, col); with sum_duplicates, entries at the same (row, col) are
// summed in input order into one (values then become counts when none were given).
void csr_from_coo(const IndexArray& rows, const IndexArray& cols, const float* values,
                  int64_t num_rows, int64_t num_cols, bool sum_duplicates, Csr* out);
// The transpose, by a stable counting sort on columns: the entries of each transposed row
// keep ascending original row order, so a product with it sums in a fixed order.
void csr_transpose(const CsrView& a, Csr* out);

// out = a . b (num_rows x dim), each row reduced over its nonzeros with `mode`: Sum,
// Mean (sum / nnz of the row) or Max (of value x b row). Empty rows give zeros. Rows are
// split over threads by nonzero count; one huge row is split by columns.
void spmm(const CsrView& a, const float* b, int64_t dim, gather::PoolMode mode, float* out);

}  // namespace embedkit::scatter
