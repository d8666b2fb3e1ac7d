// Dispatch, random parts and work splitting for the JL family. Every random choice is a pure
// function of (seed, stream, position) (common/philox.h), and every output element is
// computed by one task from its own row alone, so results do not depend on the thread count.
#include "jl.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/kernel_stats.h"
#include "../common/kernel_table.h"
#include "../common/parallel.h"
#include "../common/philox.h"

namespace embedkit::jl {
namespace {

// Below this many floats of work, a task is not worth a thread hand-off (~64 KiB).
constexpr int64_t kMinFloatsPerTask = 16384;

// One long row (log2n > kDirectLog2), depth first as FFHT does: the 2^r blocks of 2^(log2n - r)
// floats are transformed completely (recursively, so each stays in cache while it is worked
// on), then one radix-2^r pass streams across them: the data is swept about once per three
// levels above the cache-sized blocks. r = 3 except where fewer levels remain.
// `parallel` spreads the blocks, then the pass's columns, over the pool (one row alone is
// large); the operations per element are the same either way.
void fwht_long(const Kernels& k, float* x, int log2n, float scale, bool parallel) {
  const int r = std::min(3, log2n - kDirectLog2);
  const int sub = log2n - r;
  const int64_t stride = int64_t{1} << sub;
  const int64_t n = int64_t{1} << log2n;
  auto block = [&](int64_t b) {
    float* y = x + b * stride;
    if (sub <= kDirectLog2) k.fwht_rows(y, 1, sub, 1.0f);
    else fwht_long(k, y, sub, 1.0f, false);
  };
  const int64_t blocks = int64_t{1} << r;
  // Blocks go to threads only when each is worth a hand-off.
  if (parallel && thread_count() > 1 && n >= blocks * kMinFloatsPerTask) parallel_for(blocks, [&](int64_t b) { block(b); });
  else for (int64_t b = 0; b < blocks; ++b) block(b);
  // Columns in multiples of 64 floats (whole cache lines) per task.
  const int64_t tasks = parallel ? std::min(stride / 64, task_count_for(n, kMinFloatsPerTask)) : 1;
  auto cols = [&](int64_t t) {
    const int64_t c0 = stride / 64 * t / tasks * 64, c1 = stride / 64 * (t + 1) / tasks * 64;
    k.fwht_high(x, n, stride, r, c0, c1, scale);
  };
  if (tasks > 1) parallel_for(tasks, [&](int64_t t) { cols(t); });
  else cols(0);
}

// One row of 2^log2n floats on the calling thread.
void fwht_one(const Kernels& k, float* x, int log2n, float scale) {
  if (log2n <= kDirectLog2) k.fwht_rows(x, 1, log2n, scale);
  else fwht_long(k, x, log2n, scale, false);
}

int log2_of(int64_t n) {
  int l = 0;
  while ((int64_t{1} << l) < n) ++l;
  return l;
}

const Kernels& active_kernels() {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  return kernels_for(isa);
}

// Rows [0, rows) cut into contiguous ranges of whole blocks of `block` rows, each `work`
// floats per row; fn(r0, r1) per range.
template <class Fn>
void for_row_ranges(int64_t rows, int64_t block, int64_t work, Fn&& fn) {
  const int64_t blocks = (rows + block - 1) / block;
  const int64_t tasks = std::min(blocks, task_count_for(rows * work, kMinFloatsPerTask));
  if (tasks <= 1) {
    fn(int64_t{0}, rows);
    return;
  }
  parallel_for(tasks, [&](int64_t t) {
    const int64_t b0 = blocks * t / tasks, b1 = blocks * (t + 1) / tasks;
    fn(b0 * block, std::min(rows, b1 * block));
  });
}

}  // namespace

const Kernels& kernels_for(Isa isa) {
  return select_kernels(isa, reference_kernels(), avx2_kernels, avx512_kernels, neon_kernels);
}

int64_t padded_size(int64_t d) { return int64_t{1} << log2_of(d); }

void make_signs(uint64_t seed, int64_t n, float* sign) {
  // 128 signs per Philox block: word j / 32, bit j % 32.
  for (int64_t b = 0; b * 128 < n; ++b) {
    const philox::Block blk = philox::stream_block(seed, philox::kSigns, static_cast<uint64_t>(b));
    for (int64_t j = b * 128; j < std::min(n, b * 128 + 128); ++j) {
      const uint32_t word = blk.v[(j >> 5) & 3];
      sign[j] = (word >> (j & 31)) & 1u ? -1.0f : 1.0f;
    }
  }
}

void make_sample(uint64_t seed, int64_t n, int64_t k, int64_t* sel) {
  // Floyd: after draw t the taken set is a uniform (k = t + 1)-subset of [0, n - k + t + 1).
  std::vector<uint64_t> taken(static_cast<size_t>((n + 63) / 64), 0);
  auto is_taken = [&](int64_t i) { return (taken[static_cast<size_t>(i >> 6)] >> (i & 63)) & 1u; };
  auto take = [&](int64_t i) { taken[static_cast<size_t>(i >> 6)] |= uint64_t{1} << (i & 63); };
  for (int64_t t = 0; t < k; ++t) {
    const int64_t j = n - k + t;
    const philox::Block blk = philox::stream_block(seed, philox::kSample, static_cast<uint64_t>(t));
    const uint64_t u = blk.v[0] | (static_cast<uint64_t>(blk.v[1]) << 32);
    const int64_t r = static_cast<int64_t>(philox::uniform_below(u, static_cast<uint64_t>(j + 1)));
    take(is_taken(r) ? j : r);
  }
  int64_t out = 0;
  for (int64_t i = 0; i < n && out < k; ++i) {
    if (is_taken(i)) sel[out++] = i;
  }
}

uint32_t density_threshold(double density) {
  const double t = std::round(density * 2147483648.0);
  if (t < 1.0) return 1;
  if (t > 2147483648.0) return 2147483648u;
  return static_cast<uint32_t>(t);
}

void make_sparse(uint64_t seed, uint32_t stream, int64_t k, int64_t m, double density,
                 float value, SparseMatrix* out) {
  const uint32_t threshold = density_threshold(density);
  const int64_t tasks = std::max<int64_t>(1, std::min(k, task_count_for(k * m, int64_t{1} << 16)));
  // Each task generates a contiguous range of rows into its own lists; merged in row order.
  std::vector<std::vector<int64_t>> counts(static_cast<size_t>(tasks));
  std::vector<std::vector<int32_t>> cols(static_cast<size_t>(tasks));
  std::vector<std::vector<uint8_t>> neg(static_cast<size_t>(tasks));
  auto gen = [&](int64_t t) {
    const int64_t i0 = k * t / tasks, i1 = k * (t + 1) / tasks;
    auto& cnt = counts[static_cast<size_t>(t)];
    auto& c = cols[static_cast<size_t>(t)];
    auto& s = neg[static_cast<size_t>(t)];
    cnt.assign(static_cast<size_t>(i1 - i0), 0);
    const double expect = static_cast<double>(i1 - i0) * static_cast<double>(m) * density;
    c.reserve(static_cast<size_t>(expect * 1.1 + 16));
    s.reserve(c.capacity());
    philox::Block blk{};
    for (int64_t i = i0; i < i1; ++i) {
      const uint64_t w0 = static_cast<uint64_t>(i) * static_cast<uint64_t>(m);
      int64_t n = 0;
      for (int64_t j = 0; j < m; ++j) {
        const uint64_t w = w0 + static_cast<uint64_t>(j);
        if (j == 0 || (w & 3) == 0) blk = philox::stream_block(seed, stream, w >> 2);
        const uint32_t u = blk.v[w & 3];
        if ((u >> 1) < threshold) {
          c.push_back(static_cast<int32_t>(j));
          s.push_back(static_cast<uint8_t>(u & 1u));
          ++n;
        }
      }
      cnt[static_cast<size_t>(i - i0)] = n;
    }
  };
  if (tasks > 1) parallel_for(tasks, [&](int64_t t) { gen(t); }); else gen(0);
  out->rows = k;
  out->cols = m;
  out->row_ptr.assign(static_cast<size_t>(k + 1), 0);
  size_t nnz = 0;
  for (const auto& c : cols) nnz += c.size();
  out->col.clear();
  out->val.clear();
  out->col.reserve(nnz);
  out->val.reserve(nnz);
  int64_t i = 0;
  for (int64_t t = 0; t < tasks; ++t) {
    for (int64_t n : counts[static_cast<size_t>(t)]) {
      out->row_ptr[static_cast<size_t>(i + 1)] = out->row_ptr[static_cast<size_t>(i)] + n;
      ++i;
    }
    out->col.insert(out->col.end(), cols[static_cast<size_t>(t)].begin(), cols[static_cast<size_t>(t)].end());
    for (uint8_t s : neg[static_cast<size_t>(t)]) out->val.push_back(s ? -value : value);
  }
}

void to_csc(const Csr& a, CscMatrix* out) {
  const int64_t nnz = a.row_ptr[a.rows];
  out->col_ptr.assign(static_cast<size_t>(a.cols + 1), 0);
  for (int64_t p = 0; p < nnz; ++p) ++out->col_ptr[static_cast<size_t>(a.col[p]) + 1];
  for (int64_t j = 0; j < a.cols; ++j) out->col_ptr[static_cast<size_t>(j + 1)] += out->col_ptr[static_cast<size_t>(j)];
  out->row.resize(static_cast<size_t>(nnz));
  out->val.resize(static_cast<size_t>(nnz));
  std::vector<int64_t> next(out->col_ptr.begin(), out->col_ptr.end() - 1);
  for (int64_t i = 0; i < a.rows; ++i) {
    for (int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
      const size_t q = static_cast<size_t>(next[static_cast<size_t>(a.col[p])]++);
      out->row[q] = static_cast<int32_t>(i);
      out->val[q] = a.val[p];
    }
  }
}

float sparse_value(double density, int64_t k) {
  return static_cast<float>(std::sqrt(1.0 / (density * static_cast<double>(k))));
}

float fjlt_value(double density, int64_t k, int64_t n) {
  return static_cast<float>(1.0 / std::sqrt(density * static_cast<double>(k) * static_cast<double>(n)));
}

void fwht(float* x, int64_t rows, int log2n, bool normalize) {
  const Kernels& k = active_kernels();
  if (rows == 0) return;
  const int64_t n = int64_t{1} << log2n;
  // 1/sqrt(n) in float64, rounded once: exact (a power of two) for even log2n.
  const float scale = normalize ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))) : 1.0f;
  if (log2n <= kDirectLog2) {
    for_row_ranges(rows, 1, n, [&](int64_t r0, int64_t r1) { k.fwht_rows(x + r0 * n, r1 - r0, log2n, scale); });
    return;
  }
  if (rows >= thread_count()) {
    for_row_ranges(rows, 1, n, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) fwht_long(k, x + r * n, log2n, scale, false);
    });
    return;
  }
  // Fewer long rows than threads: each row is split across the pool.
  for (int64_t r = 0; r < rows; ++r) fwht_long(k, x + r * n, log2n, scale, true);
}

void srht(const float* x, int64_t rows, int64_t d, int64_t k, uint64_t seed, float* out) {
  const Kernels& kern = active_kernels();
  const int64_t n = padded_size(d);
  const int log2n = log2_of(n);
  std::vector<float> sign(static_cast<size_t>(n));
  std::vector<int64_t> sel(static_cast<size_t>(k));
  make_signs(seed, n, sign.data());
  make_sample(seed, n, k, sel.data());
  const float scale = static_cast<float>(std::sqrt(1.0 / static_cast<double>(k)));
  for_row_ranges(rows, 1, n, [&](int64_t r0, int64_t r1) {
    std::vector<float> z(static_cast<size_t>(n));
    for (int64_t r = r0; r < r1; ++r) {
      kern.sign_pad(x + r * d, d, sign.data(), z.data(), n);
      fwht_one(kern, z.data(), log2n, 1.0f);
      float* y = out + r * k;
      for (int64_t t = 0; t < k; ++t) y[t] = z[static_cast<size_t>(sel[static_cast<size_t>(t)])] * scale;
    }
  });
}

void fjlt(const float* x, int64_t rows, int64_t d, int64_t k, uint64_t seed, double density,
          float* out) {
  const Kernels& kern = active_kernels();
  const int64_t n = padded_size(d);
  const int log2n = log2_of(n);
  std::vector<float> sign(static_cast<size_t>(n));
  make_signs(seed, n, sign.data());
  SparseMatrix p;
  make_sparse(seed, philox::kFjlt, k, n, density, fjlt_value(density, k, n), &p);
  CscMatrix pt;
  to_csc(p.view(), &pt);
  const Csc a = pt.view(k, n);
  const int64_t block = kern.block_rows;
  for_row_ranges(rows, block, n, [&](int64_t r0, int64_t r1) {
    std::vector<float> z(static_cast<size_t>(block * n));
    std::vector<float> scratch(static_cast<size_t>(block * (n + k)));
    for (int64_t b0 = r0; b0 < r1; b0 += block) {
      const int64_t nb = std::min(block, r1 - b0);
      for (int64_t b = 0; b < nb; ++b) {
        kern.sign_pad(x + (b0 + b) * d, d, sign.data(), z.data() + b * n, n);
        fwht_one(kern, z.data() + b * n, log2n, 1.0f);
      }
      kern.sparse_rows(z.data(), nb, n, a, out + b0 * k, scratch.data());
    }
  });
}

void csr_project(const float* x, int64_t rows, const Csr& csr, float* out) {
  const Kernels& kern = active_kernels();
  CscMatrix at;
  to_csc(csr, &at);
  const Csc a = at.view(csr.rows, csr.cols);
  const int64_t block = kern.block_rows;
  for_row_ranges(rows, block, a.cols + a.rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(static_cast<size_t>(block * (a.cols + a.rows)));
    for (int64_t b0 = r0; b0 < r1; b0 += 64 * block) {
      const int64_t nb = std::min(64 * block, r1 - b0);
      kern.sparse_rows(x + b0 * a.cols, nb, a.cols, a, out + b0 * a.rows, scratch.data());
    }
  });
}

void sparse_projection(const float* x, int64_t rows, int64_t d, int64_t k, uint64_t seed,
                       double density, float* out) {
  SparseMatrix a;
  make_sparse(seed, philox::kSparse, k, d, density, sparse_value(density, k), &a);
  csr_project(x, rows, a.view(), out);
}

}  // namespace embedkit::jl
