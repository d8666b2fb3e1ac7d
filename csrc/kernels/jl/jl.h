// The JL family's contract: the fast Walsh-Hadamard transform (FWHT) and the random
// projections built on it or on sparse sign matrices (SRHT, FJLT, sparse JL), all driven by
// Philox4x32-10 (common/philox.h, which documents the stream layout) so that any ISA, thread
// count and later the GPU draw the same projection from the same seed.
//
// FWHT accumulation order: radix-2 butterflies (a, b) -> (a + b, a - b), levels in ascending
// stride 1, 2, 4, ..., n/2; every path (blocked, in-register, column-split) performs exactly
// these float32 operations, so the bits never depend on the ISA, the blocking or the threads.
// A scale (1/sqrt(n) when normalized, else 1) multiplies each value after the last level.
//
// Callers validate first; kernels assume valid input and never fail.
#pragma once

#include <cstdint>
#include <vector>

#include "../common/isa.h"

namespace embedkit::jl {

// Rows of up to 2^kDirectLog2 floats (16 KiB, in L1) are transformed in one blocked sweep;
// longer rows recursively (jl.cc): their 2^r blocks first, then r <= 3 levels across them.
constexpr int kDirectLog2 = 12;
constexpr int kMaxLog2 = 30;

// A k x m sparse matrix in CSR form (row i = output coordinate i).
struct Csr {
  int64_t rows = 0;            // k
  int64_t cols = 0;            // m
  const int64_t* row_ptr = nullptr;  // k + 1 entries
  const int32_t* col = nullptr;      // strictly ascending within each row
  const float* val = nullptr;
};

// The same matrix by columns (CSC), what the kernels walk: column j's entries in ascending
// row order. Walking columns in ascending order adds each output's terms in ascending j,
// which is CSR order for rows with ascending columns.
struct Csc {
  int64_t rows = 0;
  int64_t cols = 0;
  const int64_t* col_ptr = nullptr;  // cols + 1 entries
  const int32_t* row = nullptr;
  const float* val = nullptr;
};

struct Kernels {
  // In place, `rows` consecutive rows of 2^log2n floats, log2n <= kDirectLog2.
  void (*fwht_rows)(float* x, int64_t rows, int log2n, float scale);
  // In place on n floats: `levels` levels at strides stride, 2 stride, ... (stride a
  // multiple of 16, stride << levels <= n), restricted to the columns [c0, c1) of each block
  // of `stride` floats (multiples of 16); then multiplies those columns by scale. The high
  // levels of a long row, after its blocks of `stride` floats were transformed.
  void (*fwht_high)(float* x, int64_t n, int64_t stride, int levels, int64_t c0, int64_t c1,
                    float scale);
  // z[j] = x[j] * sign[j] for j < d, z[j] = 0 for d <= j < n.
  void (*sign_pad)(const float* x, int64_t d, const float* sign, float* z, int64_t n);
  // out[r * a.rows + i] = the sum over the entries (i, j) of A, in ascending j, of
  // val * x[r * ld + j] (float32: acc = acc + val * x from acc = 0, no FMA), for r < rows.
  // scratch: block_rows * (a.cols + a.rows) floats.
  void (*sparse_rows)(const float* x, int64_t rows, int64_t ld, const Csc& a, float* out,
                      float* scratch);
  int64_t block_rows;  // rows sparse_rows handles together
};

const Kernels& reference_kernels();  // ref.cc: the scalar oracle
const Kernels* avx2_kernels();       // null where not compiled in
const Kernels* avx512_kernels();
const Kernels* neon_kernels();
const Kernels& kernels_for(Isa isa);

// ---- the projections' random parts (from the seed alone; jl.cc) ----------------------------

// The padded size of d: the smallest power of two >= d.
int64_t padded_size(int64_t d);
// sign[j] = +1 or -1 for j < n from stream kSigns.
void make_signs(uint64_t seed, int64_t n, float* sign);
// k distinct coordinates of [0, n), ascending: Floyd's sampling with draw t (t < k) from
// stream kSample choosing r = uniform_below(u_t, n - k + t + 1); r is taken unless already
// taken, in which case n - k + t is taken.
void make_sample(uint64_t seed, int64_t n, int64_t k, int64_t* sel);
// The density as a 31-bit threshold: round(density * 2^31), at least 1.
uint32_t density_threshold(double density);
// The k x m sign matrix of `stream` (kFjlt or kSparse): entry (i, j) is +value or -value
// when non-zero (philox.h). Rows are generated in parallel; the result does not depend on it.
struct SparseMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> row_ptr;
  std::vector<int32_t> col;
  std::vector<float> val;
  Csr view() const { return Csr{rows, cols, row_ptr.data(), col.data(), val.data()}; }
};
// A CSR matrix's columns (a counting sort, stable: rows stay ascending within a column).
struct CscMatrix {
  std::vector<int64_t> col_ptr;
  std::vector<int32_t> row;
  std::vector<float> val;
  Csc view(int64_t rows, int64_t cols) const {
    return Csc{rows, cols, col_ptr.data(), row.data(), val.data()};
  }
};
void to_csc(const Csr& a, CscMatrix* out);
void make_sparse(uint64_t seed, uint32_t stream, int64_t k, int64_t m, double density,
                 float value, SparseMatrix* out);

// Densities always arrive explicit: lib/jl.ts computes the defaults (one libm for every
// path, so a log or sqrt rounded differently can never change a threshold).
// Entry values: sparse JL sqrt(1 / (density k)); fjlt 1 / sqrt(density k n).
float sparse_value(double density, int64_t k);
float fjlt_value(double density, int64_t k, int64_t n);

// ---- the operations, on the active ISA, over the thread pool ------------------------------

// In place: rows of 2^log2n floats.
void fwht(float* x, int64_t rows, int log2n, bool normalize);
// out (rows x k) = sqrt(1/k) S H D pad(x) for x (rows x d).
void srht(const float* x, int64_t rows, int64_t d, int64_t k, uint64_t seed, float* out);
// out (rows x k) = P H D pad(x), P = make_sparse(kFjlt, k x n, density, fjlt_value).
void fjlt(const float* x, int64_t rows, int64_t d, int64_t k, uint64_t seed, double density,
          float* out);
// out (rows x a.rows) = A x for x (rows x a.cols).
void csr_project(const float* x, int64_t rows, const Csr& a, float* out);
// out = make_sparse(kSparse, k x d, density, sparse_value) x, generated for this call.
void sparse_projection(const float* x, int64_t rows, int64_t d, int64_t k, uint64_t seed,
                       double density, float* out);

}  // namespace embedkit::jl
