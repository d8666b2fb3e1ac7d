// The codebook family's ISA kernels on every ISA this CPU runs, against the scalar reference
// and float64 definitions; the scalar O(K) VQ operations against explicit V-sized float64
// computations; thread invariance.
//
// Bounds (asserted where said):
//   vq_expand:                          bitwise equal to the definition (a copy).
//   score_rows (assign, pq_encode):     the chosen code's float64 score within 1e-5 x scale of
//                                       the float64 best (float32 may order near-ties
//                                       differently); exact duplicates: the lowest index.
//                                       Where every score is exact (small integers), with
//                                       NaN and infinities: the scalar scan's code and score,
//                                       bitwise.
//   log-partition, cross-entropy:       1e-6 relative to the V-sized float64 value.
//   top-k:                              ids equal to sorting the expanded row.
//   pq_scan:                            the k-th distance equal to the float64 brute force
//                                       within 1e-4; ids ascend within equal distances.
//   pq distance tables:                 bitwise equal to the scalar definition (float64
//                                       sums, coordinate order) on every ISA.
//   any thread count:                   bitwise identical.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "codebook/codebook.h"
#include "codebook/panels.h"
#include "common/isa.h"
#include "common/parallel.h"
#include "harness.h"

namespace {

namespace ek = embedkit;
namespace cb = embedkit::codebook;
using harness::Rng;

int64_t g_checked[ek::kNumIsas];

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

std::vector<float> random_floats(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.nonzero();
  return v;
}

// A map and the arrays behind it.
struct Map {
  std::vector<int32_t> t2c, counts, offsets, tokens;
  std::vector<double> logs;
  cb::VqMap view;
  Map(Rng& rng, int64_t v, int64_t k) : t2c(static_cast<size_t>(v)), counts(static_cast<size_t>(k)),
      offsets(static_cast<size_t>(k + 1)), tokens(static_cast<size_t>(v)), logs(static_cast<size_t>(k)) {
    const int64_t used = std::max<int64_t>(1, k - rng.below(3));  // the last codes may be empty
    for (auto& c : t2c) c = static_cast<int32_t>(rng.below(used));
    cb::build_vq_map(t2c.data(), v, k, counts.data(), logs.data(), offsets.data(), tokens.data());
    view = cb::VqMap{v, k, t2c.data(), counts.data(), logs.data(), offsets.data(), tokens.data()};
  }
};

double ref_log_z(const float* row, const Map& m) {
  double top = -INFINITY;
  for (int32_t c : m.t2c) top = std::max(top, static_cast<double>(row[c]));
  double s = 0;
  for (int32_t c : m.t2c) s += std::exp(row[c] - top);
  return top + std::log(s);
}

TEST(vq_map_inverse_lists) {
  Rng rng(harness::test_seed());
  for (int64_t v : {1, 7, 129, 5000}) {
    const int64_t k = rng.between(1, 70);
    Map m(rng, v, k);
    CHECK_EQ(m.offsets[0], 0);
    CHECK_EQ(m.offsets[static_cast<size_t>(k)], v);
    for (int64_t j = 0; j < k; ++j) {
      CHECK_EQ(m.offsets[j + 1] - m.offsets[j], m.counts[j]);
      for (int64_t p = m.offsets[j]; p < m.offsets[j + 1]; ++p) {
        CHECK_EQ(m.t2c[m.tokens[p]], j);
        if (p > m.offsets[j]) CHECK(m.tokens[p] > m.tokens[p - 1]);
      }
    }
  }
  const int32_t bad[] = {0, 2, 5, 1};
  CHECK_EQ(cb::find_code_out_of_range(bad, 4, 5), 2);
  CHECK_EQ(cb::find_code_out_of_range(bad, 4, 6), -1);
}

TEST(vq_expand_every_isa_and_thread_count) {
  Rng rng(harness::test_seed());
  for_each_isa([&](ek::Isa) {
    for (int64_t v : {1, 3, 7, 8, 9, 15, 16, 17, 33, 129, 4099, 100000}) {
      if (harness::quick() && v > 5000) continue;
      const int64_t k = rng.between(1, 300), rows = rng.between(1, 4);
      Map m(rng, v, k);
      const std::vector<float> logits = random_floats(rng, rows * k);
      for (int threads : {1, 3}) {
        ek::set_thread_count(threads);
        std::vector<float> out(static_cast<size_t>(rows * v), NAN);
        cb::vq_expand(cb::CodeLogits{logits.data(), rows}, m.view, out.data());
        int64_t wrong = 0;
        for (int64_t b = 0; b < rows; ++b) {
          for (int64_t t = 0; t < v; ++t) wrong += bits(out[b * v + t]) != bits(logits[b * k + m.t2c[t]]);
        }
        CHECK_MSG(wrong == 0, "V=", v, " K=", k, " threads=", threads, ": ", wrong, " wrong");
      }
    }
  });
}

TEST(vq_reductions_against_the_expanded_row) {
  Rng rng(harness::test_seed());
  for (int64_t v : {1, 17, 1000, 60000}) {
    const int64_t k = std::min<int64_t>(v, rng.between(1, 1024)), rows = 3;
    Map m(rng, v, k);
    std::vector<float> logits(static_cast<size_t>(rows * k));
    for (float& x : logits) x = static_cast<float>(rng.between(-4, 4));  // ties on purpose
    std::vector<float> z(rows), loss(rows), grad(static_cast<size_t>(rows * k));
    std::vector<int32_t> targets(rows);
    for (auto& t : targets) t = static_cast<int32_t>(rng.below(v));
    const cb::CodeLogits L{logits.data(), rows};
    cb::vq_log_sum_exp(L, m.view, z.data());
    cb::vq_cross_entropy(L, m.view, ek::IndexArray{targets.data(), rows, ek::IndexType::Int32}, loss.data(), grad.data());
    const int64_t top = std::min<int64_t>(v, 40);
    std::vector<int32_t> ids(static_cast<size_t>(rows * top));
    std::vector<float> lp(static_cast<size_t>(rows * top));
    cb::vq_top_k(L, m.view, top, ids.data(), lp.data());
    for (int64_t b = 0; b < rows; ++b) {
      const float* row = logits.data() + b * k;
      const double want = ref_log_z(row, m);
      CHECK_MSG(std::fabs(z[b] - want) <= 1e-6 * std::max(1.0, std::fabs(want)), "log Z V=", v, ": ", z[b], " vs ", want);
      const double want_loss = want - row[m.t2c[targets[b]]];
      CHECK_MSG(std::fabs(loss[b] - want_loss) <= 1e-6 * std::max(1.0, std::fabs(want_loss)), "loss V=", v);
      double grad_sum = 0;
      for (int64_t j = 0; j < k; ++j) grad_sum += grad[b * k + j];
      CHECK_MSG(std::fabs(grad_sum) < 1e-5, "the gradient sums to 0 (softmax minus one-hot), got ", grad_sum);
      std::vector<int32_t> order(static_cast<size_t>(v));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t c) { return row[m.t2c[a]] > row[m.t2c[c]]; });
      for (int64_t i = 0; i < top; ++i) CHECK_MSG(ids[b * top + i] == order[i], "top-k V=", v, " rank ", i);
    }
  }
}

// Small integers make every score exact on every ISA (fma or not, any order), so the vector
// kernels' per-lane choice and final reduction must give the scalar scan's result exactly:
// ties to the lowest code, a NaN score never chosen unless it is code 0's (then nothing
// replaces it), infinities, and panels padded past num_codes.
TEST(score_rows_every_isa_is_the_scan_on_exact_scores) {
  Rng rng(harness::test_seed());
  const cb::Kernels& scan = cb::reference_kernels();
  for_each_isa([&](ek::Isa isa) {
    const cb::Kernels& k = cb::kernels_for(isa);
    for (int64_t codes : {1, 5, 16, 17, 31, 32, 33, 64, 100, 257}) {
      const int64_t dim = rng.between(1, 20), rows = rng.between(1, 130);
      std::vector<float> x(static_cast<size_t>(rows * dim)), book(static_cast<size_t>(codes * dim));
      for (float& v : x) v = static_cast<float>(rng.between(-2, 2));
      for (float& v : book) v = static_cast<float>(rng.between(-2, 2));
      // A few rows and codes poisoned: a NaN or an infinity in one coordinate.
      const float specials[] = {NAN, INFINITY, -INFINITY};
      for (int i = 0; i < 3; ++i) x[static_cast<size_t>(rng.below(rows * dim))] = specials[rng.below(3)];
      for (int i = 0; i < 2; ++i) book[static_cast<size_t>(rng.below(codes * dim))] = specials[rng.below(3)];
      if (rng.below(4) == 0) book[static_cast<size_t>(rng.below(dim))] = NAN;  // code 0 scores NaN
      cb::PanelStore wide, narrow;
      cb::pack_panels(book.data(), codes, dim, k.panel_width, &wide);
      cb::pack_panels(book.data(), codes, dim, 1, &narrow);
      const cb::Rows xs{x.data(), rows, dim, dim};
      for (cb::Metric metric : {cb::Metric::L2, cb::Metric::InnerProduct}) {
        std::vector<int32_t> got(static_cast<size_t>(rows)), want(static_cast<size_t>(rows));
        std::vector<float> got_score(static_cast<size_t>(rows)), want_score(static_cast<size_t>(rows));
        const int64_t begin = rng.below(rows);  // a slice: rows before it are not written
        k.score_rows(xs, wide.view, metric, begin, rows, got.data(), got_score.data());
        scan.score_rows(xs, narrow.view, metric, begin, rows, want.data(), want_score.data());
        for (int64_t r = 0; r < rows; ++r) {
          if (r < begin) {
            CHECK_MSG(got[r] == 0 && got_score[r] == 0.0f, "row ", r, " before the slice was written");
            continue;
          }
          CHECK_MSG(got[r] == want[r], "codes=", codes, " dim=", dim, " metric ", static_cast<int>(metric), " row ", r,
                    ": code ", got[r], ", the scan's ", want[r]);
          CHECK_MSG(std::memcmp(&got_score[r], &want_score[r], sizeof(float)) == 0 ||
                        (std::isnan(got_score[r]) && std::isnan(want_score[r])),
                    "row ", r, " score ", got_score[r], " vs ", want_score[r]);
        }
      }
    }
  });
}

// Every ISA's distance-table rows against the scalar definition (ref.cc), bitwise: the SIMD
// paths sum several codes at once, one per lane, with the same float64 operations. Values of
// every magnitude (the float64 differences and squares round), signed zeros, NaN and
// infinities; sub-codeword lengths and code counts on and off the vector width (the widened
// transpose's register blocks and its scalar copy, the row's blocks of 4 vectors, 1 vector,
// and codes past the last vector); a range of queries, the rows of the others untouched.
TEST(pq_table_rows_every_isa_is_the_definition_bitwise) {
  Rng rng(harness::test_seed());
  const cb::Kernels& def = cb::reference_kernels();
  auto value = [&]() -> float {
    switch (rng.below(12)) {
      case 0: return NAN;
      case 1: return rng.coin(0.5) ? INFINITY : -INFINITY;
      case 2: return rng.coin(0.5) ? 0.0f : -0.0f;
      case 3: return std::ldexp(rng.nonzero(), static_cast<int>(rng.between(-140, 60)));  // subnormal to huge
      default: return rng.uniform(-2.0f, 2.0f);
    }
  };
  for_each_isa([&](ek::Isa isa) {
    const cb::Kernels& k = cb::kernels_for(isa);
    for (int64_t dsub : {1, 2, 3, 4, 5, 8, 12, 16, 24}) {
      for (int64_t ksub : {2, 4, 8, 16, 32, 64, 256}) {
        const int64_t m = rng.between(1, 3), dim = m * dsub, nq = rng.between(1, 5);
        std::vector<float> books(static_cast<size_t>(m * ksub * dsub)), queries(static_cast<size_t>(nq * dim));
        for (float& v : books) v = value();
        for (float& v : queries) v = value();
        const cb::Pq pq{dim, m, ksub, books.data()};
        std::vector<double> scratch(static_cast<size_t>(ksub * dsub));
        for (cb::Metric metric : {cb::Metric::L2, cb::Metric::InnerProduct}) {
          const int64_t s = rng.below(m), q0 = rng.below(nq), q1 = rng.between(q0 + 1, nq);
          std::vector<float> got(static_cast<size_t>(nq * m * ksub), 7.0f), want(got.size(), 7.0f);
          k.table_rows(pq, s, queries.data(), q0, q1, metric, scratch.data(), got.data());
          def.table_rows(pq, s, queries.data(), q0, q1, metric, nullptr, want.data());
          for (size_t i = 0; i < got.size(); ++i) {
            const int64_t q = static_cast<int64_t>(i) / (m * ksub), sub = static_cast<int64_t>(i) / ksub % m;
            if (q < q0 || q >= q1 || sub != s) {
              CHECK_MSG(got[i] == 7.0f, "dsub=", dsub, " ksub=", ksub, ": entry ", i, " outside the rows was written");
              continue;
            }
            CHECK_MSG(std::memcmp(&got[i], &want[i], sizeof(float)) == 0 || (std::isnan(got[i]) && std::isnan(want[i])),
                      "dsub=", dsub, " ksub=", ksub, " metric ", static_cast<int>(metric), " entry ", i, ": ", got[i],
                      ", the definition's ", want[i]);
          }
        }
      }
    }
  });
}

TEST(assign_every_isa_against_float64) {
  Rng rng(harness::test_seed());
  for_each_isa([&](ek::Isa) {
    for (int64_t dim : {1, 3, 8, 16, 17, 64, 129}) {
      const int64_t codes = rng.between(1, 70), rows = rng.between(1, 200);
      std::vector<float> x = random_floats(rng, rows * dim), book = random_floats(rng, codes * dim);
      // duplicated codewords: exact ties must go to the lowest index
      if (codes > 4) std::copy(book.begin(), book.begin() + dim, book.begin() + 3 * dim);
      for (cb::Metric metric : {cb::Metric::L2, cb::Metric::InnerProduct}) {
        std::vector<int32_t> got(static_cast<size_t>(rows));
        std::vector<float> dist(static_cast<size_t>(rows));
        ek::set_thread_count(static_cast<int>(rng.between(1, 3)));
        cb::assign(cb::Rows{x.data(), rows, dim, dim}, book.data(), codes, metric, got.data(), dist.data());
        for (int64_t r = 0; r < rows; ++r) {
          auto score = [&](int64_t c) {
            double s = 0, scale = 0;
            for (int64_t i = 0; i < dim; ++i) {
              const double a = x[r * dim + i], b = book[c * dim + i];
              s += metric == cb::Metric::L2 ? (a - b) * (a - b) : a * b;
              scale += a * a + b * b;
            }
            return std::pair<double, double>(s, scale);
          };
          double best = 0;
          for (int64_t c = 0; c < codes; ++c) {
            const double s = score(c).first;
            if (c == 0 || (metric == cb::Metric::L2 ? s < best : s > best)) best = s;
          }
          const auto [mine, scale] = score(got[r]);
          const double slack = metric == cb::Metric::L2 ? mine - best : best - mine;
          CHECK_MSG(slack <= 1e-5 * scale, "dim=", dim, " row ", r, " slack ", slack);
          CHECK_MSG(got[r] != 3 || codes <= 4, "duplicate of code 0 chosen over it (dim=", dim, ")");
          CHECK_MSG(std::fabs(dist[r] - mine) <= 1e-6 * std::max(1e-30, std::fabs(mine)), "distance row ", r);
        }
      }
    }
  });
}

TEST(pq_encode_every_isa_matches_scalar_and_threads) {
  Rng rng(harness::test_seed());
  const int64_t dim = 32, m = 8, ksub = 256, n = harness::quick() ? 300 : 3000;
  std::vector<float> x = random_floats(rng, n * dim), books = random_floats(rng, ksub * dim);
  const cb::Pq pq{dim, m, ksub, books.data()};
  std::vector<uint8_t> scalar(static_cast<size_t>(n * m));
  ek::set_active_isa(ek::Isa::Scalar);
  ek::set_thread_count(1);
  cb::pq_encode(pq, x.data(), n, scalar.data());
  for_each_isa([&](ek::Isa isa) {
    std::vector<uint8_t> a(scalar.size()), b(scalar.size());
    ek::set_thread_count(1);
    cb::pq_encode(pq, x.data(), n, a.data());
    ek::set_thread_count(3);
    cb::pq_encode(pq, x.data(), n, b.data());
    CHECK(a == b);
    // Another ISA may order near-ties differently: the chosen sub-codeword must be as near.
    const int64_t dsub = dim / m;
    for (int64_t i = 0; i < n * m; ++i) {
      if (a[i] == scalar[i]) continue;
      auto dist = [&](int64_t c) {
        double s = 0;
        for (int64_t d = 0; d < dsub; ++d) {
          const double e = x[(i / m) * dim + (i % m) * dsub + d] - books[((i % m) * ksub + c) * dsub + d];
          s += e * e;
        }
        return s;
      };
      CHECK_MSG(std::fabs(dist(a[i]) - dist(scalar[i])) < 1e-5 * (1 + dist(scalar[i])), "pq_encode code ", i);
    }
  });
}

TEST(pq_scan_and_bag_against_float64) {
  Rng rng(harness::test_seed());
  const int64_t dim = 16, m = 4, ksub = 16, n = 70000, k = 7;
  std::vector<float> books = random_floats(rng, ksub * dim);
  const cb::Pq pq{dim, m, ksub, books.data()};
  std::vector<uint8_t> codes(static_cast<size_t>(n * m));
  for (auto& c : codes) c = static_cast<uint8_t>(rng.below(ksub));
  std::vector<float> q = random_floats(rng, 2 * dim), tables(static_cast<size_t>(2 * m * ksub));
  cb::pq_distance_table(pq, q.data(), 2, cb::Metric::L2, tables.data());
  std::vector<int32_t> ids(static_cast<size_t>(2 * k)), ids1(ids.size());
  std::vector<float> d(ids.size()), d1(ids.size());
  ek::set_thread_count(3);
  cb::pq_scan(pq, tables.data(), 2, cb::Metric::L2, codes.data(), n, k, ids.data(), d.data());
  ek::set_thread_count(1);
  cb::pq_scan(pq, tables.data(), 2, cb::Metric::L2, codes.data(), n, k, ids1.data(), d1.data());
  CHECK(ids == ids1);
  for (int64_t qi = 0; qi < 2; ++qi) {
    std::vector<std::pair<double, int64_t>> all;
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t sub = 0; sub < m; ++sub) {
        for (int64_t e = 0; e < dim / m; ++e) {
          const double diff = q[qi * dim + sub * 4 + e] - books[(sub * ksub + codes[i * m + sub]) * 4 + e];
          s += diff * diff;
        }
      }
      all.push_back({s, i});
    }
    std::sort(all.begin(), all.end());
    for (int64_t j = 0; j < k; ++j) {
      CHECK_MSG(std::fabs(d[qi * k + j] - all[j].first) < 1e-4, "scan rank ", j);
      if (j > 0 && d[qi * k + j] == d[qi * k + j - 1]) CHECK(ids[qi * k + j] > ids[qi * k + j - 1]);
    }
  }
  // The bag of rows {5, 9, 5} (weights 1, 2, -1) against decoded rows.
  const int64_t idx[] = {5, 9, 5};
  const float w[] = {1.0f, 2.0f, -1.0f};
  const int64_t bounds[] = {0, 3};
  ek::gather::Bags bags{ek::IndexArray{bounds, 2, ek::IndexType::Int64}, 1, 3};
  std::vector<float> out(static_cast<size_t>(dim), NAN);
  cb::pq_embedding_bag(pq, codes.data(), ek::IndexArray{idx, 3, ek::IndexType::Int64}, bags, w, false, out.data());
  std::vector<float> dec(static_cast<size_t>(10 * dim));
  cb::pq_decode(pq, codes.data(), 10, dec.data());
  for (int64_t c = 0; c < dim; ++c) {
    const double want = 2.0 * dec[9 * dim + c];  // rows 5 cancel
    CHECK_MSG(std::fabs(out[c] - want) < 1e-6, "bag column ", c);
  }
  ek::set_thread_count(2);
}

TEST(codebook_isa_coverage_summary) {
  for (ek::Isa isa : kAllIsas) {
    const int64_t n = g_checked[static_cast<int>(isa)];
    if (!ek::isa_available(isa)) {
      std::printf("  codebook: skipped %s: not available on this CPU\n", ek::isa_name(isa));
    } else {
      std::printf("  codebook: tested %s: %lld checks\n", ek::isa_name(isa), static_cast<long long>(n));
    }
  }
}

}  // namespace
