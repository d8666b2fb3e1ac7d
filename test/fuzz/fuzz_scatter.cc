// libFuzzer target for the scatter / SpMM family: index arrays of every type with values in
// and out of range, padding skips, weights, the scatter onto zeros (streamed or not); CSR matrices with valid and corrupted row
// pointers and columns. The validators must agree with plain scans; whatever they accept
// must run within its arrays (ASan) on the chosen ISA and thread count: scatter-add gives
// the same bits with and without a plan and as the scalar path on one thread, the stable
// sort is a stable sort, csr_from_coo / csr_transpose round-trip, spmm matches a float64
// product within rounding, and so does the per-sample weights' gradient; id_rows keeps each
// non-padding id's hashed (or quotient and remainder) rows and weight in order, with the bags
// compacted to match; the bag backward with a factor or a wide gradient row matches a float64
// loop, dense and sparse alike.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fuzz_input.h"
#include "scatter/scatter.h"

namespace sc = embedkit::scatter;
namespace g = embedkit::gather;
using embedkit::IndexArray;
using embedkit::IndexType;

namespace {

using fuzz::TypedIndices;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

template <class Fn>
void on_scalar_one_thread(Fn fn) {
  const embedkit::Isa isa = embedkit::active_isa();
  const int threads = embedkit::thread_count();
  embedkit::set_active_isa(embedkit::Isa::Scalar);
  embedkit::set_thread_count(1);
  fn();
  embedkit::set_active_isa(isa);
  embedkit::set_thread_count(threads);
}

void fuzz_scatter_add(fuzz::Input& in) {
  const int64_t rows = in.between(0, 50), dim = in.between(1, 40), n = in.between(0, 150);
  TypedIndices idx = fuzz::typed_indices(in);
  for (int64_t i = 0; i < n; ++i) idx.push(in.index(rows));
  const IndexArray indices = idx.view();
  if (embedkit::find_index_out_of_range(indices, rows) >= 0) return;
  const int64_t skip = rows > 0 && in.flag() ? in.between(0, rows - 1) : -1;

  embedkit::LargeArray<int64_t> order;
  sc::stable_order_by_key(indices, rows, skip, &order);
  std::vector<int64_t> want;
  for (int64_t i = 0; i < n; ++i) if (indices.at(i) != skip) want.push_back(i);
  std::stable_sort(want.begin(), want.end(), [&](int64_t a, int64_t b) { return indices.at(a) < indices.at(b); });
  if (std::vector<int64_t>(order.begin(), order.end()) != want) fuzz::fail("stable_order_by_key is not a stable sort by key");

  std::vector<float> src(static_cast<size_t>(n * dim)), weights(static_cast<size_t>(n));
  for (auto& v : src) v = in.value();
  for (auto& v : weights) v = in.value();
  std::vector<float> start(static_cast<size_t>(rows * dim));
  for (auto& v : start) v = in.value();
  sc::ScatterArgs a;
  a.dim = dim;
  a.src = src.data();
  a.weights = in.flag() ? weights.data() : nullptr;
  a.alpha = in.flag() ? 1.0f : in.value();

  std::vector<float> plain = start, planned = start, scalar = start;
  a.dst = plain.data();
  sc::scatter_add(indices, rows, a, skip);
  sc::Plan plan;
  sc::build_plan(indices, rows, skip, &plan);
  a.dst = planned.data();
  sc::scatter_add(plan, a);
  if (!same_bits(plain, planned)) fuzz::fail("scatter_add with a plan differs from without");
  a.dst = scalar.data();
  on_scalar_one_thread([&] { sc::scatter_add(indices, rows, a, skip); });
  if (!same_bits(plain, scalar)) fuzz::fail("scatter_add differs from the scalar path on one thread");

  // Onto zeros, streamed at any size where the ISA streams (dim a multiple of 16 and dst
  // line-aligned; a guard line on both sides), or filled and added: the bits of a zero fill
  // and scatter_add.
  {
    const int64_t dst_dim = in.flag() ? 16 * in.between(1, 3) : dim;
    std::vector<float> wide_src;
    if (dst_dim != dim) {
      wide_src.resize(static_cast<size_t>(n * dst_dim));
      for (auto& v : wide_src) v = in.value();
    }
    sc::ScatterArgs z = a;
    z.dim = dst_dim;
    z.src = dst_dim != dim ? wide_src.data() : src.data();
    std::vector<float> filled(static_cast<size_t>(rows * dst_dim), 0.0f);
    z.dst = filled.data();
    sc::scatter_add(indices, rows, z, skip);
    std::vector<float> buffer(static_cast<size_t>(rows * dst_dim + 48), 3.0f);
    float* dst = buffer.data() + 16;
    while (reinterpret_cast<uintptr_t>(dst) % 64 != 0) ++dst;
    if (in.flag()) ++dst;  // one float past a line: the fallback
    const int64_t floor = sc::set_stream_min_bytes(0);
    z.dst = dst;
    sc::scatter_add_into_zeros(indices, rows, z, skip, false);
    sc::set_stream_min_bytes(floor);
    if (rows > 0 && std::memcmp(dst, filled.data(), filled.size() * sizeof(float)) != 0) {
      fuzz::fail("scatter_add_into_zeros differs from a zero fill and scatter_add");
    }
    for (float* f = buffer.data(); f < buffer.data() + buffer.size(); ++f) {
      if ((f < dst || f >= dst + rows * dst_dim) && *f != 3.0f) fuzz::fail("scatter_add_into_zeros wrote outside dst");
    }
  }

  // A caller's plan (no skip): it matches its own indices, and dropping the skipped row
  // gives the plan built with that skip.
  sc::Plan full, dropped;
  sc::build_plan(indices, rows, -1, &full);
  if (sc::find_plan_mismatch(full, indices) != -1) fuzz::fail("a plan does not match its own indices");
  if (skip >= 0) {
    sc::plan_without_row(full, skip, &dropped);
    if (dropped.rows != plan.rows || dropped.bounds != plan.bounds || dropped.order != plan.order) {
      fuzz::fail("plan_without_row differs from build_plan with that skip");
    }
  }
  // Another index array of the same length matches only if it holds the same values.
  if (n > 0 && rows > 1) {
    TypedIndices other = fuzz::typed_indices(in);
    bool same = true;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = in.flag() ? indices.at(i) : in.between(0, rows - 1);
      same = same && v == indices.at(i);
      other.push(v);
    }
    const int64_t bad = sc::find_plan_mismatch(full, other.view());
    if ((bad == -1) != same) fuzz::fail("find_plan_mismatch disagrees with a comparison of the values");
    if (bad >= 0 && other.view().at(bad) == indices.at(bad)) fuzz::fail("find_plan_mismatch names a matching position");
  }
}

void fuzz_csr(fuzz::Input& in) {
  const int64_t rows = in.between(0, 30), cols = in.between(0, 30), dim = in.between(1, 20);
  const int64_t nnz = cols == 0 ? 0 : in.between(0, 120);
  // COO entries, then csr_from_coo: sorted, duplicates summed or kept.
  TypedIndices r = fuzz::typed_indices(in), c = fuzz::typed_indices(in);
  std::vector<float> vals;
  for (int64_t e = 0; e < nnz && rows > 0; ++e) {
    r.push(in.between(0, rows - 1));
    c.push(in.between(0, cols - 1));
    vals.push_back(in.value());
  }
  const bool sum_duplicates = in.flag();
  sc::Csr m;
  sc::csr_from_coo(r.view(), c.view(), in.flag() ? vals.data() : nullptr, rows, cols, sum_duplicates, &m);
  sc::CsrView view{IndexArray{m.row_ptr.data(), static_cast<int64_t>(m.row_ptr.size()), IndexType::Int64},
                   IndexArray{m.col_idx.data(), static_cast<int64_t>(m.col_idx.size()), IndexType::Int64},
                   m.has_values ? m.values.data() : nullptr, rows, cols};
  if (sc::validate_csr(view).error != sc::CsrError::None) fuzz::fail("csr_from_coo made an invalid matrix");
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t e = m.row_ptr[row] + 1; e < m.row_ptr[row + 1]; ++e) {
      if (m.col_idx[e] < m.col_idx[e - 1] || (sum_duplicates && m.col_idx[e] == m.col_idx[e - 1])) {
        fuzz::fail("csr_from_coo left a row unsorted or a duplicate unsummed");
      }
    }
  }
  // The transpose of the transpose is the matrix.
  sc::Csr t, tt;
  sc::csr_transpose(view, &t);
  sc::CsrView tview{IndexArray{t.row_ptr.data(), static_cast<int64_t>(t.row_ptr.size()), IndexType::Int64},
                    IndexArray{t.col_idx.data(), static_cast<int64_t>(t.col_idx.size()), IndexType::Int64},
                    t.has_values ? t.values.data() : nullptr, cols, rows};
  sc::csr_transpose(tview, &tt);
  if (tt.row_ptr != m.row_ptr || tt.col_idx != m.col_idx || tt.has_values != m.has_values ||
      (m.has_values && tt.values != m.values)) {
    fuzz::fail("csr_transpose twice is not the identity");
  }

  // A corrupted copy of the row pointers / columns: validate_csr must agree with a scan.
  std::vector<int64_t> rp(m.row_ptr.begin(), m.row_ptr.end()), ci(m.col_idx.begin(), m.col_idx.end());
  if (in.flag() && !rp.empty()) rp[in.between(0, static_cast<int64_t>(rp.size()) - 1)] = in.index(nnz + 1);
  if (in.flag() && !ci.empty()) ci[in.between(0, static_cast<int64_t>(ci.size()) - 1)] = in.index(cols);
  if (in.flag() && !rp.empty()) rp.pop_back();
  sc::CsrView bad{IndexArray{rp.data(), static_cast<int64_t>(rp.size()), IndexType::Int64},
                  IndexArray{ci.data(), static_cast<int64_t>(ci.size()), IndexType::Int64},
                  view.values, rows, cols};
  bool ok = static_cast<int64_t>(rp.size()) == rows + 1 && rp[0] == 0 && rp.back() == static_cast<int64_t>(ci.size());
  for (size_t i = 1; ok && i < rp.size(); ++i) ok = rp[i] >= rp[i - 1] && rp[i] <= static_cast<int64_t>(ci.size());
  for (size_t e = 0; ok && e < ci.size(); ++e) ok = ci[e] >= 0 && ci[e] < cols;
  const bool accepted = sc::validate_csr(bad).error == sc::CsrError::None;
  if (ok != accepted) fuzz::fail("validate_csr disagrees with a scan");
  if (!accepted) return;

  // spmm against a float64 product, and thread invariance.
  std::vector<float> b(static_cast<size_t>(cols * dim));
  for (auto& v : b) v = in.value();
  const g::PoolMode mode = static_cast<g::PoolMode>(in.between(0, 2));
  std::vector<float> out(static_cast<size_t>(rows * dim), 7.0f), one(out.size(), 7.0f);
  sc::spmm(bad, b.data(), dim, mode, out.data());
  const int threads = embedkit::thread_count();
  embedkit::set_thread_count(1);
  sc::spmm(bad, b.data(), dim, mode, one.data());
  embedkit::set_thread_count(threads);
  if (!same_bits(out, one)) fuzz::fail("spmm differs between thread counts");
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t e0 = rp[row], e1 = rp[row + 1];
    for (int64_t j = 0; j < dim; ++j) {
      double sum = 0, magnitude = 0, max = -INFINITY;
      for (int64_t e = e0; e < e1; ++e) {
        const double term = static_cast<double>(bad.values ? bad.values[e] : 1.0f) * b[ci[e] * dim + j];
        sum += term;
        magnitude += std::fabs(term);
        max = std::max(max, term);
      }
      const int64_t count = e1 - e0;
      const double want = count == 0 ? 0.0 : mode == g::PoolMode::Sum ? sum : mode == g::PoolMode::Mean ? sum / count : max;
      const double tol = (count + 2) * 1.2e-7 * (mode == g::PoolMode::Max ? std::fabs(max) : magnitude);
      if (!(std::fabs(out[row * dim + j] - want) <= tol)) fuzz::fail("spmm differs from a float64 product");
    }
  }
}

// index_winners against a plain plan of the same entries: the same distinct rows, and each
// entry's slot is the segment the plan files it under. A huge row count takes the sorting
// regime, a small one the bitmap.
void fuzz_winners(fuzz::Input& in) {
  const int64_t rows = in.flag() ? in.between(1, 200) : (int64_t{1} << 30) - in.between(0, 200);
  const int64_t entries = in.between(0, 300);
  std::vector<int32_t> argmax(static_cast<size_t>(entries));
  for (int32_t& w : argmax) {
    w = in.flag() ? -1 : static_cast<int32_t>(rows - 1 - in.between(0, std::min<int64_t>(rows - 1, 400)));
  }
  sc::Winners got;
  sc::index_winners(argmax.data(), entries, rows, &got);
  sc::Plan plan;
  sc::build_plan(IndexArray{argmax.data(), entries, IndexType::Int32}, rows, -1, &plan);
  if (got.rows != plan.rows) fuzz::fail("index_winners rows differ from the plan's");
  if (got.slots.size() != argmax.size()) fuzz::fail("index_winners slots have the wrong length");
  embedkit::LargeArray<int32_t> want(argmax.size(), -1);
  for (int64_t u = 0; u < plan.num_segments(); ++u) {
    for (int64_t k = plan.bounds[u]; k < plan.bounds[u + 1]; ++k) want[plan.order[k]] = static_cast<int32_t>(u);
  }
  if (got.slots != want) fuzz::fail("index_winners slots differ from the plan's segments");
}

// bag_weights_grad on the chosen ISA and thread count: within rounding of a float64 dot
// product per position (over the bag's non-padding count for Mean; padding exactly 0, or
// untouched when accumulating), with or without a QR bag's extras and with the padding row in
// the table or past it, and the same bits on one thread (each position is one dot product
// whatever the split).
void fuzz_weights_grad(fuzz::Input& in) {
  const int64_t rows = in.between(1, 30), dim = in.between(1, 70), n = in.between(0, 200);
  // Padding as a row of the table, or as a sentinel one past it (a compressed bag's padding
  // id), which must never be read (ASan).
  const int64_t padding = in.flag() ? (in.flag() ? in.between(0, rows - 1) : rows) : -1;
  TypedIndices idx = fuzz::typed_indices(in);
  for (int64_t i = 0; i < n; ++i) idx.push(padding >= 0 && in.flag() ? padding : in.between(0, rows - 1));
  const int64_t num_bags = in.between(1, 20);
  std::vector<int64_t> bounds{0};
  for (int64_t b = 1; b < num_bags; ++b) bounds.push_back(in.between(0, n));
  std::sort(bounds.begin(), bounds.end());
  bounds.push_back(n);  // num_bags + 1 boundaries, the last at the end
  // A QR bag's extras: a wider gradient row, a factor row per position, accumulation.
  const bool extras = in.flag();
  const int64_t step = extras ? 2 : 1, offset = extras ? in.between(0, 1) : 0, factor_rows = in.between(1, 10);
  std::vector<float> grad(static_cast<size_t>(num_bags * step * dim)), table(static_cast<size_t>(rows * dim)),
      factor(static_cast<size_t>(factor_rows * dim)), start(static_cast<size_t>(n));
  std::vector<int64_t> frow(static_cast<size_t>(n));
  for (auto& v : grad) v = in.value();
  for (auto& v : table) v = in.value();
  for (auto& v : factor) v = in.value();
  for (auto& v : start) v = in.value();
  for (auto& v : frow) v = in.between(0, factor_rows - 1);
  sc::WeightsGradArgs a;
  a.grad = grad.data();
  a.table = table.data();
  a.dim = dim;
  a.indices = idx.view();
  a.bags = g::Bags{IndexArray{bounds.data(), num_bags + 1, IndexType::Int64}, num_bags, n};
  a.mean = in.flag();
  a.padding_idx = padding;
  if (extras) {
    a.grad_rows_per_bag = step;
    a.grad_row_offset = offset;
    a.factor = factor.data();
    a.factor_rows = frow.data();
    a.accumulate = true;
  }
  std::vector<float> got = start, one = start;
  a.out = got.data();
  sc::bag_weights_grad(a);
  const int threads = embedkit::thread_count();
  embedkit::set_thread_count(1);
  a.out = one.data();
  sc::bag_weights_grad(a);
  embedkit::set_thread_count(threads);
  if (!same_bits(got, one)) fuzz::fail("bag_weights_grad differs between thread counts");
  for (int64_t b = 0; b < num_bags; ++b) {
    int64_t count = 0;
    for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) count += a.indices.at(p) != a.padding_idx;
    for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) {
      const int64_t row = a.indices.at(p);
      const double base = extras ? start[p] : 0.0;
      if (row == a.padding_idx) {
        if (got[p] != static_cast<float>(base)) fuzz::fail("bag_weights_grad wrote a padding position");
        continue;
      }
      double want = 0, magnitude = 0;
      for (int64_t c = 0; c < dim; ++c) {
        const double f = extras ? static_cast<double>(factor[frow[p] * dim + c]) : 1.0;
        const double term = static_cast<double>(grad[(b * step + offset) * dim + c]) * table[row * dim + c] * f;
        want += term;
        magnitude += std::fabs(term);
      }
      const double divisor = a.mean ? static_cast<double>(count) : 1.0;
      const double slack = (dim + 3) * 1.2e-7 * magnitude / divisor + 1.2e-7 * std::fabs(base + want / divisor);
      if (!(std::fabs(got[p] - (base + want / divisor)) <= slack)) {
        fuzz::fail("bag_weights_grad differs from a float64 dot product");
      }
    }
  }
}

// id_rows against a plain loop (ids of any non-negative value in every index type, or below
// q x m for quotient-remainder rows; a padding id that is often present, dropped or kept as
// sentinel rows; empty bags anywhere), on the chosen thread count.
void fuzz_id_rows(fuzz::Input& in) {
  const int64_t n = in.between(0, 200);
  TypedIndices ids = fuzz::typed_indices(in);
  sc::IdRowsArgs a;
  const bool qr = in.flag();
  a.map = qr ? sc::IdMap::QuotientRemainder : sc::IdMap::Hashed;
  a.table_rows = in.flag() ? in.between(1, 1000) : in.between(1, INT64_MAX);
  a.remainder_rows = in.flag() ? in.between(1, 1000) : in.between(1, INT64_MAX);
  a.wide = in.flag();
  a.keep_padding = in.flag();
  const int64_t type_max = ids.type == IndexType::Int64 ? INT64_MAX : ids.type == IndexType::Uint32 ? UINT32_MAX : INT32_MAX;
  const int64_t id_max = qr ? std::min(type_max, g::qr_id_limit(a.table_rows, a.remainder_rows) - 1) : type_max;
  const int64_t pad = in.flag() ? in.between(0, id_max) : -1;
  for (int64_t i = 0; i < n; ++i) ids.push(pad >= 0 && in.flag() ? pad : in.between(0, id_max));
  const int64_t num_bags = in.between(0, 20);
  std::vector<int64_t> bounds;
  if (num_bags > 0) {
    bounds.push_back(0);
    for (int64_t b = 1; b < num_bags; ++b) bounds.push_back(in.between(0, n));
    std::sort(bounds.begin(), bounds.end());
  }
  std::vector<float> weights(static_cast<size_t>(n));
  for (auto& v : weights) v = in.value();
  a.ids = ids.view();
  a.bags = g::Bags{IndexArray{bounds.data(), num_bags, IndexType::Int64}, num_bags, n};
  a.seed = static_cast<uint64_t>(in.between(0, INT64_MAX));
  a.padding_id = pad;
  a.weights = in.flag() ? weights.data() : nullptr;
  sc::IdRows out;
  sc::id_rows(a, &out);
  const IndexArray rows = out.rows(0), second = out.rows(1);
  const g::Bags kept = out.bags();
  if (kept.num_bags != num_bags || kept.num_indices != rows.length) fuzz::fail("id_rows: bag count or length");
  if (second.length != (qr ? rows.length : 0)) fuzz::fail("id_rows: the remainder rows' length");
  int64_t k = 0;
  for (int64_t b = 0; b < num_bags; ++b) {
    if (kept.start(b) != k) fuzz::fail("id_rows: a bag start differs from the plain loop's");
    for (int64_t p = a.bags.start(b); p < a.bags.end(b); ++p) {
      const int64_t id = a.ids.at(p);
      if (id == pad && !a.keep_padding) continue;
      if (k >= rows.length) fuzz::fail("id_rows: too few rows");
      const bool ok = id == pad ? rows.at(k) == a.table_rows && (!qr || second.at(k) == a.remainder_rows)
                      : qr      ? rows.at(k) == id / a.remainder_rows && second.at(k) == id % a.remainder_rows
                                : rows.at(k) == g::hashed_row(static_cast<uint64_t>(id), a.seed, a.table_rows);
      if (!ok) fuzz::fail("id_rows: a row differs from the plain loop's");
      if (a.weights != nullptr && !(out.weights[k] == a.weights[p])) fuzz::fail("id_rows: a weight moved");
      ++k;
    }
    if (kept.end(b) != k) fuzz::fail("id_rows: a bag end differs from the plain loop's");
  }
  if (num_bags > 0 && k != rows.length) fuzz::fail("id_rows: kept more positions than the bags hold");
}

// The bag backward with a QR bag's extras on the chosen ISA and thread count: a gradient row
// per bag read from a wider one (grad_rows_per_bag, 'concat') or a factor row per position
// ('mul'), padding or not. Dense and sparse give the same bits, and both lie within rounding
// of a float64 loop.
void fuzz_factor_backward(fuzz::Input& in) {
  const int64_t rows = in.between(1, 30), dim = in.between(1, 40), n = in.between(0, 150);
  const int64_t factor_rows = in.between(1, 20);
  std::vector<int64_t> idx(static_cast<size_t>(n)), frow(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    idx[i] = in.between(0, rows - 1);
    frow[i] = in.between(0, factor_rows - 1);
  }
  const int64_t num_bags = in.between(1, 20);
  std::vector<int64_t> bounds{0};
  for (int64_t b = 1; b < num_bags; ++b) bounds.push_back(in.between(0, n));
  std::sort(bounds.begin(), bounds.end());
  bounds.push_back(n);
  const bool concat = in.flag();
  const int64_t step = concat ? 2 : 1, offset = concat ? in.between(0, 1) : 0;
  std::vector<float> grad(static_cast<size_t>(num_bags * step * dim)), factor(static_cast<size_t>(factor_rows * dim)),
      weights(static_cast<size_t>(n));
  for (auto& v : grad) v = in.value();
  for (auto& v : factor) v = in.value();
  for (auto& v : weights) v = in.value();
  sc::BagBackwardArgs a;
  a.grad = grad.data();
  a.dim = dim;
  a.indices = IndexArray{idx.data(), n, IndexType::Int64};
  a.bags = g::Bags{IndexArray{bounds.data(), num_bags + 1, IndexType::Int64}, num_bags, n};
  a.mode = in.flag() ? g::PoolMode::Mean : g::PoolMode::Sum;
  a.weights = in.flag() ? weights.data() : nullptr;
  a.num_rows = rows;
  a.padding_idx = in.flag() ? in.between(0, rows - 1) : -1;
  a.grad_rows_per_bag = step;
  a.grad_row_offset = offset;
  if (!concat || in.flag()) {
    a.factor = factor.data();
    a.factor_rows = frow.data();
    a.factor_table_rows = factor_rows;
  }
  std::vector<float> dense(static_cast<size_t>(rows * dim), 1.0f);
  sc::BagBackward dense_pass(a);
  dense_pass.run_dense(dense.data());
  sc::BagBackward sparse_pass(a);
  const auto& touched = sparse_pass.rows();
  std::vector<float> sparse(touched.size() * static_cast<size_t>(dim));
  sparse_pass.run_sparse(sparse.data());
  std::vector<double> want(dense.size()), magnitude(dense.size());
  for (int64_t b = 0; b < num_bags; ++b) {
    int64_t count = 0;
    for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) count += idx[p] != a.padding_idx;
    for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) {
      if (idx[p] == a.padding_idx) continue;
      const double scale = (a.weights != nullptr ? a.weights[p] : 1.0) / (a.mode == g::PoolMode::Mean ? count : 1);
      for (int64_t c = 0; c < dim; ++c) {
        const double f = a.factor != nullptr ? factor[frow[p] * dim + c] : 1.0;
        const double term = scale * grad[(b * step + offset) * dim + c] * f;
        want[idx[p] * dim + c] += term;
        magnitude[idx[p] * dim + c] += std::fabs(term);
      }
    }
  }
  for (size_t e = 0; e < dense.size(); ++e) {
    if (!(std::fabs(dense[e] - want[e]) <= (n + 3) * 2.4e-7 * magnitude[e])) {
      fuzz::fail("the factor / wide-gradient backward differs from a float64 loop");
    }
  }
  for (size_t u = 0; u < touched.size(); ++u) {
    if (std::memcmp(&sparse[u * dim], &dense[touched[u] * dim], static_cast<size_t>(dim) * sizeof(float)) != 0) {
      fuzz::fail("the sparse factor backward differs from the dense one");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  fuzz::pick_path(in);
  if (in.flag()) {
    fuzz_scatter_add(in);
  } else if (in.flag()) {
    fuzz_csr(in);
  } else if (in.flag()) {
    fuzz_winners(in);
  } else if (in.flag()) {
    fuzz_weights_grad(in);
  } else if (in.flag()) {
    fuzz_id_rows(in);
  } else {
    fuzz_factor_backward(in);
  }
  return 0;
}
