// The GPU codebook kernels' selection logic (csrc/kernels/codebook/rank_order.h) replayed on
// the CPU against the CPU ops, so that it is checked on machines without a GPU:
//   - cuda/codebook/nearest.cu reduces (score, code) candidates with beats() in whatever
//     grouping its tiles and threads give: here every candidate of a row is scored with the
//     SIMD kernels' operations (an fma chain from 0, then fma(-2, dot, ||c||²)) and reduced
//     in a random order; the code must equal assign()'s on every SIMD ISA.
//   - cuda/codebook/top_k.h (pqScan) and vq_top_k.cu rank by sorting 64-bit keys: here the
//     keys are sorted with std::sort; the first k ids must equal pq_scan's and vq_top_k's.
// Scores are drawn from a coarse grid with NaN, ±0 and ±inf so that ties are everywhere.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "codebook/codebook.h"
#include "codebook/panels.h"
#include "codebook/rank_order.h"
#include "common/isa.h"
#include "harness.h"

namespace {

namespace ek = embedkit;
namespace cb = embedkit::codebook;
namespace ro = embedkit::codebook::rank_order;
using harness::Rng;

// Halves in [-2, 2] (ties), now and then a NaN, an infinity or -0.
float tie_prone(Rng& rng) {
  const int64_t pick = rng.below(40);
  if (pick == 0) return std::numeric_limits<float>::quiet_NaN();
  if (pick == 1) return rng.coin(0.5) ? INFINITY : -INFINITY;
  if (pick == 2) return -0.0f;
  return static_cast<float>(rng.between(-4, 4)) / 2.0f;
}

template <class T>
void shuffle(Rng& rng, std::vector<T>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.below(static_cast<int64_t>(i)))]);
}

TEST(gpu_nearest_reduction_equals_assign) {
  for (ek::Isa isa : runnable_isas()) {
    if (isa == ek::Isa::Scalar) continue;  // the scalar reference does not fuse; the GPU matches the SIMD paths
    SCOPED_CONTEXT("isa ", ek::isa_name(isa));
    CHECK_EQ(ek::set_active_isa(isa), std::string());
    Rng rng(harness::test_seed());
    for (int trial = 0; trial < 40; ++trial) {
      const int64_t dim = rng.between(1, 40), rows = rng.between(1, 30), codes = rng.between(1, 90);
      const bool finite = rng.coin(0.5);  // NaN/inf inputs on half the trials
      std::vector<float> x(static_cast<size_t>(rows * dim)), book(static_cast<size_t>(codes * dim));
      for (float& v : x) v = finite ? static_cast<float>(rng.between(-4, 4)) / 2.0f : tie_prone(rng);
      for (float& v : book) v = finite ? static_cast<float>(rng.between(-4, 4)) / 2.0f : tie_prone(rng);
      cb::PanelStore norms;
      cb::pack_panels(book.data(), codes, dim, 1, &norms);
      for (const cb::Metric metric : {cb::Metric::L2, cb::Metric::InnerProduct}) {
        SCOPED_CONTEXT("trial ", trial, " dim ", dim, " codes ", codes, " metric ", static_cast<int>(metric));
        std::vector<int32_t> want(static_cast<size_t>(rows));
        std::vector<float> dist(static_cast<size_t>(rows));
        cb::assign(cb::Rows{x.data(), rows, dim, dim}, book.data(), codes, metric, want.data(), dist.data());
        const bool minimize = metric == cb::Metric::L2;
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<ro::Candidate> cands;
          for (int64_t c = 0; c < codes; ++c) {
            float dot = 0.0f;
            for (int64_t k = 0; k < dim; ++k) dot = std::fma(x[static_cast<size_t>(r * dim + k)], book[static_cast<size_t>(c * dim + k)], dot);
            const float score = minimize ? std::fma(-2.0f, dot, norms.norms[static_cast<size_t>(c)]) : dot;
            cands.push_back({score, static_cast<int32_t>(c)});
          }
          shuffle(rng, cands);
          ro::Candidate best{0.0f, -1};
          for (const ro::Candidate& c : cands) {
            if (ro::beats(c, best, minimize)) best = c;
          }
          CHECK_MSG(best.code == want[static_cast<size_t>(r)], "row ", r, ": reduction picked ", best.code, ", assign ",
                    want[static_cast<size_t>(r)]);
        }
      }
    }
  }
  ek::set_active_isa(ek::best_isa());
}

// The first k of each segment's ids after sorting its keys.
std::vector<int32_t> sorted_ids(std::vector<uint64_t> keys, int64_t segments, int64_t length, int64_t k, int id_bits) {
  std::sort(keys.begin(), keys.end());
  std::vector<int32_t> ids;
  for (int64_t s = 0; s < segments; ++s) {
    for (int64_t j = 0; j < k; ++j) {
      ids.push_back(static_cast<int32_t>(keys[static_cast<size_t>(s * length + j)] & ((uint64_t{1} << id_bits) - 1)));
    }
  }
  return ids;
}

TEST(gpu_scan_keys_equal_pq_scan) {
  Rng rng(harness::test_seed());
  for (int trial = 0; trial < 60; ++trial) {
    cb::Pq pq;
    // Every third trial takes a shape pq_scan unrolls (8-bit codes, m 8 or 16).
    const bool unrolled = trial % 3 == 0;
    pq.m = unrolled ? (rng.coin(0.5) ? 8 : 16) : rng.between(1, 4);
    pq.dim = pq.m;
    pq.ksub = unrolled ? 256 : int64_t{1} << rng.between(1, 3);
    const int64_t n = rng.between(1, 300), nq = rng.between(1, 5), k = rng.between(1, n);
    std::vector<float> tables(static_cast<size_t>(nq * pq.m * pq.ksub));
    for (float& t : tables) t = tie_prone(rng);
    std::vector<uint8_t> codes(static_cast<size_t>(n * pq.m));
    for (uint8_t& c : codes) c = static_cast<uint8_t>(rng.below(pq.ksub));
    for (const cb::Metric metric : {cb::Metric::L2, cb::Metric::InnerProduct}) {
      SCOPED_CONTEXT("trial ", trial, " n ", n, " k ", k, " metric ", static_cast<int>(metric));
      std::vector<int32_t> want(static_cast<size_t>(nq * k));
      std::vector<float> dist(static_cast<size_t>(nq * k));
      cb::pq_scan(pq, tables.data(), nq, metric, codes.data(), n, k, want.data(), dist.data());
      const int id_bits = ro::id_bits_for(n);
      std::vector<uint64_t> keys;
      for (int64_t q = 0; q < nq; ++q) {
        for (int64_t i = 0; i < n; ++i) {
          float sum = 0.0f;  // the scan kernel's sum: float32, subspaces in order
          for (int64_t s = 0; s < pq.m; ++s) sum += tables[static_cast<size_t>((q * pq.m + s) * pq.ksub + codes[static_cast<size_t>(i * pq.m + s)])];
          keys.push_back(ro::sort_key(q, ro::rank_bits(sum, metric == cb::Metric::InnerProduct), i, id_bits));
        }
      }
      CHECK(sorted_ids(keys, nq, n, k, id_bits) == want);
    }
  }
}

// cuda/codebook/vq_top_k.cu's steps: codes sorted per row by (rank, code), the prefix of
// codes that can hold the k best tokens (top_k_code_prefix), those codes' tokens keyed
// (rank, token) and sorted.
TEST(gpu_top_k_code_prefix_equals_vq_top_k) {
  Rng rng(harness::test_seed());
  for (int trial = 0; trial < 80; ++trial) {
    const int64_t v = rng.between(1, 400), kc = rng.between(1, 50), rows = rng.between(1, 4), k = rng.between(1, v);
    SCOPED_CONTEXT("trial ", trial, " V ", v, " K ", kc, " k ", k);
    std::vector<int32_t> t2c(static_cast<size_t>(v)), counts(static_cast<size_t>(kc)), offsets(static_cast<size_t>(kc + 1)),
        tokens(static_cast<size_t>(v));
    std::vector<double> logs(static_cast<size_t>(kc));
    const int64_t used = rng.between(1, kc);  // codes past `used` have no tokens
    for (int32_t& c : t2c) c = static_cast<int32_t>(rng.below(used));
    cb::build_vq_map(t2c.data(), v, kc, counts.data(), logs.data(), offsets.data(), tokens.data());
    const cb::VqMap map{v, kc, t2c.data(), counts.data(), logs.data(), offsets.data(), tokens.data()};
    std::vector<float> logits(static_cast<size_t>(rows * kc));
    for (float& l : logits) l = tie_prone(rng);
    std::vector<int32_t> want(static_cast<size_t>(rows * k));
    std::vector<float> lp(static_cast<size_t>(rows * k));
    cb::vq_top_k(cb::CodeLogits{logits.data(), rows}, map, k, want.data(), lp.data());
    const int code_bits = ro::id_bits_for(kc), id_bits = ro::id_bits_for(v);
    for (int64_t b = 0; b < rows; ++b) {
      std::vector<uint64_t> code_keys;
      for (int64_t j = 0; j < kc; ++j) {
        code_keys.push_back(ro::sort_key(0, ro::rank_bits(logits[static_cast<size_t>(b * kc + j)], true), j, code_bits));
      }
      std::sort(code_keys.begin(), code_keys.end());
      std::vector<int32_t> token_offsets(static_cast<size_t>(kc), -1);
      const ro::CodePrefix prefix = ro::top_k_code_prefix(code_keys.data(), kc, code_bits, counts.data(), k, token_offsets.data());
      CHECK(prefix.tokens >= k);
      std::vector<uint64_t> keys(static_cast<size_t>(prefix.tokens), ~uint64_t{0});
      for (int64_t p = 0; p < prefix.codes; ++p) {
        const int64_t code = static_cast<int64_t>(code_keys[static_cast<size_t>(p)] & ((uint64_t{1} << code_bits) - 1));
        const uint32_t rank = static_cast<uint32_t>(code_keys[static_cast<size_t>(p)] >> code_bits);
        for (int32_t q = offsets[static_cast<size_t>(code)]; q < offsets[static_cast<size_t>(code) + 1]; ++q) {
          keys[static_cast<size_t>(token_offsets[static_cast<size_t>(p)] + q - offsets[static_cast<size_t>(code)])] =
              ro::sort_key(0, rank, tokens[static_cast<size_t>(q)], id_bits);
        }
      }
      CHECK(std::find(keys.begin(), keys.end(), ~uint64_t{0}) == keys.end());  // every slot filled once
      std::sort(keys.begin(), keys.end());
      for (int64_t j = 0; j < k; ++j) {
        const int32_t got = static_cast<int32_t>(keys[static_cast<size_t>(j)] & ((uint64_t{1} << id_bits) - 1));
        CHECK_MSG(got == want[static_cast<size_t>(b * k + j)], "row ", b, " rank ", j, ": ", got, " vs ",
                  want[static_cast<size_t>(b * k + j)]);
      }
    }
  }
}

TEST(rank_bits_orders_like_the_cpu) {
  const float values[] = {-INFINITY, -2.5f, -1e-30f, -0.0f, 0.0f, 1e-38f, 1.0f, 3e38f, INFINITY};
  for (const float a : values) {
    for (const float b : values) {
      const bool ascending = ro::rank_bits(a, false) < ro::rank_bits(b, false);
      const bool descending = ro::rank_bits(a, true) < ro::rank_bits(b, true);
      CHECK_MSG(ascending == (a < b), a, " vs ", b);
      CHECK_MSG(descending == (a > b), a, " vs ", b, " descending");
    }
    CHECK(ro::rank_bits(a, false) < ro::rank_bits(std::numeric_limits<float>::quiet_NaN(), false));
    CHECK(ro::rank_bits(a, true) < ro::rank_bits(-std::numeric_limits<float>::quiet_NaN(), true));
  }
}

}  // namespace
