// The RoPE family against its scalar oracle on every ISA this CPU runs, and the oracle and
// the angle code against float64 / long double math.
//
// Bounds (say them where they are asserted):
//   sincos64:                 |error| < 1e-12 vs long double sin/cos for |x| <= 2^22 * 1.0
//                             (and for rerotation differences), libm beyond 6e7.
//   token tables:             |cos - a cos(theta)| < 1e-7 * a (float32 rounding of a float64 value).
//   row kernels, every ISA:   bitwise equal to the reference (same float32 operations, no FMA).
//   reference vs float64:     per row ||y - y64|| / ||y64|| < 1e-6.
//   apply, any thread count:  bitwise identical; guard zones untouched; the partial-rotary
//                             tail untouched in place and copied exactly out of place.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/isa.h"
#include "common/kernel_stats.h"
#include "common/parallel.h"
#include "harness.h"
#include "rope/rope.h"
// The expected two-set angle 3 * x - 2 * y must be computed without a fused multiply-add, as
// the kernels compute it (GCC contracts by default on arm64).
#include "rope/exact_fp.h"

namespace {

namespace ek = embedkit;
namespace rp = embedkit::rope;

using Rng = harness::Rng;

constexpr uint32_t kPoison = 0x7fc0beefu;
int64_t g_rope_comparisons[ek::kNumIsas];


// A buffer of n floats with poisoned guard zones on both sides, starting one float past
// an aligned start (no alignment beyond the element).
class Buf {
 public:
  static constexpr int64_t kGuard = 17;
  explicit Buf(int64_t n) : n_(n), s_(static_cast<size_t>(n + 2 * kGuard)) { poison(); }
  float* data() { return s_.data() + kGuard; }
  const float* data() const { return s_.data() + kGuard; }
  void poison() {
    for (float& f : s_) f = from_bits(kPoison);
  }
  bool guards_intact() const {
    for (int64_t i = 0; i < kGuard; ++i) {
      if (bits(s_[i]) != kPoison || bits(s_[kGuard + n_ + i]) != kPoison) return false;
    }
    return true;
  }
  bool same_bits(const Buf& o) const {
    return std::memcmp(data(), o.data(), static_cast<size_t>(n_) * sizeof(float)) == 0;
  }

 private:
  int64_t n_;
  std::vector<float> s_;
};

// A rope rotation of head_dim hd (rot rotated) at the given positions.
rp::Rotation rotation(int layout, int64_t hd, int64_t rot, ek::IndexArray positions,
                      const std::vector<double>& inv_freq, double scale) {
  rp::Rotation r;
  r.layout = layout ? rp::Layout::Gptj : rp::Layout::Neox;
  r.head_dim = hd;
  r.rotary_dim = rot;
  r.to.array = positions;
  r.to.has_array = true;
  r.to_freq = inv_freq.data();
  r.scale = scale;
  return r;
}

std::vector<double> default_inv_freq(int64_t rot, double base) {
  std::vector<double> f(static_cast<size_t>(rot / 2));
  for (int64_t i = 0; i < rot / 2; ++i) f[i] = 1.0 / std::pow(base, static_cast<double>(2 * i) / rot);
  return f;
}

TEST(rope_sincos64_accuracy) {
  Rng rng(harness::test_seed());
  double worst = 0;
  const int n = harness::quick() ? 5000 : 50000;
  for (int i = 0; i < n; ++i) {
    // Magnitudes from 1e-9 to 2^22, both signs; plus exact integers near multiples of pi/2.
    const double mag = std::pow(2.0, -30.0 + 52.0 * rng.unit());
    const double x = (i & 1) ? -mag : mag;
    double s, c;
    rp::sincos64(x, &s, &c);
    const long double xl = x;
    const double es = std::fabs(s - static_cast<double>(std::sin(xl)));
    const double ec = std::fabs(c - static_cast<double>(std::cos(xl)));
    worst = std::max(worst, std::max(es, ec));
    if (!CHECK_MSG(es < 1e-12 && ec < 1e-12, "x=", x, " sin err ", es, " cos err ", ec)) break;
  }
  for (int64_t k = 0; k < 4000; ++k) {  // near k * pi / 2 (the hard cases for reduction)
    const double x = static_cast<double>(k) * 1.5707963267948966 * (k % 3 == 0 ? 1000.0 : 1.0);
    double s, c;
    rp::sincos64(x, &s, &c);
    const long double xl = x;
    CHECK_MSG(std::fabs(s - static_cast<double>(std::sin(xl))) < 1e-12, "x=", x);
    CHECK_MSG(std::fabs(c - static_cast<double>(std::cos(xl))) < 1e-12, "x=", x);
  }
  // Beyond the reduction range: libm.
  double s, c;
  rp::sincos64(1e12, &s, &c);
  CHECK(std::fabs(s - std::sin(1e12)) < 1e-15 && std::fabs(c - std::cos(1e12)) < 1e-15);
  std::printf("  sincos64: worst abs error %.3g on [2^-30, 2^22]\n", worst);
}

TEST(rope_token_tables) {
  Rng rng(harness::test_seed());
  for (int64_t rot : {2, 8, 64, 128}) {
    const std::vector<double> f = default_inv_freq(rot, 10000.0);
    std::vector<int64_t> pos{0, 1, 7, 4095, 1 << 20, (1 << 22) - 1, 1 << 22};
    std::vector<float> cs(rot / 2), sn(rot / 2);
    for (int negate = 0; negate < 2; ++negate) {
      rp::Rotation r;
      r.rotary_dim = rot;
      r.head_dim = rot;
      r.to.array = ek::IndexArray{pos.data(), static_cast<int64_t>(pos.size()), ek::IndexType::Int64};
      r.to.has_array = true;
      r.to_freq = f.data();
      r.scale = 1.25;
      r.negate = negate != 0;
      for (int64_t t = 0; t < static_cast<int64_t>(pos.size()); ++t) {
        rp::token_tables(rp::reference_kernels(), r, t, cs.data(), sn.data());
        for (int64_t i = 0; i < rot / 2; ++i) {
          const long double th = static_cast<long double>(pos[t]) * f[i];
          const double ec = std::fabs(cs[i] - 1.25 * static_cast<double>(std::cos(th)));
          const double es = std::fabs(sn[i] - (negate ? -1.25 : 1.25) * static_cast<double>(std::sin(th)));
          CHECK_MSG(ec < 1.25e-7 && es < 1.25e-7, "rot ", rot, " pos ", pos[t], " pair ", i);
        }
      }
    }
    // Rerotation by (to - from) with one frequency set equals rotation by the difference.
    rp::Rotation a;
    a.rotary_dim = rot;
    a.to.offset = 5;
    a.from.offset = 1000005;
    a.has_from = true;
    a.to_freq = f.data();
    rp::Rotation b;
    b.rotary_dim = rot;
    b.to.offset = -1000003;  // at t = 3: -1000000 (negative is fine for the kernel, not the API)
    b.to_freq = f.data();
    std::vector<float> c2(rot / 2), s2(rot / 2);
    rp::token_tables(rp::reference_kernels(), a, 3, cs.data(), sn.data());
    rp::token_tables(rp::reference_kernels(), b, 3, c2.data(), s2.data());
    CHECK(std::memcmp(cs.data(), c2.data(), cs.size() * 4) == 0);
    CHECK(std::memcmp(sn.data(), s2.data(), sn.size() * 4) == 0);
    (void)rng;
  }
}

TEST(rope_tables_every_isa) {
  Rng rng(harness::test_seed());
  const int64_t n = 301;  // odd: every vector width's tail
  std::vector<double> theta(n);
  for (int64_t i = 0; i < n; ++i) {
    theta[i] = (rng.unit() - 0.5) * std::pow(2.0, 55.0 * rng.unit() - 30.0);  // |x| < 2^24 (< 6e7)
    if (i % 7 == 0) theta[i] = static_cast<double>(rng.below(1 << 22)) * rng.unit();
  }
  // As one token's angles: position 1 times "frequencies" theta.
  rp::Angles a;
  a.to_pos = 1.0;
  a.to_freq = theta.data();
  std::vector<float> rc(n), rs(n);
  CHECK(rp::reference_kernels().tables(a, n, 1.5, -1.5, rc.data(), rs.data()));
  for (int64_t i = 0; i < n; ++i) {
    double s, c;
    rp::sincos64(theta[i], &s, &c);
    CHECK_MSG(bits(rc[i]) == bits(static_cast<float>(c * 1.5)), "i=", i, " x=", theta[i]);
    CHECK_MSG(bits(rs[i]) == bits(static_cast<float>(s * -1.5)), "i=", i, " x=", theta[i]);
  }
  // Two frequency sets: theta_i = 3 * theta[i] - 2 * g[i].
  std::vector<double> g(n);
  for (int64_t i = 0; i < n; ++i) g[i] = theta[(i * 7) % n];
  rp::Angles two;
  two.to_pos = 3.0;
  two.to_freq = theta.data();
  two.from_pos = 2.0;
  two.from_freq = g.data();
  std::vector<float> tc(n), ts(n);
  CHECK(rp::reference_kernels().tables(two, n, 1.0, 1.0, tc.data(), ts.data()));
  for (int64_t i = 0; i < n; ++i) {
    double s, c;
    rp::sincos64(3.0 * theta[i] - 2.0 * g[i], &s, &c);
    CHECK_MSG(bits(tc[i]) == bits(static_cast<float>(c)) && bits(ts[i]) == bits(static_cast<float>(s)),
              "two sets, i=", i);
  }
  // One angle beyond the fast reduction: reported, so that the caller takes libm's path.
  std::vector<double> far(theta);
  far[n / 2] = 7.0e7;
  std::vector<float> fc(n), fs(n);
  rp::Angles beyond = a;
  beyond.to_freq = far.data();
  CHECK(!rp::reference_kernels().tables(beyond, n, 1.0, 1.0, fc.data(), fs.data()));
  for (ek::Isa isa : runnable_isas()) {
    SCOPED_CONTEXT("isa ", ek::isa_name(isa));
    std::vector<float> c(n + 1, from_bits(kPoison)), s(n + 1, from_bits(kPoison));
    CHECK(rp::kernels_for(isa).tables(a, n, 1.5, -1.5, c.data(), s.data()));
    CHECK(std::memcmp(c.data(), rc.data(), n * 4) == 0);
    CHECK(std::memcmp(s.data(), rs.data(), n * 4) == 0);
    CHECK(bits(c[n]) == kPoison && bits(s[n]) == kPoison);
    std::fill(c.begin(), c.begin() + n, 0.0f);
    std::fill(s.begin(), s.begin() + n, 0.0f);
    CHECK(rp::kernels_for(isa).tables(two, n, 1.0, 1.0, c.data(), s.data()));
    CHECK(std::memcmp(c.data(), tc.data(), n * 4) == 0);
    CHECK(std::memcmp(s.data(), ts.data(), n * 4) == 0);
    CHECK(!rp::kernels_for(isa).tables(beyond, n, 1.0, 1.0, c.data(), s.data()));
    g_rope_comparisons[static_cast<int>(isa)] += 2;
  }
}

// float64 rotation of one head row, for the reference-vs-math check.
void rotate64(const float* x, double* y, int64_t hd, int64_t rot, bool gptj, const float* cs,
              const float* sn) {
  for (int64_t j = 0; j < hd; ++j) y[j] = x[j];
  const int64_t half = rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = gptj ? 2 * i : i, b = gptj ? 2 * i + 1 : i + half;
    y[a] = static_cast<double>(x[a]) * cs[i] - static_cast<double>(x[b]) * sn[i];
    y[b] = static_cast<double>(x[b]) * cs[i] + static_cast<double>(x[a]) * sn[i];
  }
}

TEST(rope_row_kernels_match_reference) {
  Rng rng(harness::test_seed());
  const int64_t head_dims[] = {2, 4, 6, 8, 10, 16, 18, 32, 34, 48, 64, 80, 96, 100, 128, 130, 256};
  for (int64_t hd : head_dims) {
    for (int layout = 0; layout < 2; ++layout) {
      for (int partial = 0; partial < 2; ++partial) {
        const int64_t rot = partial ? 2 * rng.between(1, hd / 2) : hd;
        const int64_t rows = rng.between(1, 5);
        const int64_t n = rows * hd;
        SCOPED_CONTEXT("head_dim=", hd, " rot=", rot, " rows=", rows, layout ? " gptj" : " neox");
        std::vector<float> cs(rot / 2), sn(rot / 2), c2(rot), s2(rot);
        for (int64_t i = 0; i < rot / 2; ++i) {
          const double th = 100.0 * rng.unit();
          cs[i] = static_cast<float>(std::cos(th));
          sn[i] = static_cast<float>(std::sin(th));
          c2[2 * i] = c2[2 * i + 1] = cs[i];
          s2[2 * i] = -sn[i];
          s2[2 * i + 1] = sn[i];
        }
        Buf x(n);
        for (int64_t e = 0; e < n; ++e) x.data()[e] = rng.nonzero();
        auto run = [&](const rp::Kernels& k, const float* src, float* dst) {
          if (layout) {
            k.rotate_gptj(src, dst, rows, hd, rot, c2.data(), s2.data());
          } else {
            k.rotate_neox(src, dst, rows, hd, rot, cs.data(), sn.data());
          }
        };
        Buf ref(n);
        run(rp::reference_kernels(), x.data(), ref.data());
        CHECK(ref.guards_intact());
        // The reference against float64 math; the tail copied exactly.
        std::vector<double> y(hd);
        for (int64_t h = 0; h < rows; ++h) {
          rotate64(x.data() + h * hd, y.data(), hd, rot, layout == 1, cs.data(), sn.data());
          double num = 0, den = 0;
          for (int64_t j = 0; j < hd; ++j) {
            const double d = ref.data()[h * hd + j] - y[j];
            num += d * d;
            den += y[j] * y[j];
          }
          CHECK_MSG(std::sqrt(num / den) < 1e-6, "row ", h, " rel err ", std::sqrt(num / den));
          for (int64_t j = rot; j < hd; ++j) {
            CHECK(bits(ref.data()[h * hd + j]) == bits(x.data()[h * hd + j]));
          }
        }
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa));
          const rp::Kernels& k = rp::kernels_for(isa);
          Buf out(n);
          run(k, x.data(), out.data());
          CHECK(out.guards_intact());
          CHECK(out.same_bits(ref));
          // In place: same bits, guards intact.
          Buf inplace(n);
          std::memcpy(inplace.data(), x.data(), n * sizeof(float));
          run(k, inplace.data(), inplace.data());
          CHECK(inplace.guards_intact());
          CHECK(inplace.same_bits(ref));
          g_rope_comparisons[static_cast<int>(isa)] += 2;
        }
      }
    }
  }
}

TEST(rope_apply_threads_and_isas) {
  Rng rng(harness::test_seed());
  const int64_t tokens = harness::quick() ? 150 : 700;
  for (int layout = 0; layout < 2; ++layout) {
    const int64_t hd = layout ? 80 : 128, rot = layout ? 64 : 96, qh = 5, kh = 2;
    const std::vector<double> f = default_inv_freq(rot, 10000.0);
    std::vector<int32_t> pos(static_cast<size_t>(tokens));
    for (auto& p : pos) p = static_cast<int32_t>(rng.below(1 << 22));
    Buf q(tokens * qh * hd), k(tokens * kh * hd);
    for (int64_t e = 0; e < tokens * qh * hd; ++e) q.data()[e] = rng.nonzero();
    for (int64_t e = 0; e < tokens * kh * hd; ++e) k.data()[e] = rng.nonzero();
    const rp::Rotation r = rotation(layout, hd, rot, ek::IndexArray{pos.data(), tokens, ek::IndexType::Int32}, f, 1.1);
    SCOPED_CONTEXT(layout ? "gptj" : "neox");
    // The reference: scalar, one thread.
    CHECK_EQ(ek::set_active_isa(ek::Isa::Scalar), std::string());
    CHECK_EQ(ek::set_thread_count(1), std::string());
    Buf rq(tokens * qh * hd), rk(tokens * kh * hd);
    rp::apply(r, tokens, rp::Tensor{q.data(), rq.data(), qh}, rp::Tensor{k.data(), rk.data(), kh});
    for (ek::Isa isa : runnable_isas()) {
      CHECK_EQ(ek::set_active_isa(isa), std::string());
      for (int threads : {1, 2, 3}) {
        SCOPED_CONTEXT("isa ", ek::isa_name(isa), " threads ", threads);
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        Buf oq(tokens * qh * hd), ok(tokens * kh * hd);
        const uint64_t calls = ek::kernel_calls(isa);
        rp::apply(r, tokens, rp::Tensor{q.data(), oq.data(), qh}, rp::Tensor{k.data(), ok.data(), kh});
        CHECK(ek::kernel_calls(isa) == calls + 1);
        CHECK(oq.guards_intact() && ok.guards_intact());
        CHECK(oq.same_bits(rq));
        CHECK(ok.same_bits(rk));
        // In place on copies, q only.
        Buf iq(tokens * qh * hd);
        std::memcpy(iq.data(), q.data(), tokens * qh * hd * sizeof(float));
        rp::apply(r, tokens, rp::Tensor{iq.data(), iq.data(), qh}, rp::Tensor{});
        CHECK(iq.same_bits(rq));
        g_rope_comparisons[static_cast<int>(isa)] += 3;
      }
    }
    // Forward then inverse: x * scale^2 up to float rounding.
    Buf back(tokens * qh * hd);
    rp::Rotation inv = r;
    inv.negate = true;
    rp::apply(inv, tokens, rp::Tensor{rq.data(), back.data(), qh}, rp::Tensor{});
    double num = 0, den = 0;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t h = 0; h < qh; ++h) {
        for (int64_t j = 0; j < hd; ++j) {
          const int64_t e = (t * qh + h) * hd + j;
          const double want = q.data()[e] * (j < rot ? 1.1 * 1.1 : 1.0);
          num += (back.data()[e] - want) * (back.data()[e] - want);
          den += want * want;
        }
      }
    }
    CHECK_MSG(std::sqrt(num / den) < 1e-6, "inverse(forward(x)) rel err ", std::sqrt(num / den));
  }
  CHECK_EQ(ek::set_thread_count(2), std::string());
  CHECK_EQ(ek::set_active_isa(ek::best_isa()), std::string());
}

// A filled cache gives the computed path's bits, forward and inverse, on every ISA and
// thread count (the cache itself is filled on each ISA and must not depend on it).
TEST(rope_cache_matches_computed) {
  Rng rng(harness::test_seed());
  const int64_t tokens = harness::quick() ? 90 : 400, max_position = 5003;
  for (int layout = 0; layout < 2; ++layout) {
    const int64_t hd = layout ? 96 : 80, rot = layout ? 96 : 46, qh = 3;
    const int64_t half = rot / 2;
    const std::vector<double> f = default_inv_freq(rot, 500000.0);
    std::vector<int64_t> pos(static_cast<size_t>(tokens));
    for (auto& p : pos) p = static_cast<int64_t>(rng.below(max_position));
    pos[0] = max_position - 1;
    Buf q(tokens * qh * hd);
    for (int64_t e = 0; e < tokens * qh * hd; ++e) q.data()[e] = rng.nonzero();
    for (int negate = 0; negate < 2; ++negate) {
      rp::Rotation r = rotation(layout, hd, rot, ek::IndexArray{pos.data(), tokens, ek::IndexType::Int64}, f, 0.87);
      r.negate = negate != 0;
      SCOPED_CONTEXT(layout ? "gptj" : "neox", negate ? " inverse" : "");
      CHECK_EQ(ek::set_active_isa(ek::Isa::Scalar), std::string());
      Buf want(tokens * qh * hd);
      rp::apply(r, tokens, rp::Tensor{q.data(), want.data(), qh}, rp::Tensor{});
      for (ek::Isa isa : runnable_isas()) {
        CHECK_EQ(ek::set_active_isa(isa), std::string());
        for (int threads : {1, 2}) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa), " threads ", threads);
          CHECK_EQ(ek::set_thread_count(threads), std::string());
          Buf cos(max_position * half), sin(max_position * half);
          rp::fill_cache(r, max_position, cos.data(), sin.data());
          CHECK(cos.guards_intact() && sin.guards_intact());
          rp::Rotation cached = r;
          cached.to_freq = nullptr;
          cached.scale = 0.0;  // unused with a cache
          cached.cache_cos = cos.data();
          cached.cache_sin = sin.data();
          Buf got(tokens * qh * hd);
          rp::apply(cached, tokens, rp::Tensor{q.data(), got.data(), qh}, rp::Tensor{});
          CHECK(got.same_bits(want));
          CHECK(got.guards_intact());
          g_rope_comparisons[static_cast<int>(isa)] += 1;
        }
      }
    }
  }
  CHECK_EQ(ek::set_thread_count(2), std::string());
  CHECK_EQ(ek::set_active_isa(ek::best_isa()), std::string());
}

TEST(rope_isa_coverage_summary) {
  for (ek::Isa isa : kAllIsas) {
    const int64_t n = g_rope_comparisons[static_cast<int>(isa)];
    if (!ek::isa_available(isa)) {
      std::printf("  rope: skipped %s: not available on this CPU\n", ek::isa_name(isa));
      CHECK_EQ(n, int64_t{0});
    } else {
      std::printf("  rope: tested %s: %lld comparisons against the reference\n", ek::isa_name(isa),
                  static_cast<long long>(n));
    }
  }
}

}  // namespace
