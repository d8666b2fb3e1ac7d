// The JL family against its scalar oracle on every ISA this CPU runs, Philox against the
// published Random123 known answers, and the oracle against float64 math.
//
// Bounds (say them where they are asserted):
//   philox4x32_10:            the three Random123 kat_vectors entries, exactly.
//   fwht_rows / fwht_high / sign_pad / sparse_rows, every ISA: bitwise equal to the reference
//                             (the same float32 butterflies and sums in the same order).
//   reference fwht vs float64 O(n^2) Hadamard: ||y - y64|| / ||y64|| < 1e-5 (n <= 2^10).
//   srht / fjlt / sparse_projection, every ISA and 1..3 threads: bitwise identical.
//   make_sample: k distinct, ascending, < n; make_sparse: the same rows for any thread count.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/isa.h"
#include "common/kernel_stats.h"
#include "common/parallel.h"
#include "common/philox.h"
#include "harness.h"
#include "jl/jl.h"

namespace {

namespace ek = embedkit;
namespace jl = embedkit::jl;
namespace px = embedkit::philox;

using Rng = harness::Rng;

int64_t g_jl_comparisons[ek::kNumIsas];

std::vector<float> random_floats(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.nonzero();
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A copy of `values` placed `offset` floats past a 64-byte boundary, with guard floats on both
// sides: the FWHT paths differ by where a row starts in its cache line (the AVX2 path takes rows
// 16 bytes past a 32-byte boundary on aligned chunks), and must not touch anything outside it.
class Placed {
 public:
  static constexpr int64_t kGuard = 24;
  static constexpr float kSentinel = -12345.5f;
  Placed(const std::vector<float>& values, int64_t offset)
      : n_(static_cast<int64_t>(values.size())),
        storage_(static_cast<size_t>(n_ + 2 * kGuard + 16), kSentinel) {
    const uintptr_t raw = reinterpret_cast<uintptr_t>(storage_.data() + kGuard);
    data_ = reinterpret_cast<float*>((raw + 63) / 64 * 64) + offset;
    std::memcpy(data_, values.data(), values.size() * sizeof(float));
  }
  float* data() { return data_; }
  std::vector<float> values() const { return std::vector<float>(data_, data_ + n_); }
  // Every float outside the placed values still holds the sentinel.
  bool guards_intact() const {
    for (const float& f : storage_) {
      if ((&f < data_ || &f >= data_ + n_) && std::memcmp(&f, &kSentinel, sizeof f) != 0) return false;
    }
    return true;
  }

 private:
  int64_t n_;
  std::vector<float> storage_;
  float* data_;
};

TEST(philox_known_answers) {
  // Random123's kat_vectors: counter (4 words), key (2 words) -> output (4 words).
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    const px::Block got = px::philox4x32_10(px::Block{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}},
                                            k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) CHECK_MSG(got.v[i] == k.out[i], "word ", i, " = ", got.v[i], ", want ", k.out[i]);
  }
  // The stream layout: seed halves are the key, (index, stream) the counter.
  const uint64_t seed = 0x299f31d0a4093822ull;
  const px::Block s = px::stream_block(seed, 0x03707344u, 0x05a308d3243f6a88ull);
  const px::Block direct = px::philox4x32_10(px::Block{{0x243f6a88u, 0x05a308d3u, 0, 0x03707344u}},
                                             0xa4093822u, 0x299f31d0u);
  for (int i = 0; i < 4; ++i) CHECK_EQ(s.v[i], direct.v[i]);
  CHECK_EQ(px::stream_word(seed, 0x03707344u, (0x05a308d3243f6a88ull << 2) | 2), direct.v[2]);
}

TEST(philox_uniform_below) {
  Rng rng(harness::test_seed());
  for (int i = 0; i < 2000; ++i) {
    const uint64_t u = rng.next(), m = i % 2 ? rng.next() : rng.next() >> rng.below(64);
    const unsigned __int128 want = (static_cast<unsigned __int128>(u) * m) >> 64;
    CHECK_MSG(px::uniform_below(u, m) == static_cast<uint64_t>(want), "u=", u, " m=", m);
  }
}

// float64 H x by the definition H[i][j] = (-1)^popcount(i & j).
std::vector<double> hadamard64(const float* x, int64_t n) {
  std::vector<double> y(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      y[static_cast<size_t>(i)] += (__builtin_popcountll(static_cast<unsigned long long>(i & j)) & 1 ? -1.0 : 1.0) * x[j];
    }
  }
  return y;
}

TEST(jl_reference_fwht_matches_float64) {
  Rng rng(harness::test_seed());
  for (int log2n = 0; log2n <= 10; ++log2n) {
    const int64_t n = int64_t{1} << log2n;
    SCOPED_CONTEXT("n=", n);
    std::vector<float> x = random_floats(rng, n);
    const std::vector<double> ref = hadamard64(x.data(), n);
    jl::reference_kernels().fwht_rows(x.data(), 1, log2n, 1.0f);
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double e = x[static_cast<size_t>(i)] - ref[static_cast<size_t>(i)];
      num += e * e;
      den += ref[static_cast<size_t>(i)] * ref[static_cast<size_t>(i)];
    }
    CHECK_MSG(std::sqrt(num / den) < 1e-5, "rel err ", std::sqrt(num / den));
  }
}

TEST(jl_kernels_match_reference) {
  Rng rng(harness::test_seed());
  const jl::Kernels& ref = jl::reference_kernels();
  const int max_log2 = harness::quick() ? 12 : jl::kDirectLog2;
  for (ek::Isa isa : runnable_isas()) {
    const jl::Kernels& k = jl::kernels_for(isa);
    SCOPED_CONTEXT("isa=", ek::isa_name(isa));
    for (int log2n = 0; log2n <= max_log2; ++log2n) {
      const int64_t rows = rng.between(1, log2n > 10 ? 2 : 5);
      const int64_t n = int64_t{1} << log2n;
      const float scale = rng.coin(0.5) ? 1.0f : static_cast<float>(1.0 / std::sqrt(double(n)));
      std::vector<float> a = random_floats(rng, rows * n);
      const std::vector<float> x = a;
      ref.fwht_rows(a.data(), rows, log2n, scale);
      // Rows at every 4-byte offset in a cache line.
      for (int64_t offset = 0; offset < 16; ++offset) {
        SCOPED_CONTEXT("fwht_rows log2n=", log2n, " rows=", rows, " offset=", offset, " floats");
        Placed b(x, offset);
        k.fwht_rows(b.data(), rows, log2n, scale);
        CHECK(same_bits(a, b.values()));
        CHECK(b.guards_intact());
        ++g_jl_comparisons[static_cast<int>(isa)];
      }
    }
    for (int levels = 1; levels <= 3; ++levels) {
      const int64_t stride = 64 * rng.between(1, 4);
      const int64_t n = (stride << levels) * rng.between(1, 3);
      const int64_t c0 = 16 * rng.below(stride / 32), c1 = c0 + 16 * rng.between(1, (stride - c0) / 16);
      std::vector<float> a = random_floats(rng, n);
      const std::vector<float> x = a;
      ref.fwht_high(a.data(), n, stride, levels, c0, c1, 0.5f);
      for (int64_t offset = 0; offset < 16; ++offset) {
        SCOPED_CONTEXT("fwht_high levels=", levels, " stride=", stride, " n=", n, " cols=", c0, "..", c1,
                       " offset=", offset, " floats");
        Placed b(x, offset);
        k.fwht_high(b.data(), n, stride, levels, c0, c1, 0.5f);
        CHECK(same_bits(a, b.values()));
        CHECK(b.guards_intact());
        ++g_jl_comparisons[static_cast<int>(isa)];
      }
    }
    for (int t = 0; t < 20; ++t) {
      const int64_t d = rng.between(1, 70);
      const int64_t n = jl::padded_size(d);
      SCOPED_CONTEXT("sign_pad d=", d);
      const std::vector<float> x = random_floats(rng, d);
      std::vector<float> sign(static_cast<size_t>(n));
      jl::make_signs(rng.next(), n, sign.data());
      std::vector<float> a(static_cast<size_t>(n), NAN), b = a;
      ref.sign_pad(x.data(), d, sign.data(), a.data(), n);
      k.sign_pad(x.data(), d, sign.data(), b.data(), n);
      CHECK(same_bits(a, b));
      ++g_jl_comparisons[static_cast<int>(isa)];
    }
    for (int t = 0; t < 20; ++t) {
      // Rows of x ld >= m floats apart (fjlt's padded rows), tiles and edges both ways.
      const int64_t m = rng.between(1, 90), kk = rng.between(1, 40), rows = rng.between(1, 37);
      const int64_t ld = m + (rng.coin(0.5) ? 0 : rng.between(1, 9));
      SCOPED_CONTEXT("sparse_rows m=", m, " ld=", ld, " k=", kk, " rows=", rows);
      jl::SparseMatrix a;
      jl::make_sparse(rng.next(), px::kSparse, kk, m, rng.coin(0.3) ? 1.0 : 0.2, 0.75f, &a);
      jl::CscMatrix at;
      jl::to_csc(a.view(), &at);
      const std::vector<float> x = random_floats(rng, rows * ld);
      std::vector<float> o1(static_cast<size_t>(rows * kk), NAN), o2 = o1;
      std::vector<float> scratch(static_cast<size_t>(k.block_rows * (m + kk)));
      ref.sparse_rows(x.data(), rows, ld, at.view(kk, m), o1.data(), scratch.data());
      k.sparse_rows(x.data(), rows, ld, at.view(kk, m), o2.data(), scratch.data());
      CHECK(same_bits(o1, o2));
      ++g_jl_comparisons[static_cast<int>(isa)];
    }
  }
}

TEST(jl_sample_and_sparse) {
  Rng rng(harness::test_seed());
  for (int t = 0; t < 50; ++t) {
    const int64_t n = int64_t{1} << rng.between(0, 12);
    const int64_t k = rng.between(1, n);
    std::vector<int64_t> sel(static_cast<size_t>(k), -1);
    jl::make_sample(rng.next(), n, k, sel.data());
    bool ok = sel[0] >= 0;
    for (int64_t i = 1; i < k; ++i) ok &= sel[static_cast<size_t>(i - 1)] < sel[static_cast<size_t>(i)];
    CHECK_MSG(ok && sel[static_cast<size_t>(k - 1)] < n, "n=", n, " k=", k);
  }
  // Generated rows do not depend on the thread count.
  const uint64_t seed = rng.next();
  jl::SparseMatrix a, b;
  CHECK_EQ(ek::set_thread_count(1), std::string());
  jl::make_sparse(seed, px::kSparse, 300, 700, 0.05, 1.0f, &a);
  CHECK_EQ(ek::set_thread_count(3), std::string());
  jl::make_sparse(seed, px::kSparse, 300, 700, 0.05, 1.0f, &b);
  CHECK(a.row_ptr == b.row_ptr && a.col == b.col && a.val == b.val);
  // Density: about 0.05 of 210,000 entries, well within 5 sigma.
  const double nnz = static_cast<double>(a.col.size());
  CHECK_MSG(std::fabs(nnz - 10500.0) < 5 * std::sqrt(10500.0), "nnz ", nnz);
  CHECK_EQ(ek::set_thread_count(2), std::string());
}

TEST(jl_ops_threads_and_isas) {
  Rng rng(harness::test_seed());
  struct Shape {
    int64_t rows, d, k;
  };
  const Shape shapes[] = {{1, 1, 1}, {7, 13, 5}, {33, 100, 128}, {3, 3000, 17}, {2, 9000, 64}};
  for (const Shape& s : shapes) {
    SCOPED_CONTEXT("rows=", s.rows, " d=", s.d, " k=", s.k);
    const std::vector<float> x = random_floats(rng, s.rows * s.d);
    const uint64_t seed = rng.next();
    const int64_t n = jl::padded_size(s.d);
    int log2n = 0;
    while ((int64_t{1} << log2n) < n) ++log2n;
    std::vector<float> want[4];
    bool first = true;
    for (ek::Isa isa : runnable_isas()) {
      CHECK_EQ(ek::set_active_isa(isa), std::string());
      for (int threads = 1; threads <= 3; ++threads) {
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        std::vector<float> got[4];
        got[0].assign(static_cast<size_t>(s.rows * s.k), NAN);
        got[1] = got[0];
        got[2] = got[0];
        got[3].assign(static_cast<size_t>(s.rows * n), 0.0f);
        for (int64_t r = 0; r < s.rows; ++r) std::memcpy(&got[3][static_cast<size_t>(r * n)], &x[static_cast<size_t>(r * s.d)], sizeof(float) * s.d);
        const uint64_t calls = ek::kernel_calls(isa);
        jl::srht(x.data(), s.rows, s.d, s.k, seed, got[0].data());
        jl::fjlt(x.data(), s.rows, s.d, s.k, seed, 0.3, got[1].data());
        jl::sparse_projection(x.data(), s.rows, s.d, s.k, seed, 0.3, got[2].data());
        jl::fwht(got[3].data(), s.rows, log2n, true);
        CHECK(ek::kernel_calls(isa) >= calls + 3);
        for (int o = 0; o < 4; ++o) {
          bool finite = true;
          for (float f : got[o]) finite &= std::isfinite(f);
          CHECK_MSG(finite, "op ", o, " wrote every element");
          if (first) want[o] = got[o];
          else CHECK_MSG(same_bits(want[o], got[o]), "op ", o, " isa ", ek::isa_name(isa), " threads ", threads);
        }
        first = false;
      }
      ++g_jl_comparisons[static_cast<int>(isa)];
    }
  }
  // A single long row split over threads (column passes in parallel) against one thread.
  for (int log2n : {14, 18, harness::quick() ? 18 : 21}) {
    SCOPED_CONTEXT("long row log2n=", log2n);
    const std::vector<float> x = random_floats(rng, int64_t{1} << log2n);
    std::vector<float> want;
    for (ek::Isa isa : runnable_isas()) {
      CHECK_EQ(ek::set_active_isa(isa), std::string());
      for (int threads : {1, 3}) {
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        std::vector<float> y = x;
        jl::fwht(y.data(), 1, log2n, false);
        if (want.empty()) want = y;
        else CHECK_MSG(same_bits(want, y), "isa ", ek::isa_name(isa), " threads ", threads);
      }
    }
    // Against float64 by the O(n log n) recursion, double precision throughout.
    std::vector<double> y64(x.begin(), x.end());
    for (size_t h = 1; h < y64.size(); h *= 2) {
      for (size_t i = 0; i < y64.size(); i += 2 * h) {
        for (size_t j = i; j < i + h; ++j) {
          const double a = y64[j], b = y64[j + h];
          y64[j] = a + b;
          y64[j + h] = a - b;
        }
      }
    }
    double num = 0, den = 0;
    for (size_t i = 0; i < y64.size(); ++i) {
      num += (want[i] - y64[i]) * (want[i] - y64[i]);
      den += y64[i] * y64[i];
    }
    CHECK_MSG(std::sqrt(num / den) < 1e-5, "rel err ", std::sqrt(num / den));
  }
  CHECK_EQ(ek::set_thread_count(2), std::string());
  CHECK_EQ(ek::set_active_isa(ek::best_isa()), std::string());
}

TEST(jl_isa_coverage_summary) {
  for (ek::Isa isa : kAllIsas) {
    const int64_t n = g_jl_comparisons[static_cast<int>(isa)];
    if (!ek::isa_available(isa)) {
      std::printf("  jl: skipped %s: not available on this CPU\n", ek::isa_name(isa));
      CHECK_EQ(n, int64_t{0});
    } else {
      std::printf("  jl: tested %s: %lld comparisons against the reference\n", ek::isa_name(isa),
                  static_cast<long long>(n));
    }
  }
}

}  // namespace
