// The scatter / SpMM family on every ISA this CPU runs, against float64 references computed
// here from the definitions; the gather kernels' scatter features (output row map,
// accumulate, weighted max) against the scalar oracle; the stable key sort in each of its
// regimes; CSR construction, transposition and validation; thread invariance.
//
// Bounds (asserted where said):
//   scatter_add, backward Sum/Mean, spmm Sum/Mean:  ||out - ref|| / ||abs|| < 1e-6 per call,
//       where abs sums the magnitudes of the terms (the float32 rounding scale; equal to
//       ||ref|| when nothing cancels).
//   spmm Max, backward Max with one winner per element, argmax:  exact.
//   pool_bags with accumulate / out_rows / weighted max vs the scalar oracle:  Max bitwise,
//       Sum within 1e-6 of the magnitude per element (FMA vs mul + add).
//   any thread count:  bitwise identical.
#include <algorithm>
#include <map>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "common/isa.h"
#include "common/kernel_stats.h"
#include "common/large_array.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "gather/gather.h"
#include "harness.h"
#include "scatter/scatter.h"

namespace {

namespace ek = embedkit;
namespace g = embedkit::gather;
namespace s = embedkit::scatter;
using harness::Rng;

const int64_t kDims[] = {1, 3, 7, 8, 9, 15, 16, 17, 33, 64, 127, 128, 129, 257};
int64_t g_checked[ek::kNumIsas];

// Indices held as bytes of one element type, so the same values can be viewed as any type.
struct Ids {
  ek::IndexType type = ek::IndexType::Int32;
  std::vector<int64_t> values;
  std::vector<unsigned char> bytes;
  Ids(ek::IndexType t, std::vector<int64_t> v) : type(t), values(std::move(v)) {
    const size_t width = t == ek::IndexType::Int64 ? 8 : 4;
    bytes.resize(values.size() * width);
    for (size_t i = 0; i < values.size(); ++i) {
      if (t == ek::IndexType::Int64) {
        std::memcpy(&bytes[i * 8], &values[i], 8);
      } else {
        const uint32_t x = static_cast<uint32_t>(values[i]);
        std::memcpy(&bytes[i * 4], &x, 4);
      }
    }
  }
  ek::IndexArray view() const {
    return ek::IndexArray{bytes.data(), static_cast<int64_t>(values.size()), type};
  }
};

ek::IndexType random_type(Rng& rng) { return static_cast<ek::IndexType>(rng.below(3)); }

std::vector<float> random_floats(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.nonzero();
  return v;
}

// ||got - ref|| / ||abs|| < bound (abs: the magnitudes of the summed terms).
bool close(const std::vector<float>& got, const std::vector<double>& ref,
           const std::vector<double>& abs, double bound, const char* what) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    err += d * d;
    scale += abs[i] * abs[i];
  }
  const double rel = scale == 0 ? std::sqrt(err) : std::sqrt(err / scale);
  return CHECK_MSG(rel < bound, what, ": relative error ", rel, " >= ", bound);
}

// How far apart two float evaluations of one weighted scatter-add may land, per element of
// `dst0` (the table starts `at` floats in): each adds its row's terms in index order (with or
// without FMA), so each lies within (terms + 2) 2^-24 of the sum of the magnitudes it adds
// (first order), whatever the cancellation. A fixed relative tolerance fails now and then on
// a hub row of hundreds of terms that nearly cancel. `pos` (count entries, ascending) lists
// the positions applied, or nullptr for positions 0..count-1; `skip` is a row to leave out.
std::vector<double> rounding_slack(const std::vector<float>& dst0, int64_t at, const s::ScatterArgs& a,
                                   const std::vector<int64_t>& idx, const int64_t* pos, int64_t count,
                                   int64_t skip = -1) {
  std::vector<double> magnitude(dst0.size());
  for (size_t e = 0; e < dst0.size(); ++e) magnitude[e] = std::fabs(static_cast<double>(dst0[e]));
  std::vector<int64_t> terms(dst0.size());
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = pos != nullptr ? pos[k] : k, row = idx[static_cast<size_t>(i)];
    if (row == skip) continue;
    const int64_t src_row = a.src_rows != nullptr ? a.src_rows[i] : i;
    const double scale = std::fabs(static_cast<double>(a.alpha) * (a.weights != nullptr ? a.weights[i] : 1.0f));
    const float* factor = a.factor != nullptr ? a.factor + a.factor_rows[i] * a.dim : nullptr;
    for (int64_t c = 0; c < a.dim; ++c) {
      const size_t e = static_cast<size_t>(at + row * a.dim + c);
      const double f = factor != nullptr ? std::fabs(static_cast<double>(factor[c])) : 1.0;
      magnitude[e] += scale * std::fabs(a.src[src_row * a.dim + c]) * f;
      ++terms[e];
    }
  }
  std::vector<double> slack(dst0.size());
  for (size_t e = 0; e < dst0.size(); ++e) slack[e] = 2.0 * static_cast<double>(terms[e] + 2) * 0x1p-24 * magnitude[e];
  return slack;
}

// The first cache-line boundary at or after p (a vector needs up to 15 floats of slack).
float* first_line(float* p) {
  while (reinterpret_cast<uintptr_t>(p) % 64 != 0) ++p;
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  // Empty vectors may hold null data, which memcmp must not get (UBSan), even for 0 bytes.
  return CHECK_MSG(a.size() == b.size() &&
                       (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0),
                   what);
}

// Runs fn once per runnable ISA with that ISA active and 1..3 threads; checks the kernel
// call counter moved on that ISA only when `counted`.
template <class Fn>
void for_each_isa(Fn&& fn) {
  for (ek::Isa isa : runnable_isas()) {
    SCOPED_CONTEXT("isa ", ek::isa_name(isa));
    CHECK_EQ(ek::set_active_isa(isa), std::string());
    fn(isa);
    ++g_checked[static_cast<int>(isa)];
  }
  ek::set_active_isa(ek::best_isa());
  ek::set_thread_count(2);
}

// ---- the sort and the plan ---------------------------------------------------------------

TEST(stable_order_by_key_every_regime) {
  Rng rng(harness::test_seed());
  // limit small (one counting pass), large next to n (radix passes), 1, and 2^40.
  const int64_t limits[] = {1, 2, 100, 5000, 1 << 20, int64_t{1} << 40};
  for (int64_t limit : limits) {
    for (int64_t n : {0, 1, 17, 3000}) {
      std::vector<int64_t> keys(static_cast<size_t>(n));
      for (int64_t& k : keys) k = rng.coin(0.2) ? 0 : rng.below(limit);
      const int64_t skip = rng.coin(0.5) ? -1 : (n > 0 ? keys[0] : -1);
      const Ids ids(limit > (int64_t{1} << 31) ? ek::IndexType::Int64 : random_type(rng), keys);
      SCOPED_CONTEXT("limit=", limit, " n=", n, " skip=", skip);
      ek::LargeArray<int64_t> order;
      s::stable_order_by_key(ids.view(), limit, skip, &order);
      std::vector<int64_t> expect;
      for (int64_t i = 0; i < n; ++i) {
        if (keys[i] != skip) expect.push_back(i);
      }
      std::stable_sort(expect.begin(), expect.end(),
                       [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
      CHECK(std::vector<int64_t>(order.begin(), order.end()) == expect);
    }
  }
}

TEST(plan_lists_each_row_positions_in_order) {
  Rng rng(harness::test_seed());
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t rows = rng.between(1, 300);
    std::vector<int64_t> idx(static_cast<size_t>(rng.between(0, 500)));
    for (int64_t& v : idx) v = rng.below(rows);
    const Ids ids(random_type(rng), idx);
    s::Plan plan;
    s::build_plan(ids.view(), rows, -1, &plan);
    CHECK_EQ(plan.bounds.size(), plan.rows.size() + 1);
    size_t k = 0;
    for (size_t u = 0; u < plan.rows.size(); ++u) {
      if (u > 0) CHECK(plan.rows[u] > plan.rows[u - 1]);
      CHECK(plan.bounds[u + 1] > plan.bounds[u]);  // no empty segment
      for (int64_t e = plan.bounds[u]; e < plan.bounds[u + 1]; ++e, ++k) {
        CHECK_EQ(idx[plan.order[e]], plan.rows[u]);
        if (e > plan.bounds[u]) CHECK(plan.order[e] > plan.order[e - 1]);
      }
    }
    CHECK_EQ(k, idx.size());
  }
}

// The parallel build (n >= 32768 and 2^12 < rows <= 2^28: bucket by the high bits, then a
// counting sort per bucket) against a stable sort, on 1 and 2 threads, with and without a
// skipped row, at the edges of its regime.
TEST(plan_parallel_build_matches_a_stable_sort) {
  Rng rng(harness::test_seed());
  const int64_t row_counts[] = {4097, 5000, 1 << 20, (1 << 20) + 7, int64_t{1} << 28};
  for (int64_t rows : row_counts) {
    for (int64_t n : {int64_t{32768}, int64_t{100003}}) {
      std::vector<int64_t> idx(static_cast<size_t>(n));
      // Some hot rows (long segments), the rest uniform, and the range's two ends.
      for (int64_t& v : idx) v = rng.coin(0.3) ? rng.below(8) : rng.below(rows);
      idx[0] = rows - 1;
      idx[static_cast<size_t>(n) - 1] = 0;
      const int64_t skip = rng.coin(0.5) ? -1 : idx[static_cast<size_t>(rng.below(n))];
      const Ids ids(random_type(rng), idx);
      std::vector<int64_t> order;
      for (int64_t i = 0; i < n; ++i) {
        if (idx[i] != skip) order.push_back(i);
      }
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return idx[a] < idx[b]; });
      std::vector<int64_t> expect_rows, expect_bounds;
      for (size_t k = 0; k < order.size(); ++k) {
        if (k == 0 || idx[order[k]] != idx[order[k - 1]]) {
          expect_rows.push_back(idx[order[k]]);
          expect_bounds.push_back(static_cast<int64_t>(k));
        }
      }
      expect_bounds.push_back(static_cast<int64_t>(order.size()));
      for (int threads : {1, 2}) {
        SCOPED_CONTEXT("rows=", rows, " n=", n, " skip=", skip, " threads=", threads);
        ek::set_thread_count(threads);
        s::Plan plan;
        s::build_plan(ids.view(), rows, skip, &plan);
        CHECK(std::vector<int64_t>(plan.order.begin(), plan.order.end()) == order);
        CHECK(std::vector<int64_t>(plan.rows.begin(), plan.rows.end()) == expect_rows);
        CHECK(std::vector<int64_t>(plan.bounds.begin(), plan.bounds.end()) == expect_bounds);
        CHECK_EQ(plan.num_rows, rows);
        CHECK_EQ(plan.num_indices, n);
        // The same sort without the segments (stable_order_by_key's parallel regime).
        ek::LargeArray<int64_t> alone;
        s::stable_order_by_key(ids.view(), rows, skip, &alone);
        CHECK(std::vector<int64_t>(alone.begin(), alone.end()) == order);
      }
    }
  }
  ek::set_thread_count(2);
}

// ---- gather kernels in their scatter roles, each ISA vs the scalar oracle -----------------

TEST(plan_mismatch_and_plan_without_row) {
  Rng rng(harness::test_seed());
  for (int64_t n : {0, 1, 50, 400}) {
    const int64_t rows = rng.between(1, 30);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t& v : idx) v = rng.below(rows);
    const Ids ids(random_type(rng), idx);
    SCOPED_CONTEXT("n=", n, " rows=", rows);
    s::Plan plan;
    s::build_plan(ids.view(), rows, -1, &plan);
    CHECK_EQ(s::find_plan_mismatch(plan, ids.view()), int64_t{-1});
    // Without a row: what build_plan with that skip makes.
    const int64_t drop = rng.below(rows);
    s::Plan without, expect;
    s::plan_without_row(plan, drop, &without);
    s::build_plan(ids.view(), rows, drop, &expect);
    CHECK(without.rows == expect.rows);
    CHECK(without.bounds == expect.bounds);
    CHECK(without.order == expect.order);
    if (n == 0) continue;
    // One index changed: the only position that disagrees, so the one reported.
    std::vector<int64_t> other = idx;
    const int64_t p = rng.below(n);
    other[p] = (other[p] + 1) % (rows + 1);
    const Ids changed(ids.type, other);
    const int64_t bad = s::find_plan_mismatch(plan, changed.view());
    CHECK_MSG(bad == p, "mismatch at ", bad, ", changed ", p);
    // A different length never matches.
    const Ids shorter(ids.type, std::vector<int64_t>(idx.begin(), idx.end() - 1));
    CHECK(s::find_plan_mismatch(plan, shorter.view()) >= 0);
  }
}

TEST(pool_bags_out_rows_accumulate_and_weighted_max) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    for (g::PoolMode mode : {g::PoolMode::Sum, g::PoolMode::Max}) {
      const int64_t rows = rng.between(1, 30), bags = rng.between(1, 12);
      std::vector<float> table = random_floats(rng, rows * dim);
      std::vector<int64_t> bounds{0};
      for (int64_t b = 0; b < bags; ++b) bounds.push_back(bounds.back() + rng.between(0, 6));
      std::vector<int64_t> idx(static_cast<size_t>(bounds.back()));
      for (int64_t& v : idx) v = rng.below(rows);
      std::vector<float> weights = random_floats(rng, bounds.back());
      // Each bag writes a distinct output row of a larger output, in scrambled order.
      const int64_t out_rows_total = bags + 5;
      std::vector<int64_t> out_rows(static_cast<size_t>(out_rows_total));
      for (int64_t i = 0; i < out_rows_total; ++i) out_rows[i] = i;
      for (int64_t i = out_rows_total - 1; i > 0; --i) std::swap(out_rows[i], out_rows[rng.below(i + 1)]);
      const std::vector<float> initial = random_floats(rng, out_rows_total * dim);
      const Ids ids(random_type(rng), idx);
      g::BagArgs a;
      a.table = g::Table{table.data(), rows, dim};
      a.indices = ids.view();
      a.bags.bounds = ek::IndexArray{bounds.data(), bags + 1, ek::IndexType::Int64};
      a.bags.num_bags = bags;
      a.bags.num_indices = bounds.back();
      a.mode = mode;
      a.weights = weights.data();
      a.out_rows = out_rows.data();
      a.accumulate = mode == g::PoolMode::Sum;
      SCOPED_CONTEXT("dim=", dim, " mode=", mode == g::PoolMode::Sum ? "sum+accumulate" : "weighted max");
      std::vector<float> ref = initial;
      a.out = ref.data();
      g::reference_kernels().pool_bags(a, 0, bags, 0, dim);
      // The reference itself, in float64.
      for (int64_t b = 0; b < bags; ++b) {
        for (int64_t c = 0; c < dim; ++c) {
          double acc = a.accumulate ? initial[out_rows[b] * dim + c] : 0.0;
          double mag = std::fabs(acc);
          for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) {
            const double t = static_cast<double>(static_cast<float>(weights[p] * table[idx[p] * dim + c]));
            if (mode == g::PoolMode::Max) {
              acc = p == bounds[b] || t > acc ? t : acc;
            } else {
              acc += static_cast<double>(weights[p]) * table[idx[p] * dim + c];
              mag += std::fabs(static_cast<double>(weights[p]) * table[idx[p] * dim + c]);
            }
          }
          if (bounds[b] == bounds[b + 1] && mode == g::PoolMode::Max) acc = 0.0;
          const float got = ref[out_rows[b] * dim + c];
          if (mode == g::PoolMode::Max) {
            CHECK_MSG(static_cast<double>(got) == acc, "oracle max bag ", b, " col ", c);
          } else {
            CHECK_MSG(std::fabs(got - acc) <= 1e-6 * (mag + 1e-30), "oracle sum bag ", b, " col ", c);
          }
        }
      }
      for (int64_t r = bags; r < out_rows_total; ++r) {  // rows no bag names are untouched
        CHECK(std::memcmp(&ref[out_rows[r] * dim], &initial[out_rows[r] * dim], dim * sizeof(float)) == 0);
      }
      for (ek::Isa isa : runnable_isas()) {
        SCOPED_CONTEXT("isa ", ek::isa_name(isa));
        std::vector<float> out = initial;
        a.out = out.data();
        // Column ranges with odd edges too.
        const int64_t c0 = dim > 2 ? rng.below(dim / 2) : 0;
        g::kernels_for(isa).pool_bags(a, 0, bags, 0, c0);
        g::kernels_for(isa).pool_bags(a, 0, bags, c0, dim);
        for (size_t e = 0; e < out.size(); ++e) {
          const bool ok = mode == g::PoolMode::Max ? bits(out[e]) == bits(ref[e])
                                                    : std::fabs(out[e] - ref[e]) <= 1e-5f * (std::fabs(ref[e]) + 1.0f);
          if (!CHECK_MSG(ok, "element ", static_cast<int64_t>(e), " ", out[e], " vs ", ref[e])) break;
        }
        ++g_checked[static_cast<int>(isa)];
      }
    }
  }
}

// ---- whole operations on every ISA -------------------------------------------------------

TEST(scatter_add_matches_reference_every_isa_and_thread_count) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    const int64_t rows = rng.between(1, 60);
    const int64_t n = harness::quick() ? rng.between(0, 200) : rng.between(0, 3000);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t& v : idx) v = rng.coin(0.3) ? rows - 1 : rng.below(rows);  // a hub row
    const Ids ids(random_type(rng), idx);
    const std::vector<float> src = random_floats(rng, n * dim);
    const std::vector<float> w = random_floats(rng, n);
    const std::vector<float> dst0 = random_floats(rng, rows * dim);
    const float alpha = rng.coin(0.5) ? 1.0f : rng.uniform(-2.0f, 2.0f);
    const bool weighted = rng.coin(0.5);
    SCOPED_CONTEXT("dim=", dim, " rows=", rows, " n=", n, " weighted=", weighted, " alpha=", alpha);
    std::vector<double> ref(dst0.begin(), dst0.end()), abs(ref);
    for (double& x : abs) x = std::fabs(x);
    for (int64_t i = 0; i < n; ++i) {
      const double sc = static_cast<double>(alpha) * (weighted ? w[i] : 1.0f);
      for (int64_t c = 0; c < dim; ++c) {
        ref[idx[i] * dim + c] += sc * src[i * dim + c];
        abs[idx[i] * dim + c] += std::fabs(sc * src[i * dim + c]);
      }
    }
    s::Plan plan;
    s::build_plan(ids.view(), rows, -1, &plan);
    s::ScatterArgs args;
    args.dim = dim;
    args.src = src.data();
    args.weights = weighted ? w.data() : nullptr;
    args.alpha = alpha;
    for_each_isa([&](ek::Isa isa) {
      std::vector<float> first;
      for (int threads : {1, 2, 3}) {
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        std::vector<float> dst = dst0;
        args.dst = dst.data();
        const uint64_t calls = ek::kernel_calls(isa);
        s::scatter_add(plan, args);
        if (plan.num_segments() > 0) CHECK_EQ(ek::kernel_calls(isa), calls + 1);
        if (threads == 1) {
          close(dst, ref, abs, 1e-6, "scatter_add");
          first = dst;
        } else {
          same_bits(dst, first, "thread count changes the bits");
        }
        // The plan-free form: the same bits.
        std::vector<float> direct = dst0;
        args.dst = direct.data();
        s::scatter_add(ids.view(), rows, args);
        same_bits(direct, first, "plan-free form differs from the plan form");
      }
    });
  }
}

// The column cuts of both column splits, for every phase of the rows against the cache lines,
// even (1 share each) and with the first run 3 shares (the plan-free scatter-add's two-group
// split): on line boundaries (no line inside a row written by two tasks), strictly
// increasing, and within 9 columns of the target (half a line, plus the target's own
// rounding) unless there are barely more lines than runs.
TEST(line_cuts_on_line_boundaries_nearest_their_targets) {
  alignas(64) static float rows[64];
  for (int64_t shares : {1, 3}) {
    for (int64_t dim = 1; dim <= 300; ++dim) {
      const int64_t lines = (dim + 15) / 16;
      for (int64_t phase = 0; phase < 16; ++phase) {  // floats from a line boundary to the row
        for (int64_t groups = 1; groups <= 12; ++groups) {
          SCOPED_CONTEXT("shares=", shares, " dim=", dim, " phase=", phase, " groups=", groups);
          const std::vector<int64_t> cuts = s::line_cuts(rows + phase, dim, groups, shares);
          const int64_t runs = std::min(groups, lines);
          if (!CHECK_MSG(static_cast<int64_t>(cuts.size()) == runs + 1, cuts.size(), " cuts")) continue;
          CHECK_EQ(cuts.front(), int64_t{0});
          CHECK_EQ(cuts.back(), dim);
          for (int64_t g = 1; g < runs; ++g) {
            CHECK_MSG(cuts[g - 1] < cuts[g], "cuts not increasing at ", g);
            const bool on_line = dim % 16 == 0 ? (phase + cuts[g]) % 16 == 0 : cuts[g] % 16 == 0;
            CHECK_MSG(on_line, "cut ", g, " = ", cuts[g], " is not on a line boundary");
            if (runs == 2 || 2 * runs <= lines || (dim % 16 == 0 && shares == 1)) {
              const double target = static_cast<double>(dim) * static_cast<double>(shares + g - 1) /
                                    static_cast<double>(shares + runs - 1);
              CHECK_MSG(std::fabs(static_cast<double>(cuts[g]) - target) < 9.0, "cut ", g, " = ", cuts[g],
                        " is far from its target ", target);
            }
          }
        }
      }
    }
  }
}

// The plan-free scatter-add cuts columns at dst's cache lines when a row is whole lines, and
// rows too when there are more tasks than lines: the bits must not depend on the cut, on
// where dst starts within a line, or on the thread count, and nothing outside the table
// may be written. Covers a padding row to skip and bag-style src_rows (the dense backward).
// The plan-free scatter-add's row-split limit as shipped (scatter.cc), restored after each
// call that changes it.
const int64_t kDefaultRowSplitLimit = [] {
  const int64_t shipped = s::set_row_split_max_src_bytes(0);
  s::set_row_split_max_src_bytes(shipped);
  return shipped;
}();

TEST(scatter_add_column_and_row_split_at_any_alignment) {
  Rng rng(harness::test_seed());
  for (int64_t dim : {16, 32, 48, 64, 128, 144, 129}) {
    const int64_t rows = rng.between(1, 300);
    const int64_t n = harness::quick() ? rng.between(1, 1500) : rng.between(1, 6000);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t& v : idx) v = rng.coin(0.2) ? 0 : rng.below(rows);  // row 0 a hub
    const Ids ids(random_type(rng), idx);
    const int64_t src_count = rng.between(1, 50);
    const bool bag_rows = rng.coin(0.5);
    std::vector<int64_t> src_rows(static_cast<size_t>(n));
    for (int64_t& r : src_rows) r = rng.below(src_count);
    const std::vector<float> src = random_floats(rng, (bag_rows ? src_count : n) * dim);
    const std::vector<float> w = random_floats(rng, n);
    const bool weighted = rng.coin(0.5);
    const int64_t skip = rng.coin(0.5) ? rng.below(rows) : -1;
    const int64_t shift = rng.below(16);  // floats from a line boundary to dst[0]
    constexpr int64_t kGuard = 32;
    std::vector<float> dst0(static_cast<size_t>(rows * dim + shift + kGuard + 16));
    for (float& x : dst0) x = rng.nonzero();
    const int64_t at = (first_line(dst0.data()) - dst0.data()) + shift;
    SCOPED_CONTEXT("dim=", dim, " rows=", rows, " n=", n, " shift=", shift, " skip=", skip,
                   " bag_rows=", bag_rows, " weighted=", weighted);
    s::ScatterArgs args;
    args.dim = dim;
    args.src = src.data();
    args.src_rows = bag_rows ? src_rows.data() : nullptr;
    args.weights = weighted ? w.data() : nullptr;
    args.alpha = weighted ? 0.5f : 1.0f;
    // One thread on the reference kernels: the oracle (unweighted sums are plain adds, so
    // every ISA must give its bits; weighted ones use FMA, compared within rounding).
    std::vector<float> expect = dst0;
    CHECK_EQ(ek::set_active_isa(ek::Isa::Scalar), std::string());
    CHECK_EQ(ek::set_thread_count(1), std::string());
    args.dst = expect.data() + at;
    s::scatter_add(ids.view(), rows, args, skip);
    const std::vector<double> slack = rounding_slack(dst0, at, args, idx, nullptr, n, skip);
    for_each_isa([&](ek::Isa isa) {
      std::vector<float> first;
      // Inputs this small (src in cache) split by rows; a limit of -1 makes the same calls
      // split by columns where rows are whole lines.
      for (int64_t row_split_limit : {int64_t{-1}, kDefaultRowSplitLimit})
      for (int threads : {1, 2, 3, 5, 8}) {
        SCOPED_CONTEXT("threads ", threads, " row split up to ", row_split_limit, " bytes of src");
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        std::vector<float> dst = dst0;
        args.dst = dst.data() + at;
        s::set_row_split_max_src_bytes(row_split_limit);
        s::scatter_add(ids.view(), rows, args, skip);
        s::set_row_split_max_src_bytes(kDefaultRowSplitLimit);
        bool outside_kept = true;
        for (int64_t e = 0; e < static_cast<int64_t>(dst.size()); ++e) {
          if (e < at || e >= at + rows * dim) outside_kept &= bits(dst[e]) == bits(dst0[e]);
        }
        CHECK_MSG(outside_kept, "wrote outside the table");
        if (first.empty()) {
          first = dst;
          for (size_t e = 0; e < dst.size(); ++e) {
            const bool ok = weighted ? std::fabs(static_cast<double>(dst[e]) - expect[e]) <= slack[e]
                                     : bits(dst[e]) == bits(expect[e]);
            if (!CHECK_MSG(ok, "element ", static_cast<int64_t>(e), " differs from the scalar oracle")) break;
          }
        } else {
          same_bits(dst, first, "thread count changes the bits");
        }
      }
    });
  }
  ek::set_thread_count(2);
}

// scatter_add_into_zeros (its size floor lifted) against a zero fill and scatter_add on the
// same ISA: bitwise equal, nothing outside dst written, for dims whose rows are whole cache
// lines (the streaming path on AVX2 / AVX-512 when dst is line-aligned) and others, dst
// aligned or shifted, with
// duplicates, a hub row, a skipped row, weights, bag rows and factors, on 1-3 threads. Which
// path ran is visible: handed a NaN-poisoned dst as `dst_is_zero`, the streaming path writes
// each touched row without reading it (finite sums) and leaves untouched rows alone (NaN);
// the fill-free fallback reads NaN into every touched row. The kernels' first-touch stores
// are also checked directly on every ISA, the scalar and NEON ones included, which
// scatter_add_into_zeros itself never streams through.
TEST(scatter_add_into_zeros_streams_first_touches_bitwise) {
  Rng rng(harness::test_seed());
  const float poison = from_bits(0x7fc0beefu);
  // Streamed at any size here (the default starts at 24 MiB of dst).
  const int64_t default_stream_min = s::set_stream_min_bytes(0);
  for (int64_t dim : {16, 32, 48, 128, 7, 129}) {
    for (int variant = 0; variant < 6; ++variant) {
      const bool weighted = variant % 2 == 1, factored = variant >= 4;
      const bool aligned = variant < 4 || rng.coin(0.5);
      const int64_t rows = rng.between(1, 300);
      const int64_t n = harness::quick() ? rng.between(1, 1500) : rng.between(1, 5000);
      std::vector<int64_t> idx(static_cast<size_t>(n));
      for (int64_t& v : idx) v = rng.coin(0.2) ? rows - 1 : rng.below(rows);  // a hub
      const Ids ids(random_type(rng), idx);
      const int64_t skip = rng.coin(0.5) ? rng.below(rows) : -1;
      const int64_t bags = rng.between(1, 40);
      std::vector<int64_t> bag_of(static_cast<size_t>(n));
      for (int64_t& b : bag_of) b = rng.below(bags);
      const std::vector<float> grad = random_floats(rng, bags * dim), w = random_floats(rng, n);
      const int64_t factor_rows = rng.between(1, 20);
      const std::vector<float> factor = random_floats(rng, factor_rows * dim);
      std::vector<int64_t> factor_row(static_cast<size_t>(n));
      for (int64_t& v : factor_row) v = rng.below(factor_rows);
      s::ScatterArgs a;
      a.dim = dim;
      a.src = grad.data();
      a.src_rows = bag_of.data();
      a.weights = weighted ? w.data() : nullptr;
      a.alpha = weighted ? 0.5f : 1.0f;
      if (factored) {
        a.factor = factor.data();
        a.factor_rows = factor_row.data();
      }
      // dst: line-aligned, or one float past a line, with kGuard floats on both sides.
      constexpr int64_t kGuard = 32;
      const int64_t span = rows * dim + 2 * kGuard;
      const int64_t shift = aligned ? 0 : 1;
      // v holds span + 16 floats.
      auto dst_of = [&](std::vector<float>& v) { return first_line(v.data() + kGuard) + shift; };
      std::vector<bool> touched(static_cast<size_t>(rows), false);
      for (int64_t v : idx) {
        if (v != skip) touched[static_cast<size_t>(v)] = true;
      }
      const bool may_stream = aligned && dim % 16 == 0;
      SCOPED_CONTEXT("dim=", dim, " rows=", rows, " n=", n, " skip=", skip, " weighted=", weighted,
                     " factored=", factored, " aligned=", aligned);
      for_each_isa([&](ek::Isa isa) {
        const bool streams = may_stream && s::kernels_for(isa).streams;
        // The same ISA's zero fill and scatter_add on one thread: what every run must equal.
        std::vector<float> expect(static_cast<size_t>(span + 16), 0.0f);
        a.dst = dst_of(expect);
        s::scatter_add(ids.view(), rows, a, skip);
        const float* want = a.dst;
        for (int threads : {1, 2, 3}) {
          SCOPED_CONTEXT("threads ", threads);
          CHECK_EQ(ek::set_thread_count(threads), std::string());
          std::vector<float> got(static_cast<size_t>(span + 16));
          for (float& x : got) x = rng.nonzero();
          const std::vector<float> before = got;
          a.dst = dst_of(got);
          const int64_t at = a.dst - got.data();
          s::scatter_add_into_zeros(ids.view(), rows, a, skip, false);
          for (int64_t e = 0; e < static_cast<int64_t>(got.size()); ++e) {
            const bool inside = e >= at && e < at + rows * dim;
            const bool ok = inside ? bits(got[e]) == bits(want[e - at]) : bits(got[e]) == bits(before[e]);
            if (!CHECK_MSG(ok, "element ", e - at, inside ? "" : " (outside dst)")) break;
          }
          // dst_is_zero over poison: which path ran.
          std::vector<float> poisoned(static_cast<size_t>(span + 16), poison);
          a.dst = dst_of(poisoned);
          s::scatter_add_into_zeros(ids.view(), rows, a, skip, true);
          for (int64_t r = 0; r < rows; ++r) {
            const float* row = a.dst + r * dim;
            bool ok = true;
            for (int64_t c = 0; c < dim; ++c) {
              ok &= !touched[static_cast<size_t>(r)] ? bits(row[c]) == bits(poison)
                    : streams ? bits(row[c]) == bits(want[r * dim + c])
                              : std::isnan(row[c]);
            }
            if (!CHECK_MSG(ok, "row ", r, touched[static_cast<size_t>(r)] ? " (touched)" : " (untouched)",
                           streams ? ": the streaming path" : ": the fallback")) break;
          }
        }
      });
    }
  }
  s::set_stream_min_bytes(default_stream_min);
  {
    // Under the floor (a 64 KiB dst) an aligned dst still takes the fill-free fallback.
    const int64_t rows = 256, dim = 64;
    std::vector<float> poisoned(static_cast<size_t>(rows * dim + 16), poison);
    float* dst = first_line(poisoned.data());
    const std::vector<int64_t> idx = {3, 200, 3};
    const Ids ids(ek::IndexType::Int32, idx);
    const std::vector<float> src = random_floats(rng, 3 * dim);
    s::ScatterArgs a;
    a.dim = dim;
    a.src = src.data();
    a.dst = dst;
    for_each_isa([&](ek::Isa) {
      s::scatter_add_into_zeros(ids.view(), rows, a, -1, true);
      CHECK_MSG(std::isnan(dst[3 * dim]) && std::isnan(dst[200 * dim]), "a small dst streamed");
    });
  }
  // The kernels directly, every ISA: positions flagged first are stored as 0 + contribution
  // over whatever dst held, the rest added, against the scalar kernel on a zeroed dst. Rows of
  // whole aligned lines (what streaming stores need) for the x86 paths; any dim where no ISA
  // streams.
  for (int64_t dim : {16, 64, 144, 5, 33}) {
    const int64_t rows = rng.between(1, 40), n = rng.between(1, 300);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t& v : idx) v = rng.below(rows);
    const Ids ids(random_type(rng), idx);
    std::vector<uint8_t> first(static_cast<size_t>(n));
    std::vector<bool> seen(static_cast<size_t>(rows), false);
    for (int64_t i = 0; i < n; ++i) {
      first[i] = !seen[static_cast<size_t>(idx[i])];
      seen[static_cast<size_t>(idx[i])] = true;
    }
    const std::vector<float> src = random_floats(rng, n * dim), w = random_floats(rng, n);
    const size_t size = static_cast<size_t>(rows * dim + 16);
    for (bool weighted : {false, true}) {
      s::ScatterArgs a;
      a.dim = dim;
      a.src = src.data();
      a.weights = weighted ? w.data() : nullptr;
      a.alpha = weighted ? 0.25f : 1.0f;
      for (ek::Isa isa : runnable_isas()) {
        const s::Kernels& k = s::kernels_for(isa);
        if (k.streams && dim % 16 != 0) continue;
        SCOPED_CONTEXT("direct kernel, isa ", ek::isa_name(isa), " dim=", dim, " weighted=", weighted);
        std::vector<float> want(size, 0.0f);
        a.dst = first_line(want.data());
        a.first_touch = nullptr;
        k.scatter_rows(a, ids.view(), nullptr, n, 0, dim);
        const float* expect = a.dst;
        std::vector<float> got(size, poison);
        a.dst = first_line(got.data());
        a.first_touch = first.data();
        k.scatter_rows(a, ids.view(), nullptr, n, 0, dim);
        bool ok = true;
        for (int64_t e = 0; e < rows * dim; ++e) {
          const float want = seen[static_cast<size_t>(e / dim)] ? expect[e] : poison;
          ok &= bits(a.dst[e]) == bits(want);
        }
        CHECK_MSG(ok, "first-touch stores differ from adding onto zeros");
        // zero_untouched_rows: exactly the rows no position names.
        std::vector<uint64_t> mask(static_cast<size_t>((rows + 63) / 64), 0);
        for (int64_t r = 0; r < rows; ++r) {
          if (seen[static_cast<size_t>(r)]) mask[r >> 6] |= uint64_t{1} << (r & 63);
        }
        std::vector<float> zeroed(size, poison);
        const int64_t at = first_line(zeroed.data()) - zeroed.data();
        k.zero_untouched_rows(zeroed.data() + at, dim, mask.data(), 0, rows);
        ok = true;
        for (size_t e = 0; e < zeroed.size(); ++e) {
          const int64_t off = static_cast<int64_t>(e) - at;
          const bool inside = off >= 0 && off < rows * dim;
          const bool zero = inside && !seen[static_cast<size_t>(off / dim)];
          ok &= zero ? bits(zeroed[e]) == 0u : bits(zeroed[e]) == bits(poison);
        }
        CHECK_MSG(ok, "zero_untouched_rows");
        ++g_checked[static_cast<int>(isa)];
      }
    }
  }
  ek::set_thread_count(2);
}

TEST(bag_backward_matches_reference_every_isa) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    for (g::PoolMode mode : {g::PoolMode::Sum, g::PoolMode::Mean, g::PoolMode::Max}) {
      const int64_t rows = rng.between(2, 40), bags = rng.between(1, 30);
      std::vector<int64_t> bounds{0};
      for (int64_t b = 0; b < bags; ++b) bounds.push_back(bounds.back() + rng.between(0, 7));
      const int64_t n = bounds.back();
      std::vector<int64_t> idx(static_cast<size_t>(n));
      for (int64_t& v : idx) v = rng.below(rows);
      const int64_t pad = rng.coin(0.5) ? rng.below(rows) : -1;
      const std::vector<float> w = random_floats(rng, n);
      const bool weighted = mode != g::PoolMode::Max && rng.coin(0.5);
      const std::vector<float> grad = random_floats(rng, bags * dim);
      const std::vector<float> table = random_floats(rng, rows * dim);
      const Ids ids(random_type(rng), idx);
      SCOPED_CONTEXT("dim=", dim, " mode=", static_cast<int>(mode), " pad=", pad, " weighted=", weighted);
      // The forward's argmax (max mode), from the scalar max-with-argmax kernel.
      std::vector<int32_t> argmax(static_cast<size_t>(bags * dim));
      g::BagArgs fa;
      fa.table = g::Table{table.data(), rows, dim};
      fa.indices = ids.view();
      fa.bags.bounds = ek::IndexArray{bounds.data(), bags + 1, ek::IndexType::Int64};
      fa.bags.num_bags = bags;
      fa.bags.num_indices = n;
      fa.mode = g::PoolMode::Max;
      fa.padding_idx = pad;
      std::vector<float> fwd(static_cast<size_t>(bags * dim));
      fa.out = fwd.data();
      g::embedding_bag_max_argmax(fa, argmax.data());
      for (int64_t b = 0; b < bags; ++b) {  // argmax: exact, from its definition
        for (int64_t c = 0; c < dim; ++c) {
          int64_t win = -1;
          for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) {
            if (idx[p] == pad) continue;
            if (win < 0 || table[idx[p] * dim + c] > table[win * dim + c]) win = idx[p];
          }
          CHECK_EQ(static_cast<int64_t>(argmax[b * dim + c]), win);
        }
      }
      std::vector<double> ref(static_cast<size_t>(rows * dim)), abs(ref);
      for (int64_t b = 0; b < bags; ++b) {
        int64_t count = 0;
        for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) count += idx[p] != pad;
        for (int64_t c = 0; c < dim; ++c) {
          if (mode == g::PoolMode::Max) {
            const int32_t r = argmax[b * dim + c];
            if (r >= 0) {
              ref[r * dim + c] += grad[b * dim + c];
              abs[r * dim + c] += std::fabs(grad[b * dim + c]);
            }
            continue;
          }
          for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) {
            if (idx[p] == pad) continue;
            const double sc = (weighted ? w[p] : 1.0) / (mode == g::PoolMode::Mean ? count : 1);
            ref[idx[p] * dim + c] += sc * grad[b * dim + c];
            abs[idx[p] * dim + c] += std::fabs(sc * grad[b * dim + c]);
          }
        }
      }
      s::BagBackwardArgs a;
      a.grad = grad.data();
      a.dim = dim;
      a.indices = ids.view();
      a.bags = fa.bags;
      a.mode = mode;
      a.weights = weighted ? w.data() : nullptr;
      a.padding_idx = pad;
      a.num_rows = rows;
      a.argmax = argmax.data();
      for_each_isa([&](ek::Isa) {
        std::vector<float> first, first_sparse;
        for (int threads : {1, 2, 3}) {
          CHECK_EQ(ek::set_thread_count(threads), std::string());
          s::BagBackward bw(a);
          std::vector<float> dense(static_cast<size_t>(rows * dim), from_bits(0x7fc0beefu));
          bw.run_dense(dense.data());
          // run_sparse adds into a fresh (zero) array, as the binding hands it one.
          std::vector<float> sparse(bw.rows().size() * dim, 0.0f);
          bw.run_sparse(sparse.data());
          // The sparse rows hold exactly the dense gradient's rows; all others are zero.
          std::vector<float> expanded(static_cast<size_t>(rows * dim), 0.0f);
          for (size_t u = 0; u < bw.rows().size(); ++u) {
            std::memcpy(&expanded[bw.rows()[u] * dim], &sparse[u * dim], dim * sizeof(float));
          }
          same_bits(expanded, dense, "sparse = dense");
          if (mode != g::PoolMode::Max) {
            // With a caller's plan of the same indices (padding row included): the same bits.
            s::Plan plan;
            s::build_plan(ids.view(), rows, -1, &plan);
            CHECK_EQ(s::find_plan_mismatch(plan, ids.view()), int64_t{-1});
            s::BagBackwardArgs pa = a;
            pa.plan = &plan;
            s::BagBackward planned(pa);
            std::vector<float> pdense(static_cast<size_t>(rows * dim), from_bits(0x7fc0beefu));
            planned.run_dense(pdense.data());
            same_bits(pdense, dense, "dense with a plan = without");
            CHECK(planned.rows() == bw.rows());
            std::vector<float> psparse(planned.rows().size() * dim, 0.0f);
            planned.run_sparse(psparse.data());
            same_bits(psparse, sparse, "sparse with a plan = without");
          }
          if (threads == 1) {
            close(dense, ref, abs, 1e-6, "backward");
            first = dense;
          } else {
            same_bits(dense, first, "thread count changes the bits");
          }
        }
      });
    }
  }
}

// ---- CSR -------------------------------------------------------------------------------

// The expected CSR of COO entries: a stable sort by (row, col), duplicates merged in input
// order when sum_duplicates (values null: each entry counts 1, and values appear only if a
// duplicate was merged).
struct WantCsr {
  std::vector<int64_t> row_ptr, col_idx;
  std::vector<float> values;
};
WantCsr want_csr(const std::vector<int64_t>& r, const std::vector<int64_t>& c, const float* vals,
                 int64_t nr, bool sum_duplicates) {
  const int64_t n = static_cast<int64_t>(r.size());
  std::vector<int64_t> by_entry(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) by_entry[i] = i;
  std::stable_sort(by_entry.begin(), by_entry.end(), [&](int64_t a, int64_t b) {
    return r[a] != r[b] ? r[a] < r[b] : c[a] < c[b];
  });
  WantCsr w;
  w.row_ptr.assign(static_cast<size_t>(nr) + 1, 0);
  bool merged = false;
  for (size_t k = 0; k < by_entry.size(); ++k) {
    const int64_t e = by_entry[k];
    const float v = vals != nullptr ? vals[e] : 1.0f;
    if (sum_duplicates && k > 0 && r[e] == r[by_entry[k - 1]] && c[e] == c[by_entry[k - 1]]) {
      w.values.back() += v;
      merged = true;
      continue;
    }
    w.col_idx.push_back(c[e]);
    w.values.push_back(v);
    ++w.row_ptr[r[e] + 1];
  }
  for (int64_t row = 0; row < nr; ++row) w.row_ptr[row + 1] += w.row_ptr[row];
  if (vals == nullptr && !merged) w.values.clear();
  return w;
}

// At sizes where the sorts, gathers and the merge run in parallel (>= 32,768 entries, up to
// 4 tasks per thread): csr_from_coo against want_csr on 1, 2 and 5 threads, for a hub row and
// column, for one (row, col) run spanning every slice of the merge, and for empty rows
// between and after the entries, with and without values and duplicate merging; and the
// transpose of the transpose against the matrix.
TEST(csr_from_coo_and_transpose_large) {
  Rng rng(harness::test_seed());
  const int64_t nr = 5003, nc = 70001, n = 200000;
  enum class Shape { Hubs, OneRun, Sparse };
  for (Shape shape : {Shape::Hubs, Shape::OneRun, Shape::Sparse}) {
    std::vector<int64_t> r(static_cast<size_t>(n)), c(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      switch (shape) {
        case Shape::Hubs:  // a hub row and a hub column: many duplicates at (7, 3)
          r[i] = rng.coin(0.2) ? 7 : rng.below(nr);
          c[i] = rng.coin(0.1) ? 3 : rng.below(nc);
          break;
        case Shape::OneRun:  // 90% at one (row, col): the run crosses every slice boundary
          r[i] = rng.coin(0.9) ? nr / 2 : rng.below(nr);
          c[i] = r[i] == nr / 2 && rng.coin(0.95) ? 11 : rng.below(nc);
          break;
        case Shape::Sparse:  // rows 100..199 and 4000..4009 only: empty rows around them
          r[i] = rng.coin(0.5) ? 100 + rng.below(100) : 4000 + rng.below(10);
          c[i] = rng.below(nc);
          break;
      }
    }
    const std::vector<float> vals = random_floats(rng, n);
    const Ids ri(random_type(rng), r), ci(random_type(rng), c);
    for (int variant = 0; variant < 3; ++variant) {
      const float* v = variant == 1 ? nullptr : vals.data();
      const bool sum_duplicates = variant != 2;
      const WantCsr want = want_csr(r, c, v, nr, sum_duplicates);
      for (int threads : {1, 2, 5}) {
        SCOPED_CONTEXT("shape=", static_cast<int>(shape), " variant=", variant, " threads=", threads);
        ek::set_thread_count(threads);
        s::Csr m;
        s::csr_from_coo(ri.view(), ci.view(), v, nr, nc, sum_duplicates, &m);
        CHECK(std::vector<int64_t>(m.row_ptr.begin(), m.row_ptr.end()) == want.row_ptr);
        CHECK(std::vector<int64_t>(m.col_idx.begin(), m.col_idx.end()) == want.col_idx);
        CHECK(m.has_values == !want.values.empty());
        CHECK(std::vector<float>(m.values.begin(), m.values.end()) == want.values);
        if (variant != 0) continue;
        const int64_t nnz = static_cast<int64_t>(m.col_idx.size());
        s::CsrView mv{ek::IndexArray{m.row_ptr.data(), nr + 1, ek::IndexType::Int64},
                      ek::IndexArray{m.col_idx.data(), nnz, ek::IndexType::Int64}, m.values.data(), nr, nc};
        s::Csr t, tt;
        s::csr_transpose(mv, &t);
        s::CsrView tv{ek::IndexArray{t.row_ptr.data(), nc + 1, ek::IndexType::Int64},
                      ek::IndexArray{t.col_idx.data(), nnz, ek::IndexType::Int64}, t.values.data(), nc, nr};
        CHECK(s::validate_csr(tv).error == s::CsrError::None);
        s::csr_transpose(tv, &tt);
        CHECK(tt.row_ptr == m.row_ptr);
        CHECK(tt.col_idx == m.col_idx);
        CHECK(tt.values == m.values);
      }
    }
  }
  ek::set_thread_count(2);
}

// The large-array cache: a freed block of 2 MiB or more is handed back to the next request
// that fits it, already mapped; the cache never holds more than its cap.
TEST(large_array_blocks_are_reused_and_capped) {
  const size_t before = ek::large_array_cached_bytes();
  CHECK(before <= ek::kLargeArrayCacheBytes);
  const void* first = nullptr;
  {
    ek::LargeArray<int64_t> a(size_t{3} << 17);  // 3 MiB
    first = a.data();
    CHECK_EQ(reinterpret_cast<uintptr_t>(first) % ek::kLargeArrayMinBytes, uintptr_t{0});
    a[0] = 1;
    a.back() = 2;
  }
  {
    ek::LargeArray<int64_t> b(size_t{3} << 17);
    CHECK(b.data() == first);
  }
  // More than the cap, held at once, then freed: the cache keeps at most the cap.
  {
    std::vector<ek::LargeArray<uint8_t>> many;
    for (size_t held = 0; held <= 2 * ek::kLargeArrayCacheBytes; held += size_t{8} << 20) {
      many.emplace_back(size_t{8} << 20);
    }
  }
  CHECK(ek::large_array_cached_bytes() <= ek::kLargeArrayCacheBytes);
  // Small arrays are plain heap memory, value-initialized when asked.
  ek::LargeArray<int32_t> small(100, -1);
  CHECK(std::all_of(small.begin(), small.end(), [](int32_t x) { return x == -1; }));
}

// prefault_zeroed maps in every page of a fresh mapping from two or more threads, leaving
// it all zeros, and touches nothing on one thread or below kPrefaultMinBytes (mincore tells
// which pages are mapped: the proof that the path ran). Ranges that start off a page
// boundary and end mid-page too.
TEST(prefault_zeroed_maps_fresh_pages_from_two_threads) {
#if defined(__linux__)
  const size_t page = 4096;
  for (size_t bytes : {ek::kPrefaultMinBytes + 12345, ek::kPrefaultMinBytes - page}) {
    for (size_t offset : {size_t{0}, size_t{100}}) {
      for (int threads : {1, 2, 3}) {
        SCOPED_CONTEXT("bytes=", static_cast<int64_t>(bytes), " offset=", static_cast<int64_t>(offset),
                       " threads=", threads);
        const size_t mapped = bytes + offset + 2 * page;
        void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (!CHECK(base != MAP_FAILED)) continue;
        char* data = static_cast<char*>(base) + offset;
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        ek::prefault_zeroed(data, bytes);
        // Pages wholly inside [data, data + bytes), as mincore counts them from base.
        const size_t first = (offset + page - 1) / page, last = (offset + bytes) / page;
        std::vector<unsigned char> resident(mapped / page + 1);
        CHECK_EQ(mincore(base, mapped, resident.data()), 0);
        size_t mapped_in = 0;
        for (size_t k = first; k < last; ++k) mapped_in += resident[k] & 1;
        const bool expected = threads >= 2 && bytes >= ek::kPrefaultMinBytes;
        CHECK_MSG(mapped_in == (expected ? last - first : 0), mapped_in, " of ", last - first, " pages mapped");
        CHECK(std::all_of(data, data + bytes, [](char c) { return c == 0; }));
        munmap(base, mapped);
      }
    }
  }
  ek::set_thread_count(2);
#endif
}

TEST(csr_from_coo_transpose_and_spmm_every_isa) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    const int64_t nr = rng.between(1, 40), nc = rng.between(1, 40);
    const int64_t n = rng.between(0, 300);
    std::vector<int64_t> r(static_cast<size_t>(n)), c(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      r[i] = rng.coin(0.3) ? 0 : rng.below(nr);  // row 0 is a hub
      c[i] = rng.below(nc);
    }
    const std::vector<float> vals = random_floats(rng, n);
    const Ids ri(random_type(rng), r), ci(random_type(rng), c);
    s::Csr m;
    s::csr_from_coo(ri.view(), ci.view(), vals.data(), nr, nc, true, &m);
    // Dense from the COO input, with each cell's count of duplicates and their magnitudes:
    // summing m floats in order errs by at most (m - 1) x 2^-24 x the sum of magnitudes,
    // checked as m x 6e-8 x it (an absolute 1e-5 failed on a hub cell of duplicates, seed
    // 30674589985024).
    std::vector<double> dense(static_cast<size_t>(nr * nc)), magnitude(dense.size()), count(dense.size());
    for (int64_t i = 0; i < n; ++i) {
      dense[r[i] * nc + c[i]] += vals[i];
      magnitude[r[i] * nc + c[i]] += std::fabs(vals[i]);
      count[r[i] * nc + c[i]] += 1;
    }
    s::CsrView v{ek::IndexArray{m.row_ptr.data(), nr + 1, ek::IndexType::Int64},
                 ek::IndexArray{m.col_idx.data(), static_cast<int64_t>(m.col_idx.size()), ek::IndexType::Int64},
                 m.values.data(), nr, nc};
    CHECK(s::validate_csr(v).error == s::CsrError::None);
    for (int64_t row = 0; row < nr; ++row) {
      for (int64_t k = m.row_ptr[row]; k < m.row_ptr[row + 1]; ++k) {
        if (k > m.row_ptr[row]) CHECK(m.col_idx[k] > m.col_idx[k - 1]);
        const int64_t cell = row * nc + m.col_idx[k];
        CHECK(count[cell] >= 1);
        CHECK(std::fabs(m.values[k] - dense[cell]) <= count[cell] * 6e-8 * magnitude[cell]);
      }
    }
    s::Csr t;
    s::csr_transpose(v, &t);
    s::CsrView tv{ek::IndexArray{t.row_ptr.data(), nc + 1, ek::IndexType::Int64},
                  ek::IndexArray{t.col_idx.data(), static_cast<int64_t>(t.col_idx.size()), ek::IndexType::Int64},
                  t.values.data(), nc, nr};
    CHECK(s::validate_csr(tv).error == s::CsrError::None);
    for (bool transpose : {false, true}) {
      const s::CsrView& a = transpose ? tv : v;
      const std::vector<float> b = random_floats(rng, a.num_cols * dim);
      for (g::PoolMode mode : {g::PoolMode::Sum, g::PoolMode::Mean, g::PoolMode::Max}) {
        SCOPED_CONTEXT("dim=", dim, " transpose=", transpose, " mode=", static_cast<int>(mode));
        std::vector<double> ref(static_cast<size_t>(a.num_rows * dim)), abs(ref);
        for (int64_t row = 0; row < a.num_rows; ++row) {
          const int64_t k0 = a.row_ptr.at(row), k1 = a.row_ptr.at(row + 1);
          for (int64_t col = 0; col < dim; ++col) {
            double acc = 0, mag = 0;
            for (int64_t k = k0; k < k1; ++k) {
              const double term = static_cast<float>(a.values[k] * b[a.col_idx.at(k) * dim + col]);
              acc = mode == g::PoolMode::Max ? (k == k0 || term > acc ? term : acc) : acc + term;
              mag += std::fabs(term);
            }
            if (mode == g::PoolMode::Mean && k1 > k0) {
              acc /= static_cast<double>(k1 - k0);
              mag /= static_cast<double>(k1 - k0);
            }
            ref[row * dim + col] = acc;
            abs[row * dim + col] = mode == g::PoolMode::Max ? std::fabs(acc) : mag;
          }
        }
        for_each_isa([&](ek::Isa) {
          std::vector<float> first;
          for (int threads : {1, 2, 3}) {
            CHECK_EQ(ek::set_thread_count(threads), std::string());
            std::vector<float> out(static_cast<size_t>(a.num_rows * dim), from_bits(0x7fc0beefu));
            s::spmm(a, b.data(), dim, mode, out.data());
            if (threads > 1) {
              same_bits(out, first, "thread count changes the bits");
              continue;
            }
            first = out;
            if (mode == g::PoolMode::Max) {
              bool exact = true;
              for (size_t e = 0; e < out.size() && exact; ++e) exact = static_cast<double>(out[e]) == ref[e];
              CHECK_MSG(exact, "max exact");
            } else {
              close(out, ref, abs, 1e-6, "spmm");
            }
          }
        });
      }
    }
  }
}

// With a factor (a QR bag's 'mul' gradient) each source row is first multiplied by its
// factor row.
TEST(scatter_rows_kernel_matches_reference_on_position_lists) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool weighted = variant % 2 == 1, factored = variant >= 2;
      const int64_t rows = rng.between(1, 40), n = rng.between(0, 200);
      std::vector<int64_t> idx(static_cast<size_t>(n));
      for (int64_t& v : idx) v = rng.below(rows);
      const Ids ids(random_type(rng), idx);
      const std::vector<float> src = random_floats(rng, n * dim), w = random_floats(rng, n);
      const std::vector<float> dst0 = random_floats(rng, rows * dim);
      s::ScatterArgs a;
      a.dim = dim;
      a.src = src.data();
      a.weights = weighted ? w.data() : nullptr;
      a.alpha = weighted ? 0.75f : 1.0f;
      const int64_t factor_rows = rng.between(1, 30);
      const std::vector<float> factor = random_floats(rng, factor_rows * dim);
      std::vector<int64_t> factor_row(static_cast<size_t>(n));
      for (int64_t& v : factor_row) v = rng.below(factor_rows);
      if (factored) {
        a.factor = factor.data();
        a.factor_rows = factor_row.data();
      }
      // An ascending subset of the positions, as a task's bucket.
      std::vector<int64_t> positions;
      for (int64_t i = 0; i < n; ++i) {
        if (rng.coin(0.6)) positions.push_back(i);
      }
      const int64_t count = static_cast<int64_t>(positions.size());
      SCOPED_CONTEXT("dim=", dim, " weighted=", weighted, " factored=", factored, " n=", n, " count=", count);
      // All columns, and a random column range (a task's share under the column split).
      const int64_t c0 = rng.below(dim), c1 = rng.between(c0 + 1, dim);
      for (int cut = 0; cut < 4; ++cut) {
        const bool all = cut % 2 == 0, whole = cut < 2;
        const int64_t* pos = all ? nullptr : positions.data();
        const int64_t m = all ? n : count;
        const int64_t lo = whole ? 0 : c0, hi = whole ? dim : c1;
        std::vector<float> ref = dst0;
        a.dst = ref.data();
        s::reference_kernels().scatter_rows(a, ids.view(), pos, m, lo, hi);
        const std::vector<double> slack = rounding_slack(dst0, 0, a, idx, pos, m);
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa), all ? " all positions" : " a subset", " columns ", lo, "..", hi);
          std::vector<float> out = dst0;
          a.dst = out.data();
          s::kernels_for(isa).scatter_rows(a, ids.view(), pos, m, lo, hi);
          // Unweighted: plain adds, bitwise equal; weighted or factored: FMA vs mul + add (the
          // compiler fuses a factor's multiply into the add). Columns outside [lo, hi) must
          // keep their bits.
          for (size_t e = 0; e < out.size(); ++e) {
            const int64_t col = static_cast<int64_t>(e) % dim;
            const bool inside = col >= lo && col < hi;
            const bool ok = !inside ? bits(out[e]) == bits(dst0[e])
                            : weighted || factored ? std::fabs(static_cast<double>(out[e]) - ref[e]) <= slack[e]
                                       : bits(out[e]) == bits(ref[e]);
            if (!CHECK_MSG(ok, "element ", static_cast<int64_t>(e))) break;
          }
          ++g_checked[static_cast<int>(isa)];
        }
      }
    }
  }
  // No positions with an empty source (a null pointer) and a column range past 0: nothing is
  // read or written, and no null pointer is offset (UBSan caught the kernel doing so once).
  for (ek::Isa isa : runnable_isas()) {
    std::vector<float> dst = {1.0f, 2.0f, 3.0f};
    const std::vector<int64_t> none;
    const Ids ids(ek::IndexType::Int32, none);
    s::ScatterArgs a;
    a.dim = 3;
    a.dst = dst.data();
    a.src = nullptr;
    for (float alpha : {1.0f, 0.5f}) {
      a.alpha = alpha;
      s::kernels_for(isa).scatter_rows(a, ids.view(), nullptr, 0, 2, 3);
      s::reference_kernels().scatter_rows(a, ids.view(), nullptr, 0, 2, 3);
    }
    CHECK_MSG(dst == std::vector<float>({1.0f, 2.0f, 3.0f}), "isa ", ek::isa_name(isa), " empty source");
  }
}

// id_rows against a plain loop: each kept position's row(s) and weight, padding ids dropped,
// bag starts moved to match (empty bags at either end included), on 1, 2 and 3 threads with
// enough ids for several tasks; hashed ids (one row) and quotient-remainder ids (two rows),
// with the 64-bit rows of tables past INT32_MAX rows and where asked for; padding kept as
// sentinel rows where asked for.
TEST(id_rows_compacts_padding_on_any_thread_count) {
  Rng rng(harness::test_seed());
  for (int round = 0; round < 12; ++round) {
    const bool qr = round >= 6, padded = round % 2 == 1, weighted = round % 3 != 0;
    const bool big = round % 6 == 5, asked_wide = round == 10, keep = padded && round % 4 == 3;
    s::IdRowsArgs a;
    a.map = qr ? s::IdMap::QuotientRemainder : s::IdMap::Hashed;
    a.seed = rng.below(1 << 30);
    // QR: a big remainder table (m past INT32_MAX) or a small pair; ids below q x m.
    a.table_rows = big && !qr ? (int64_t{1} << 33) + 7 : rng.between(1, 5000);
    a.remainder_rows = big ? (int64_t{1} << 31) + 3 : rng.between(1, 5000);
    a.wide = asked_wide;
    a.keep_padding = keep;
    const int64_t id_limit = qr ? a.table_rows * a.remainder_rows : int64_t{1} << 62;
    std::vector<int64_t> bounds{0, 0};  // an empty first bag
    const int64_t target = round % 6 < 2 ? rng.between(0, 50) : rng.between(100000, 140000);
    while (bounds.back() < target) bounds.push_back(bounds.back() + (rng.coin(0.1) ? 0 : rng.between(1, 40)));
    bounds.push_back(bounds.back());  // an empty last bag
    const int64_t n = bounds.back(), bags = static_cast<int64_t>(bounds.size());
    const int64_t pad = padded ? rng.below(id_limit) : -1;
    std::vector<int64_t> values(static_cast<size_t>(n));
    for (int64_t& v : values) v = padded && rng.coin(0.3) ? pad : rng.below(id_limit);
    const std::vector<float> w = random_floats(rng, n);
    a.ids = ek::IndexArray{values.data(), n, ek::IndexType::Int64};
    // bounds holds each bag's start only: bag b ends at the next start, the last at n.
    a.bags.bounds = ek::IndexArray{bounds.data(), bags, ek::IndexType::Int64};
    a.bags.num_bags = bags;
    a.bags.num_indices = n;
    a.padding_id = pad;
    a.weights = weighted ? w.data() : nullptr;
    std::vector<int64_t> want_rows[2], want_starts;
    std::vector<float> want_weights;
    for (int64_t b = 0; b < bags; ++b) {
      want_starts.push_back(static_cast<int64_t>(want_rows[0].size()));
      for (int64_t p = a.bags.start(b); p < a.bags.end(b); ++p) {
        if (values[p] == pad && !keep) continue;
        if (values[p] == pad) {  // kept as the sentinel rows past each table
          want_rows[0].push_back(a.table_rows);
          if (qr) want_rows[1].push_back(a.remainder_rows);
        } else if (qr) {
          want_rows[0].push_back(values[p] / a.remainder_rows);
          want_rows[1].push_back(values[p] % a.remainder_rows);
        } else {
          want_rows[0].push_back(g::hashed_row(static_cast<uint64_t>(values[p]), a.seed, a.table_rows));
        }
        want_weights.push_back(w[p]);
      }
    }
    want_starts.push_back(static_cast<int64_t>(want_rows[0].size()));
    SCOPED_CONTEXT("round ", round, " n=", n, " bags=", bags, " pad=", pad, " keep=", keep, " rows=", a.table_rows, " m=", a.remainder_rows);
    for (int threads : {1, 2, 3}) {
      ek::set_thread_count(threads);
      s::IdRows out;
      s::id_rows(a, &out);
      CHECK_EQ(out.wide, big || asked_wide);
      const g::Bags kept = out.bags();
      CHECK_EQ(kept.num_bags, bags);
      for (int part = 0; part < (qr ? 2 : 1); ++part) {
        const ek::IndexArray rows = out.rows(part);
        CHECK_EQ(rows.length, static_cast<int64_t>(want_rows[part].size()));
        CHECK_EQ(kept.num_indices, rows.length);
        bool same = rows.length == static_cast<int64_t>(want_rows[part].size());
        for (int64_t i = 0; same && i < rows.length; ++i) same = rows.at(i) == want_rows[part][i];
        CHECK_MSG(same, threads, " threads: rows of part ", part);
      }
      if (!qr) CHECK_EQ(out.rows(1).length, 0);
      bool starts = true;
      for (int64_t b = 0; b < bags; ++b) starts = starts && kept.start(b) == want_starts[b];
      CHECK_MSG(starts && kept.end(bags - 1) == want_starts.back(), threads, " threads: bag starts");
      if (weighted) CHECK_MSG(std::vector<float>(out.weights.begin(), out.weights.end()) == want_weights, threads, " threads: weights");
    }
  }
  ek::set_thread_count(2);
}

TEST(max_backward_columns_matches_reference_bitwise) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    const int64_t rows = rng.between(1, 20), bags = rng.between(1, 30);
    // Per bag: one winner for every column (a one-row bag), -1 throughout (empty), or mixed
    // with runs, so both the vector and the lane-by-lane paths run.
    std::vector<int32_t> argmax(static_cast<size_t>(bags * dim));
    for (int64_t b = 0; b < bags; ++b) {
      const int kind = static_cast<int>(rng.below(3));
      int32_t current = static_cast<int32_t>(rng.below(rows));
      for (int64_t c = 0; c < dim; ++c) {
        if (kind == 2 && rng.coin(0.2)) current = rng.coin(0.2) ? -1 : static_cast<int32_t>(rng.below(rows));
        argmax[b * dim + c] = kind == 1 ? -1 : current;
      }
    }
    const std::vector<float> grad = random_floats(rng, bags * dim);
    const std::vector<float> start = random_floats(rng, rows * dim);
    s::MaxBackwardArgs a;
    a.grad = grad.data();
    a.argmax = argmax.data();
    a.num_bags = bags;
    a.dim = dim;
    const int64_t c0 = rng.below(dim), c1 = rng.between(c0 + 1, dim);
    SCOPED_CONTEXT("dim=", dim, " bags=", bags, " columns ", c0, "..", c1);
    std::vector<float> ref = start;
    a.out = ref.data();
    s::reference_kernels().max_backward_columns(a, c0, c1);
    for (ek::Isa isa : runnable_isas()) {
      SCOPED_CONTEXT("isa ", ek::isa_name(isa));
      std::vector<float> out = start;
      a.out = out.data();
      s::kernels_for(isa).max_backward_columns(a, c0, c1);
      same_bits(out, ref, "max_backward_columns vs the scalar reference");
      ++g_checked[static_cast<int>(isa)];
    }
  }
}

// bag_weights_grad on every ISA and 1 / 3 threads against a float64 dot product per position:
// random bags (empty ones, one long bag that several tasks share), every index type, Sum and
// Mean, with and without a padding row; the bits equal across thread counts.
// Variants 4-7 add a QR bag's extras: the gradient row of bag b is row 2b + 1 of a wider
// gradient, each dot product takes a factor row (g . (t x f)), and it is added into out.
TEST(weights_grad_matches_reference_every_isa_and_thread_count) {
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    for (int variant = 0; variant < 8; ++variant) {
      const bool mean = variant & 1, padded = variant & 2, extras = variant & 4;
      const int64_t step = extras ? 2 : 1, offset = extras ? 1 : 0;
      const int64_t rows = rng.between(1, 30);
      std::vector<int64_t> bounds{0};
      const int64_t bags = rng.between(1, 12);
      const int64_t long_bag = rng.below(bags);
      for (int64_t b = 0; b < bags; ++b) {
        const int64_t len = b == long_bag ? rng.between(2000, 5000) : rng.coin(0.2) ? 0 : rng.between(1, 9);
        bounds.push_back(bounds.back() + len);
      }
      const int64_t n = bounds.back();
      const int64_t pad = padded ? rng.below(rows) : -1;
      std::vector<int64_t> values(static_cast<size_t>(n));
      for (int64_t& v : values) v = padded && rng.coin(0.25) ? pad : rng.below(rows);
      const Ids ids(random_type(rng), values);
      const std::vector<float> grad = random_floats(rng, bags * step * dim);
      const std::vector<float> table = random_floats(rng, rows * dim);
      const int64_t factor_rows = rng.between(1, 20);
      const std::vector<float> factor = random_floats(rng, factor_rows * dim);
      std::vector<int64_t> factor_row(static_cast<size_t>(n));
      for (int64_t& v : factor_row) v = rng.below(factor_rows);
      const std::vector<float> start = random_floats(rng, n);  // what out holds when accumulating
      s::WeightsGradArgs a;
      a.grad = grad.data();
      a.table = table.data();
      a.dim = dim;
      a.indices = ids.view();
      if (extras) {
        a.grad_rows_per_bag = step;
        a.grad_row_offset = offset;
        a.factor = factor.data();
        a.factor_rows = factor_row.data();
        a.accumulate = true;
      }
      a.bags.bounds = ek::IndexArray{bounds.data(), static_cast<int64_t>(bounds.size()), ek::IndexType::Int64};
      a.bags.num_bags = bags;
      a.bags.num_indices = n;
      a.mean = mean;
      a.padding_idx = pad;
      std::vector<double> ref(static_cast<size_t>(n)), abs(static_cast<size_t>(n));
      for (int64_t b = 0; b < bags; ++b) {
        int64_t count = 0;
        for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) count += values[p] != pad;
        for (int64_t p = bounds[b]; p < bounds[b + 1]; ++p) {
          if (values[p] == pad) continue;
          for (int64_t c = 0; c < dim; ++c) {
            const double f = extras ? static_cast<double>(factor[factor_row[p] * dim + c]) : 1.0;
            const double term = static_cast<double>(grad[(b * step + offset) * dim + c]) * table[values[p] * dim + c] * f;
            ref[p] += term;
            abs[p] += std::fabs(term);
          }
          if (mean) ref[p] /= static_cast<double>(count), abs[p] /= static_cast<double>(count);
        }
      }
      if (extras) {
        for (int64_t p = 0; p < n; ++p) ref[p] += start[p], abs[p] += std::fabs(start[p]);
      }
      SCOPED_CONTEXT("dim=", dim, " mean=", mean, " pad=", pad, " extras=", extras, " n=", n);
      for_each_isa([&](ek::Isa) {
        std::vector<float> runs[2];
        for (int t = 0; t < 2; ++t) {
          ek::set_thread_count(t == 0 ? 1 : 3);
          if (extras) {
            runs[t] = start;
          } else {
            runs[t].assign(static_cast<size_t>(n), std::nanf(""));
          }
          a.out = runs[t].data();
          s::bag_weights_grad(a);
        }
        close(runs[0], ref, abs, 1e-6, "bag_weights_grad vs float64");
        same_bits(runs[1], runs[0], "bag_weights_grad on 3 threads vs 1");
        for (int64_t p = 0; p < n; ++p) {
          // Padding positions get 0, or keep what they held when accumulating.
          const float want = extras ? start[p] : 0.0f;
          if (values[p] == pad) CHECK_MSG(bits(runs[0][p]) == bits(want), "padding position ", p, " is ", runs[0][p]);
        }
      });
    }
  }
}

// Both regimes of index_winners (a bitmap of a small row range; a sort when the rows are many
// next to the entries) against a std::map of the winners, over 1 and 3 threads (the bitmap
// is marked by several tasks at once) and every ISA (the x86 SIMD paths count bits with
// POPCNT, scalar with the compiler's popcount).
TEST(index_winners_both_regimes_match_a_map) {
  Rng rng(harness::test_seed());
  for (int64_t num_rows : {int64_t{1}, int64_t{70}, int64_t{5000}, int64_t{1} << 30}) {
    for (int64_t entries : {int64_t{0}, int64_t{1}, int64_t{300}, int64_t{100000}}) {
      const int64_t hit_range = std::min<int64_t>(num_rows, 3000);
      std::vector<int32_t> argmax(static_cast<size_t>(entries));
      for (int32_t& w : argmax) {
        // Rows from the top of the range too, so the last bitmap word is exercised.
        const int64_t r = rng.coin(0.5) ? rng.below(hit_range) : num_rows - 1 - rng.below(hit_range);
        w = rng.coin(0.1) ? -1 : static_cast<int32_t>(r);
      }
      std::map<int64_t, int32_t> slot;
      for (int32_t w : argmax) {
        if (w >= 0) slot[w] = 0;
      }
      std::vector<int64_t> rows;
      for (auto& [row, u] : slot) {
        u = static_cast<int32_t>(rows.size());
        rows.push_back(row);
      }
      for_each_isa([&](ek::Isa) {
        for (int threads : {1, 3}) {
          SCOPED_CONTEXT("num_rows=", num_rows, " entries=", entries, " threads=", threads);
          CHECK_EQ(ek::set_thread_count(threads), std::string());
          s::Winners got;
          s::index_winners(argmax.data(), entries, num_rows, &got);
          CHECK_MSG(std::vector<int64_t>(got.rows.begin(), got.rows.end()) == rows, "distinct rows: ", got.rows.size(),
                    " vs ", rows.size());
          CHECK_MSG(got.slots.size() == argmax.size(), "slots length ", got.slots.size());
          for (size_t k = 0; k < argmax.size() && k < got.slots.size(); ++k) {
            const int32_t want = argmax[k] < 0 ? -1 : slot[argmax[k]];
            if (got.slots[k] != want) {
              CHECK_MSG(false, "slot of entry ", k, ": ", got.slots[k], " vs ", want);
              break;
            }
          }
        }
      });
    }
  }
}

// Past 16 MiB of per-task bitmaps the marking pass shares one bitmap with atomic ORs: 1 M
// entries over 60 M rows on 3 threads (12 tasks x 7.5 MB) takes that path; the result must
// not depend on which.
TEST(index_winners_shared_bitmap_for_big_tables) {
  Rng rng(harness::test_seed());
  const int64_t num_rows = 60000000, entries = 1000000;
  std::vector<int32_t> argmax(static_cast<size_t>(entries));
  for (int32_t& w : argmax) w = rng.coin(0.05) ? -1 : static_cast<int32_t>(rng.below(num_rows));
  std::vector<int64_t> rows;
  for (int32_t w : argmax) {
    if (w >= 0) rows.push_back(w);
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  for (int threads : {1, 3}) {
    SCOPED_CONTEXT("threads=", threads);
    CHECK_EQ(ek::set_thread_count(threads), std::string());
    s::Winners got;
    s::index_winners(argmax.data(), entries, num_rows, &got);
    CHECK_MSG(std::vector<int64_t>(got.rows.begin(), got.rows.end()) == rows, "distinct rows: ", got.rows.size(),
              " vs ", rows.size());
    for (int64_t k = 0; k < entries && k < static_cast<int64_t>(got.slots.size()); ++k) {
      const int32_t want = argmax[k] < 0 ? -1
                                         : static_cast<int32_t>(std::lower_bound(rows.begin(), rows.end(), argmax[k]) -
                                                                rows.begin());
      if (!CHECK_MSG(got.slots[k] == want, "slot of entry ", k, ": ", got.slots[k], " vs ", want)) break;
    }
  }
  ek::set_thread_count(2);
}

TEST(validate_csr_errors) {
  std::vector<int64_t> ptr{0, 2, 2, 3}, col{0, 3, 1};
  auto view = [&]() {
    return s::CsrView{ek::IndexArray{ptr.data(), static_cast<int64_t>(ptr.size()), ek::IndexType::Int64},
                      ek::IndexArray{col.data(), static_cast<int64_t>(col.size()), ek::IndexType::Int64},
                      nullptr, 3, 4};
  };
  auto expect = [&](s::CsrError e, int64_t pos, const char* what) {
    const s::CsrCheck got = s::validate_csr(view());
    CHECK_MSG(got.error == e && got.position == pos, what, ": error ", static_cast<int>(got.error),
              " at ", got.position);
  };
  expect(s::CsrError::None, -1, "valid");
  ptr = {0, 2, 1, 3};
  expect(s::CsrError::Decreasing, 2, "decreasing");
  ptr = {1, 2, 2, 3};
  expect(s::CsrError::FirstNotZero, 0, "first");
  ptr = {0, 1, 1, 2};
  expect(s::CsrError::LastNotNnz, 3, "last");
  ptr = {0, 4, 4, 3};
  expect(s::CsrError::PastEnd, 1, "past end");
  ptr = {0, 2, 3};
  expect(s::CsrError::RowPtrLength, 3, "length");
  ptr = {0, 2, 2, 3};
  col = {0, 4, 1};
  expect(s::CsrError::ColOutOfRange, 1, "column");
}

TEST(scatter_isa_coverage_summary) {
  for (ek::Isa isa : kAllIsas) {
    const int64_t n = g_checked[static_cast<int>(isa)];
    if (!ek::isa_available(isa)) {
      std::printf("  scatter: skipped %s: not available on this CPU\n", ek::isa_name(isa));
    } else {
      std::printf("  scatter: tested %s: %lld checks\n", ek::isa_name(isa), static_cast<long long>(n));
    }
  }
}

}  // namespace
