// CSR construction (from COO), transposition and validation.
#include <vector>

#include "../common/parallel.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

// Nonzeros per task of the transpose's gathers: a few random reads each.
constexpr int64_t kMinNonzerosPerTask = int64_t{1} << 15;

}  // namespace

CsrCheck validate_csr(const CsrView& a) {
  if (a.row_ptr.length != a.num_rows + 1) return {CsrError::RowPtrLength, a.row_ptr.length};
  const int64_t nnz = a.nnz();
  const gather::BagCheck bounds = gather::validate_offsets(a.row_ptr, true, nnz);
  switch (bounds.error) {
    case gather::BagError::None: break;
    case gather::BagError::FirstNotZero: return {CsrError::FirstNotZero, 0};
    case gather::BagError::Decreasing: return {CsrError::Decreasing, bounds.position};
    case gather::BagError::PastEnd: return {CsrError::PastEnd, bounds.position};
    default: return {CsrError::LastNotNnz, a.num_rows};
  }
  const int64_t bad = find_index_out_of_range(a.col_idx, a.num_cols);
  if (bad >= 0) return {CsrError::ColOutOfRange, bad};
  return {};
}

void csr_from_coo(const IndexArray& rows, const IndexArray& cols, const float* values,
                  int64_t num_rows, int64_t num_cols, bool sum_duplicates, Csr* out) {
  const int64_t n = rows.length;
  const int64_t tasks = task_count_for(n, kMinNonzerosPerTask);
  // Runs fn(k) for every k in [0, n), in parallel: the gathers below are random reads, each
  // independent of the others.
  auto for_each_entry = [&](auto&& fn) {
    parallel_for(tasks, [&](int64_t t) {
      for (int64_t k = n * t / tasks; k < n * (t + 1) / tasks; ++k) fn(k);
    });
  };
  // Sort by (row, col), stably: by column first, then by row.
  LargeArray<int64_t> by_col;
  stable_order_by_key(cols, num_cols, -1, &by_col);
  LargeArray<int64_t> col_sorted_rows(static_cast<size_t>(n));
  for_each_entry([&](int64_t k) { col_sorted_rows[k] = rows.at(by_col[k]); });
  LargeArray<int64_t> by_row;
  stable_order_by_key(IndexArray{col_sorted_rows.data(), n, IndexType::Int64}, num_rows, -1, &by_row);
  // The entries in sorted order, gathered once so that the merge below reads them in order.
  LargeArray<int64_t> sorted_row(static_cast<size_t>(n)), sorted_col(static_cast<size_t>(n));
  LargeArray<float> sorted_value(values != nullptr ? static_cast<size_t>(n) : 0);
  for_each_entry([&](int64_t k) {
    const int64_t p = by_col[by_row[k]];
    sorted_row[k] = col_sorted_rows[by_row[k]];
    sorted_col[k] = cols.at(p);
    if (values != nullptr) sorted_value[k] = values[p];
  });
  // The merge, in parallel. A duplicate run (equal row and column) starts a kept entry;
  // slices start at run starts, so each run is summed by one task, in input order.
  auto starts_run = [&](int64_t k) {
    return !sum_duplicates || k == 0 || sorted_row[k] != sorted_row[k - 1] ||
           sorted_col[k] != sorted_col[k - 1];
  };
  std::vector<int64_t> slice(static_cast<size_t>(tasks) + 1, n);
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t k = n * t / tasks;
    while (k < n && !starts_run(k)) ++k;  // moving to the next run start keeps slices ordered
    slice[t] = k;
  }
  // first_kept[t]: where slice t's kept entries go; first_kept[tasks]: how many are kept.
  std::vector<int64_t> first_kept(static_cast<size_t>(tasks) + 1, 0);
  parallel_for(tasks, [&](int64_t t) {
    int64_t kept = 0;
    for (int64_t k = slice[t]; k < slice[t + 1]; ++k) kept += starts_run(k) ? 1 : 0;
    first_kept[t + 1] = kept;
  });
  for (int64_t t = 0; t < tasks; ++t) first_kept[t + 1] += first_kept[t];
  const int64_t kept = first_kept[tasks];
  // Values are kept when given; without them they appear only if a duplicate is summed.
  out->has_values = values != nullptr || kept < n;
  out->row_ptr.resize(static_cast<size_t>(num_rows) + 1);
  out->col_idx.resize(static_cast<size_t>(kept));
  out->values.resize(out->has_values ? static_cast<size_t>(kept) : 0);
  // row_ptr[x] for x in (previous row, row] is the first kept entry of a row: each entry is
  // written once, by the task holding the first entry of the first non-empty row at or after x.
  parallel_for(tasks, [&](int64_t t) {
    int64_t o = first_kept[t] - 1;
    for (int64_t k = slice[t]; k < slice[t + 1]; ++k) {
      const float v = values != nullptr ? sorted_value[k] : 1.0f;
      if (!starts_run(k)) {
        out->values[o] += v;  // a duplicate, summed in input order
        continue;
      }
      ++o;
      out->col_idx[o] = sorted_col[k];
      if (out->has_values) out->values[o] = v;
      const int64_t r = sorted_row[k];
      for (int64_t x = k == 0 ? 0 : sorted_row[k - 1] + 1; x <= r; ++x) out->row_ptr[x] = o;
    }
  });
  for (int64_t x = n == 0 ? 0 : sorted_row[n - 1] + 1; x <= num_rows; ++x) out->row_ptr[x] = kept;
}

void csr_transpose(const CsrView& a, Csr* out) {
  const int64_t nnz = a.nnz();
  // The plan of the column indices: nonzeros by (column, row), and where each column starts.
  Plan by_col;
  build_plan(a.col_idx, a.num_cols, -1, &by_col);
  LargeArray<int64_t> row_of(static_cast<size_t>(nnz));
  const int64_t row_tasks = task_count_for(nnz, kMinNonzerosPerTask);
  parallel_for(row_tasks, [&](int64_t t) {
    for (int64_t r = a.num_rows * t / row_tasks; r < a.num_rows * (t + 1) / row_tasks; ++r) {
      for (int64_t k = a.row_ptr.at(r), e = a.row_ptr.at(r + 1); k < e; ++k) row_of[k] = r;
    }
  });
  // Column c of a starts at the first segment whose column is c or more.
  out->row_ptr.resize(static_cast<size_t>(a.num_cols) + 1);
  int64_t u = 0;
  for (int64_t c = 0; c <= a.num_cols; ++c) {
    while (u < by_col.num_segments() && by_col.rows[u] < c) ++u;
    out->row_ptr[c] = by_col.bounds[u];
  }
  out->col_idx.resize(static_cast<size_t>(nnz));
  out->has_values = a.values != nullptr;
  out->values.resize(out->has_values ? static_cast<size_t>(nnz) : 0);
  const int64_t tasks = task_count_for(nnz, kMinNonzerosPerTask);
  parallel_for(tasks, [&](int64_t t) {
    for (int64_t k = nnz * t / tasks; k < nnz * (t + 1) / tasks; ++k) {
      const int64_t p = by_col.order[k];
      out->col_idx[k] = row_of[p];
      if (out->has_values) out->values[k] = a.values[p];
    }
  });
}

}  // namespace embedkit::scatter
