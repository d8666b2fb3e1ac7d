// CSR construction (from COO), transposition and validation.
#include "scatter.h"

namespace embedkit::scatter {

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
  // Sort by (row, col), stably: by column first, then by row.
  LargeArray<int64_t> by_col;
  stable_order_by_key(cols, num_cols, -1, &by_col);
  std::vector<int64_t> col_sorted_rows(by_col.size());
  for (size_t k = 0; k < by_col.size(); ++k) col_sorted_rows[k] = rows.at(by_col[k]);
  LargeArray<int64_t> order;
  stable_order_by_key(IndexArray{col_sorted_rows.data(), static_cast<int64_t>(by_col.size()),
                                 IndexType::Int64},
                      num_rows, -1, &order);
  const int64_t n = static_cast<int64_t>(order.size());
  out->row_ptr.assign(static_cast<size_t>(num_rows) + 1, 0);
  out->col_idx.clear();
  out->values.clear();
  out->col_idx.reserve(static_cast<size_t>(n));
  // Values are kept when given; without them they appear only if a duplicate is summed.
  std::vector<float> vals;
  vals.reserve(static_cast<size_t>(n));
  bool merged = false;
  int64_t last_row = -1, last_col = -1;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t p = by_col[order[k]];
    const int64_t r = rows.at(p), c = cols.at(p);
    const float v = values != nullptr ? values[p] : 1.0f;
    if (sum_duplicates && r == last_row && c == last_col) {
      vals.back() += v;  // duplicates summed in input order
      merged = true;
      continue;
    }
    out->col_idx.push_back(c);
    vals.push_back(v);
    ++out->row_ptr[static_cast<size_t>(r) + 1];
    last_row = r;
    last_col = c;
  }
  for (int64_t r = 0; r < num_rows; ++r) out->row_ptr[r + 1] += out->row_ptr[r];
  out->has_values = values != nullptr || merged;
  if (out->has_values) out->values = std::move(vals);
}

void csr_transpose(const CsrView& a, Csr* out) {
  const int64_t nnz = a.nnz();
  LargeArray<int64_t> order;
  stable_order_by_key(a.col_idx, a.num_cols, -1, &order);
  std::vector<int64_t> row_of(static_cast<size_t>(nnz));
  for (int64_t r = 0; r < a.num_rows; ++r) {
    for (int64_t k = a.row_ptr.at(r), e = a.row_ptr.at(r + 1); k < e; ++k) row_of[k] = r;
  }
  out->row_ptr.assign(static_cast<size_t>(a.num_cols) + 1, 0);
  out->col_idx.resize(static_cast<size_t>(nnz));
  out->has_values = a.values != nullptr;
  out->values.resize(out->has_values ? static_cast<size_t>(nnz) : 0);
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t p = order[k];
    ++out->row_ptr[static_cast<size_t>(a.col_idx.at(p)) + 1];
    out->col_idx[k] = row_of[p];
    if (out->has_values) out->values[k] = a.values[p];
  }
  for (int64_t c = 0; c < a.num_cols; ++c) out->row_ptr[c + 1] += out->row_ptr[c];
}

}  // namespace embedkit::scatter
