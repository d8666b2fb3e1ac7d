// The gather family's contract: copy table rows by index (gather) and pool them per bag
// (embedding_bag with sum / mean / max, per-sample weights and a padding index), with
// PyTorch's semantics, from tables stored in any TableFormat, pruned (remap) or hashed. Callers validate first (validate_bags, find_index_out_of_range);
// kernels assume valid input and never fail.
#pragma once

#include <cstdint>
#include <vector>

#include "../common/index_array.h"
#include "../common/isa.h"
#include "../common/prefetch.h"

namespace embedkit::gather {

// How a table stores its rows. Every kernel reads a row as float32 vectors through a row
// decoder for the format (body.h); accumulation is float32 whatever the format.
enum class TableFormat : int {
  F32 = 0,   // float32
  F16 = 1,   // IEEE binary16, as uint16
  BF16 = 2,  // bfloat16 (the top half of a float32), as uint16
  Q8 = 3,    // uint8 codes, x = code * scale[row] + bias[row] (one fused multiply-add)
  Q4 = 4,    // 4-bit codes, two per byte, low nibble first; a row holds ceil(dim / 2) bytes
             // (odd dim: the last byte's high nibble is unused); decoded like Q8
};
constexpr int kNumTableFormats = 5;

// Bytes one stored row takes in `format` (the per-row scale and bias not counted).
inline int64_t row_stride_bytes(TableFormat format, int64_t dim) {
  switch (format) {
    case TableFormat::F32: return dim * 4;
    case TableFormat::F16:
    case TableFormat::BF16: return dim * 2;
    case TableFormat::Q8: return dim;
    case TableFormat::Q4: return (dim + 1) / 2;
  }
  return 0;
}

// The hashing trick (hashedEmbeddingBag): the row an id reads from a shared table of `rows`
// rows under `seed`. x = id XOR (seed * 0x9E3779B97F4A7C15), mixed by MurmurHash3's 64-bit
// finalizer (fmix64), then reduced to [0, rows) as the high 64 bits of the 128-bit product
// x * rows (multiply-shift, no division). `static`: each translation unit keeps its own copy,
// compiled for its own ISA (see body.h), instead of sharing one the linker might pick.
static inline int64_t hashed_row(uint64_t id, uint64_t seed, int64_t rows) {
  uint64_t x = id ^ (seed * 0x9E3779B97F4A7C15ull);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return static_cast<int64_t>((static_cast<unsigned __int128>(x) * static_cast<uint64_t>(rows)) >> 64);
}

// Row-major rows x dim matrix, read in place.
struct Table {
  const float* data = nullptr;  // F32 rows; the other formats use `codes`
  int64_t rows = 0;
  int64_t dim = 0;
  TableFormat format = TableFormat::F32;
  const void* codes = nullptr;    // F16 / BF16 / Q8 / Q4 rows, row_stride_bytes apart
  const float* scales = nullptr;  // Q8 / Q4: one per row
  const float* biases = nullptr;  // Q8 / Q4: one per row
  // Pruned tables: id i of the original id space reads row remap[i] (every value in
  // [-1, rows)); -1 marks a pruned id, which gathers a zero row and is skipped by a bag like
  // padding. Null: ids are row numbers. Indices then lie in [0, remap_length).
  const int32_t* remap = nullptr;
  int64_t remap_length = 0;
  // Hashed tables (never with a remap): id i reads row hashed_row(i, hash_seed, rows), for
  // any id in [0, 2^63); rows must then be at least 1.
  bool hashed = false;
  uint64_t hash_seed = 0;

  const uint8_t* row_bytes(int64_t row) const {
    return format == TableFormat::F32
               ? reinterpret_cast<const uint8_t*>(data + row * dim)
               : static_cast<const uint8_t*>(codes) + row * row_stride_bytes(format, dim);
  }
  // How many ids indices may hold: rows, the remap's length, or any non-negative id (hashed).
  int64_t id_limit() const {
    return remap != nullptr ? remap_length : hashed ? INT64_MAX : rows;
  }
};

enum class PoolMode : int { Sum = 0, Mean = 1, Max = 2 };

// Bag b covers index positions [start(b), end(b)). `bounds` holds either num_bags starts
// (PyTorch offsets: the last bag ends at num_indices) or num_bags + 1 boundaries.
struct Bags {
  IndexArray bounds;
  int64_t num_bags = 0;
  int64_t num_indices = 0;

  int64_t start(int64_t b) const { return bounds.at(b); }
  int64_t end(int64_t b) const {
    return b + 1 < bounds.length ? bounds.at(b + 1) : num_indices;
  }
};

struct BagArgs {
  Table table;
  IndexArray indices;
  Bags bags;
  PoolMode mode = PoolMode::Sum;
  const float* weights = nullptr;  // one per index, or null (Max: the max of weight x row)
  int64_t padding_idx = -1;        // an id in [0, table.id_limit()) to skip, or -1
  float* out = nullptr;            // num_bags x dim, or see out_rows
  // Where bag b's result goes: row out_rows[b] of out when set, else row b. The scatter
  // family pools its destination rows' contributions through these kernels this way.
  const int64_t* out_rows = nullptr;
  // Sum only: start from the output row's current value instead of zero, so the result is
  // out + c0 + c1 + ... in index order (scatter-add without float atomics).
  bool accumulate = false;
  // Floats between output rows; 0 means table.dim (a QR concat pass writes half a row).
  int64_t out_stride = 0;
  float* out_row(int64_t b) const {
    return out + (out_rows != nullptr ? out_rows[b] : b) * (out_stride != 0 ? out_stride : table.dim);
  }
};

// Quotient-remainder embeddings (qrEmbeddingBag): id reads row id / m of the quotient table
// and row id % m of the remainder table, m = the remainder table's rows; both tables share a
// dim and a format. Ids lie in [0, quotient.rows x m), so id / m is always a quotient row.
enum class QrCombine : int { Sum = 0, Mul = 1, Concat = 2 };
// What one pooling pass reads per id: both rows combined (Sum, Mul), or one table's row
// alone (the two halves of a Concat output).
enum class QrPart : int { Sum = 0, Mul = 1, Quotient = 2, Remainder = 3 };

struct QrBagArgs {
  BagArgs bag;     // bag.table: the quotient table; no remap, hashing, out_rows or accumulate
  Table remainder;
  QrCombine combine = QrCombine::Sum;
  int64_t out_dim() const { return combine == QrCombine::Concat ? 2 * bag.table.dim : bag.table.dim; }
};

// How many ids a QR pair of tables addresses: quotient rows x remainder rows, saturated at
// INT64_MAX (the largest id an index can hold is then the bound anyway).
inline int64_t qr_id_limit(int64_t quotient_rows, int64_t remainder_rows) {
  if (quotient_rows == 0 || remainder_rows == 0) return 0;
  return quotient_rows > INT64_MAX / remainder_rows ? INT64_MAX : quotient_rows * remainder_rows;
}

// One ISA's kernels. Each call handles a slice of the work and is independent of how the
// rest is split, which is what makes results identical for any thread count.
struct Kernels {
  // out rows [begin, end) of a gather; out points at the whole output.
  void (*gather_rows)(const Table& table, const IndexArray& indices, int64_t begin,
                      int64_t end, float* out);
  // Bags [bag_begin, bag_end), columns [col_begin, col_end) of each.
  void (*pool_bags)(const BagArgs& args, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
                    int64_t col_end);
  // The same over a QR pair: args.bag.out is where this pass's columns start (the concat's
  // remainder pass is shifted by dim) and args.bag.out_stride the output's row length.
  void (*pool_qr_bags)(const QrBagArgs& args, QrPart part, int64_t bag_begin, int64_t bag_end,
                       int64_t col_begin, int64_t col_end);
  // Max pooling that also records, per bag and column, the id that won (the first position
  // holding the maximum, PyTorch's tie rule; a hashed bag's: the row the id hashed to; -1 for
  // empty and padding-only bags) into argmax (num_bags x dim).
  void (*pool_bags_max_argmax)(const BagArgs& args, int64_t bag_begin, int64_t bag_end, int64_t col_begin,
                               int64_t col_end, int32_t* argmax);
};

const Kernels& reference_kernels();  // ref.cc: the scalar oracle
const Kernels* avx2_kernels();       // null where not compiled in (non-x86 builds)
const Kernels* avx512_kernels();
const Kernels* neon_kernels();
// The table for `isa`; `isa` must be available.
const Kernels& kernels_for(Isa isa);

// Whole operations on the active ISA, split over the thread pool.
void gather(const Table& table, const IndexArray& indices, float* out);
void embedding_bag(const BagArgs& args);
// qrEmbeddingBag: bags x out_dim() floats into args.bag.out (Concat: two passes).
void embedding_qr_bag(const QrBagArgs& args);

// QR max pooling with the winners (qrEmbeddingBag's returnArgmax), scalar on every path: per
// bag and column, the quotient row and the remainder row of the id that won ('sum' / 'mul':
// one id per element gives both; 'concat': the quotient half's winner's quotient row and the
// remainder half's winner's remainder row), -1 for empty and padding-only bags. Both arrays
// are num_bags x dim; the tables' rows must fit int32.
void embedding_qr_bag_max_argmax(const QrBagArgs& args, int32_t* quotient_winners, int32_t* remainder_winners);
// One pass of it (ref.cc): `part` Quotient / Remainder fills one of the arrays (the other is
// null), Sum / Mul both; out as pool_qr_bags writes it.
void pool_qr_bags_max_argmax(const QrBagArgs& args, QrPart part, int64_t bag_begin, int64_t bag_end,
                             int64_t col_begin, int64_t col_end, int32_t* quotient_winners,
                             int32_t* remainder_winners);
// Max pooling with the winning ids (argmax: num_bags x dim; Kernels::pool_bags_max_argmax).
void embedding_bag_max_argmax(const BagArgs& args, int32_t* argmax);

// The first bag b with start(b) + per_bag x b >= target, or num_bags (a binary search; bags
// validated). per_bag 1 counts each bag's output row as one more unit of work (embedding_bag's
// split into runs of equal cost); per_bag 0 with target p + 1, less one, is the bag holding
// position p (the last to start at or before it).
int64_t first_bag_with_cost(const Bags& bags, int64_t target, int64_t per_bag);

// The work split embedding_bag uses, for other families' per-bag work: calls
// fn(ctx, bag_begin, bag_end, col_begin, col_end) over the pool so that pieces cost about the
// same (cost = indices + bags, times dim); each bag is handled by one call in index order,
// or, when there are fewer bags than tasks, each bag's columns are cut into slices.
void split_bags_impl(const Bags& bags, int64_t dim,
                     void (*fn)(void* ctx, int64_t, int64_t, int64_t, int64_t), void* ctx);
template <class Fn>
void split_bags(const Bags& bags, int64_t dim, Fn&& fn) {
  split_bags_impl(
      bags, dim,
      [](void* ctx, int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
        (*static_cast<Fn*>(ctx))(b0, b1, c0, c1);
      },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// --- validation, for callers --------------------------------------------------------

enum class BagError : int {
  None = 0,
  FirstNotZero,    // bounds[0] != 0
  Decreasing,      // bounds[position] < bounds[position - 1]
  PastEnd,         // bounds[position] > num_indices
  LastNotEnd,      // bounds[num_bags] != num_indices (boundaries form)
  NegativeLength,  // lengths[position] < 0
  LengthSum,       // the lengths do not add up to num_indices
};
struct BagCheck {
  BagError error = BagError::None;
  int64_t position = -1;
};
// Checks bag boundaries. `with_end` means bounds has num_bags + 1 entries.
BagCheck validate_offsets(const IndexArray& bounds, bool with_end, int64_t num_indices);
// Checks per-bag lengths and, when valid, returns their num_bags + 1 boundaries.
BagCheck offsets_from_lengths(const IndexArray& lengths, int64_t num_indices,
                              std::vector<int64_t>* bounds);

}  // namespace embedkit::gather
