// The gather family against its scalar oracle, on every ISA this CPU runs; bag validation;
// the index range check; the thread pool.
//
// Bounds (say them where they are asserted):
//   gather:                      bitwise equal to the reference (it is a copy).
//   embedding_bag Max:           bitwise equal (ties, -0.0/+0.0 and NaN included).
//   embedding_bag Sum/Mean:      per bag ||out - ref|| / ||ref|| < 1e-6, where the norm of
//                                the denominator is taken over sum_p |w_p * row_p| (divided by
//                                the count for Mean). That equals ||ref|| when the terms do
//                                not cancel; with cancellation (mixed signs, dim 1) ||ref||
//                                alone can be ~0 while the FMA-vs-mul+add difference is not,
//                                and no float32 path could meet it. Empty and padding-only
//                                bags must be exactly +0.0.
//   any thread count:            bitwise identical output.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/index_array.h"
#include "common/isa.h"
#include "common/kernel_stats.h"
#include "common/parallel.h"
#include "gather/gather.h"
#include "harness.h"

namespace {

namespace ek = embedkit;
namespace g = embedkit::gather;
using harness::Rng;
using harness::str;

// ---- utilities ---------------------------------------------------------------------------


const int64_t kDims[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128, 129, 200, 256, 1000};
const ek::IndexType kIndexTypes[] = {ek::IndexType::Int32, ek::IndexType::Uint32,
                                     ek::IndexType::Int64};
const g::PoolMode kModes[] = {g::PoolMode::Sum, g::PoolMode::Mean, g::PoolMode::Max};

const char* type_name(ek::IndexType t) {
  switch (t) {
    case ek::IndexType::Int32: return "int32";
    case ek::IndexType::Uint32: return "uint32";
    case ek::IndexType::Int64: return "int64";
  }
  return "?";
}
const char* mode_name(g::PoolMode m) {
  switch (m) {
    case g::PoolMode::Sum: return "sum";
    case g::PoolMode::Mean: return "mean";
    case g::PoolMode::Max: return "max";
  }
  return "?";
}
const char* error_name(g::BagError e) {
  switch (e) {
    case g::BagError::None: return "None";
    case g::BagError::FirstNotZero: return "FirstNotZero";
    case g::BagError::Decreasing: return "Decreasing";
    case g::BagError::PastEnd: return "PastEnd";
    case g::BagError::LastNotEnd: return "LastNotEnd";
    case g::BagError::NegativeLength: return "NegativeLength";
    case g::BagError::LengthSum: return "LengthSum";
  }
  return "?";
}

std::string show(float f) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.9g (0x%08x)", static_cast<double>(f), bits(f));
  return buf;
}

// A quiet NaN with a payload that no kernel produces from the test's data: an output element
// still holding it was never written.
constexpr uint32_t kPoison = 0x7fc0beefu;

// Per-ISA record of what was exercised, printed at the end of the run.
std::atomic<int64_t> g_comparisons[ek::kNumIsas];


// Caller-owned indices of one element type.
class TypedIndices {
 public:
  void assign(ek::IndexType type, const std::vector<int64_t>& values) {
    type_ = type;
    n_ = static_cast<int64_t>(values.size());
    i32_.clear();
    u32_.clear();
    i64_.clear();
    for (int64_t v : values) {
      switch (type) {
        case ek::IndexType::Int32: i32_.push_back(static_cast<int32_t>(v)); break;
        case ek::IndexType::Uint32: u32_.push_back(static_cast<uint32_t>(v)); break;
        case ek::IndexType::Int64: i64_.push_back(v); break;
      }
    }
  }
  ek::IndexArray view() const {
    ek::IndexArray a;
    a.type = type_;
    a.length = n_;
    switch (type_) {
      case ek::IndexType::Int32: a.data = i32_.data(); break;
      case ek::IndexType::Uint32: a.data = u32_.data(); break;
      case ek::IndexType::Int64: a.data = i64_.data(); break;
    }
    return a;
  }

 private:
  ek::IndexType type_ = ek::IndexType::Int32;
  int64_t n_ = 0;
  std::vector<int32_t> i32_;
  std::vector<uint32_t> u32_;
  std::vector<int64_t> i64_;
};

TypedIndices typed(ek::IndexType type, const std::vector<int64_t>& values) {
  TypedIndices t;
  t.assign(type, values);
  return t;
}

// An output matrix with poisoned guard zones on both sides.
class OutBuf {
 public:
  static constexpr int64_t kGuard = 19;
  explicit OutBuf(int64_t n) : n_(n), storage_(static_cast<size_t>(n + 2 * kGuard)) { poison(); }
  float* data() { return storage_.data() + kGuard; }
  const float* data() const { return storage_.data() + kGuard; }
  int64_t size() const { return n_; }
  void poison() { std::fill(storage_.begin(), storage_.end(), from_bits(kPoison)); }
  bool guards_intact() const {
    for (int64_t i = 0; i < kGuard; ++i) {
      if (bits(storage_[i]) != kPoison || bits(storage_[kGuard + n_ + i]) != kPoison) return false;
    }
    return true;
  }

 private:
  int64_t n_;
  std::vector<float> storage_;
};

// A rows x dim table one float past an aligned start (no alignment beyond the element), and
// ending exactly at the end of its allocation (ASan sees any read past the last row).
class TableBuf {
 public:
  TableBuf(int64_t rows, int64_t dim) : rows_(rows), dim_(dim), storage_(1 + rows * dim) {}
  float* data() { return storage_.data() + 1; }
  g::Table table() const { return g::Table{storage_.data() + 1, rows_, dim_}; }
  float& at(int64_t r, int64_t c) { return storage_[1 + r * dim_ + c]; }
  float at(int64_t r, int64_t c) const { return storage_[1 + r * dim_ + c]; }

 private:
  int64_t rows_, dim_;
  std::vector<float> storage_;
};

// ---- an embedding_bag problem ------------------------------------------------------------

struct BagProblem {
  int64_t rows = 0, dim = 0;
  TableBuf table{0, 0};
  std::vector<int64_t> idx;     // the index values
  std::vector<int64_t> bounds;  // num_bags + 1 boundaries
  bool with_end = true;
  ek::IndexType index_type = ek::IndexType::Int32;
  ek::IndexType bounds_type = ek::IndexType::Int32;
  TypedIndices indices_t, bounds_t;
  std::vector<float> weights;  // empty: unweighted
  int64_t padding_idx = -1;
  g::PoolMode mode = g::PoolMode::Sum;

  int64_t num_bags() const { return static_cast<int64_t>(bounds.size()) - 1; }

  // Call after filling idx / bounds / types.
  void finish() {
    indices_t.assign(index_type, idx);
    std::vector<int64_t> b = bounds;
    if (!with_end) b.pop_back();
    bounds_t.assign(bounds_type, b);
  }

  g::BagArgs args(float* out) const {
    g::BagArgs a;
    a.table = table.table();
    a.indices = indices_t.view();
    a.bags.bounds = bounds_t.view();
    a.bags.num_bags = num_bags();
    a.bags.num_indices = static_cast<int64_t>(idx.size());
    a.mode = mode;
    a.weights = weights.empty() ? nullptr : weights.data();
    a.padding_idx = padding_idx;
    a.out = out;
    return a;
  }

  std::string describe() const {
    return str("rows=", rows, " dim=", dim, " bags=", num_bags(), " indices=", idx.size(), " ",
               type_name(index_type), " bounds=", type_name(bounds_type),
               with_end ? "(with end)" : "(offsets)", " mode=", mode_name(mode),
               weights.empty() ? "" : " weighted", " padding_idx=", padding_idx);
  }
};

enum class Shape { General, OneBag, OneRow };
const Shape kShapes[] = {Shape::General, Shape::OneBag, Shape::OneRow};
const char* shape_name(Shape s) {
  switch (s) {
    case Shape::General: return "general";
    case Shape::OneBag: return "one-bag";
    case Shape::OneRow: return "one-row";
  }
  return "?";
}

void fill_table(Rng& rng, BagProblem& p) {
  p.table = TableBuf(p.rows, p.dim);
  for (int64_t r = 0; r < p.rows; ++r) {
    for (int64_t c = 0; c < p.dim; ++c) p.table.at(r, c) = rng.nonzero();
  }
}

// Bag lengths are drawn so that every problem has, where the shape allows: empty bags, a bag
// of one row, a bag repeating one index, a padding-only bag, and random bags.
BagProblem make_problem(Rng& rng, Shape shape, int64_t dim, ek::IndexType type, g::PoolMode mode,
                        bool weighted, bool padded, bool with_end) {
  BagProblem p;
  p.dim = dim;
  p.mode = mode;
  p.with_end = with_end;
  p.index_type = type;
  p.bounds_type = kIndexTypes[rng.below(3)];
  p.rows = shape == Shape::OneRow ? 1 : rng.between(2, 48);
  fill_table(rng, p);
  p.padding_idx = padded ? rng.below(p.rows) : -1;

  std::vector<std::vector<int64_t>> bags;
  auto random_index = [&] {
    if (padded && rng.coin(0.2)) return p.padding_idx;
    return rng.below(p.rows);
  };
  auto random_bag = [&](int64_t len) {
    std::vector<int64_t> bag;
    for (int64_t i = 0; i < len; ++i) bag.push_back(random_index());
    return bag;
  };
  if (shape == Shape::OneBag) {
    bags.push_back(random_bag(rng.between(1, 30)));
  } else {
    bags.push_back({});                                    // empty
    bags.push_back({rng.below(p.rows)});                   // one row
    bags.push_back(std::vector<int64_t>(rng.between(2, 5), rng.below(p.rows)));  // repeated
    if (padded) bags.push_back(std::vector<int64_t>(rng.between(1, 3), p.padding_idx));
    const int64_t extra = rng.between(3, 8);
    for (int64_t i = 0; i < extra; ++i) bags.push_back(random_bag(rng.between(0, 12)));
    for (size_t i = bags.size(); i > 1; --i) std::swap(bags[i - 1], bags[rng.below(i)]);
  }
  p.bounds.push_back(0);
  for (const auto& bag : bags) {
    p.idx.insert(p.idx.end(), bag.begin(), bag.end());
    p.bounds.push_back(static_cast<int64_t>(p.idx.size()));
  }
  if (weighted) {
    for (size_t i = 0; i < p.idx.size(); ++i) p.weights.push_back(rng.nonzero());
  }
  p.finish();
  return p;
}

// Compares bags [b0, b1), columns [c0, c1) of `out` with the same elements of `ref`, and
// checks that everything outside that window still holds the poison. Returns false on the
// first bad bag (after reporting it).
bool compare_bags(const BagProblem& p, const OutBuf& out, const OutBuf& ref, int64_t b0,
                  int64_t b1, int64_t c0, int64_t c1, const char* what) {
  const int64_t dim = p.dim;
  if (!CHECK_MSG(out.guards_intact(), what, ": wrote outside the output array")) return false;
  for (int64_t b = 0; b < p.num_bags(); ++b) {
    const bool in_bags = b >= b0 && b < b1;
    for (int64_t c = 0; c < dim; ++c) {
      const float v = out.data()[b * dim + c];
      const bool in = in_bags && c >= c0 && c < c1;
      if (in && bits(v) == kPoison) {
        return CHECK_MSG(false, what, ": out[", b, "][", c, "] was never written");
      }
      if (!in && bits(v) != kPoison) {
        return CHECK_MSG(false, what, ": out[", b, "][", c, "] is outside bags [", b0, ",", b1,
                         ") x columns [", c0, ",", c1, ") but was written: ", show(v));
      }
    }
    if (!in_bags) continue;
    const float* o = out.data() + b * dim;
    const float* r = ref.data() + b * dim;
    int64_t count = 0;
    for (int64_t q = p.bounds[b]; q < p.bounds[b + 1]; ++q) count += p.idx[q] != p.padding_idx;
    if (p.mode == g::PoolMode::Max || count == 0) {
      // Bitwise: Max, and every empty or padding-only bag (exactly +0.0).
      for (int64_t c = c0; c < c1; ++c) {
        if (bits(o[c]) != bits(r[c])) {
          return CHECK_MSG(false, what, ": bag ", b, " (", count, " rows) column ", c, ": ",
                           show(o[c]), " but the reference has ", show(r[c]));
        }
        if (count == 0 && bits(o[c]) != 0u) {
          return CHECK_MSG(false, what, ": empty bag ", b, " column ", c, " is ", show(o[c]));
        }
      }
      continue;
    }
    double diff2 = 0, scale2 = 0, ref2 = 0;
    for (int64_t c = c0; c < c1; ++c) {
      double abs_sum = 0;
      for (int64_t q = p.bounds[b]; q < p.bounds[b + 1]; ++q) {
        if (p.idx[q] == p.padding_idx) continue;
        const double w = p.weights.empty() ? 1.0 : p.weights[q];
        abs_sum += std::fabs(w * p.table.at(p.idx[q], c));
      }
      if (p.mode == g::PoolMode::Mean) abs_sum /= static_cast<double>(count);
      const double d = static_cast<double>(o[c]) - static_cast<double>(r[c]);
      diff2 += d * d;
      scale2 += abs_sum * abs_sum;
      ref2 += static_cast<double>(r[c]) * r[c];
    }
    const double rel = std::sqrt(diff2) / std::sqrt(scale2);
    if (!(rel < 1e-6)) {
      return CHECK_MSG(false, what, ": bag ", b, " (", count, " rows) relative error ", rel,
                       " >= 1e-6 (||ref|| = ", std::sqrt(ref2), ", ||sum|w*row||| = ",
                       std::sqrt(scale2), ")");
    }
  }
  return true;
}

OutBuf reference_output(const BagProblem& p) {
  OutBuf ref(p.num_bags() * p.dim);
  g::reference_kernels().pool_bags(p.args(ref.data()), 0, p.num_bags(), 0, p.dim);
  return ref;
}

// ---- ISA coverage ------------------------------------------------------------------------

TEST(isa_names_and_selection) {
  for (ek::Isa isa : kAllIsas) {
    ek::Isa parsed;
    CHECK(ek::parse_isa(ek::isa_name(isa), &parsed));
    CHECK(parsed == isa);
    if (ek::isa_available(isa)) {
      std::printf("  isa %s: available on this CPU\n", ek::isa_name(isa));
      CHECK_EQ(ek::set_active_isa(isa), std::string());
      CHECK(ek::active_isa() == isa);
    } else {
      std::printf("  isa %s: not available on this CPU\n", ek::isa_name(isa));
      const ek::Isa before = ek::active_isa();
      CHECK(!ek::set_active_isa(isa).empty());  // refused, with a reason
      CHECK(ek::active_isa() == before);
    }
  }
  ek::Isa parsed;
  CHECK(!ek::parse_isa("sse2", &parsed));
  CHECK(!ek::parse_isa("", &parsed));
  CHECK(ek::isa_available(ek::Isa::Scalar));
  CHECK(ek::isa_available(ek::best_isa()));
#if defined(__aarch64__)
  CHECK(ek::isa_available(ek::Isa::Neon));
  CHECK(ek::best_isa() == ek::Isa::Neon);
  CHECK(g::neon_kernels() != nullptr);
  CHECK(g::avx2_kernels() == nullptr);
  CHECK(g::avx512_kernels() == nullptr);
#elif defined(__x86_64__)
  CHECK(!ek::isa_available(ek::Isa::Neon));
  CHECK(g::neon_kernels() == nullptr);
  // avx2_kernels()/avx512_kernels() are compiled for their ISA: call them only where it runs.
  if (ek::isa_available(ek::Isa::Avx2)) CHECK(g::avx2_kernels() != nullptr);
  if (ek::isa_available(ek::Isa::Avx512)) CHECK(g::avx512_kernels() != nullptr);
#endif
  CHECK(&g::kernels_for(ek::Isa::Scalar) == &g::reference_kernels());
  CHECK_EQ(ek::set_active_isa(ek::best_isa()), std::string());
}

// ---- gather ------------------------------------------------------------------------------

TEST(gather_rows_matches_reference) {
  Rng rng(harness::test_seed());
  const g::Kernels& ref_k = g::reference_kernels();
  for (int64_t dim : kDims) {
    for (ek::IndexType type : kIndexTypes) {
      for (int shape = 0; shape < 3; ++shape) {  // no indices, one row table, random
        const int64_t rows = shape == 1 ? 1 : rng.between(2, 40);
        const int64_t n = shape == 0 ? 0 : rng.between(1, 40);
        TableBuf table(rows, dim);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < dim; ++c) table.at(r, c) = rng.nonzero();
        }
        std::vector<int64_t> idx;
        for (int64_t i = 0; i < n; ++i) idx.push_back(i % 5 == 4 ? idx.back() : rng.below(rows));
        const TypedIndices ti = typed(type, idx);
        SCOPED_CONTEXT("gather rows=", rows, " dim=", dim, " n=", n, " ", type_name(type));
        OutBuf ref(n * dim);
        ref_k.gather_rows(table.table(), ti.view(), 0, n, ref.data());
        for (int64_t i = 0; i < n; ++i) {
          CHECK(std::memcmp(ref.data() + i * dim, &table.at(idx[i], 0), dim * sizeof(float)) == 0);
        }
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa));
          const g::Kernels& k = g::kernels_for(isa);
          OutBuf out(n * dim);
          k.gather_rows(table.table(), ti.view(), 0, n, out.data());
          CHECK(out.guards_intact());
          CHECK(std::memcmp(out.data(), ref.data(), n * dim * sizeof(float)) == 0);
          // A sub-range of rows writes those rows only.
          if (n > 0) {
            const int64_t begin = rng.below(n), end = rng.between(begin, n);
            out.poison();
            k.gather_rows(table.table(), ti.view(), begin, end, out.data());
            CHECK(out.guards_intact());
            for (int64_t e = 0; e < n * dim; ++e) {
              const bool in = e >= begin * dim && e < end * dim;
              const bool ok = in ? bits(out.data()[e]) == bits(ref.data()[e])
                                 : bits(out.data()[e]) == kPoison;
              if (!CHECK_MSG(ok, "rows [", begin, ",", end, ") element ", e)) break;
            }
          }
          // The whole operation through the dispatcher, for several thread counts.
          CHECK_EQ(ek::set_active_isa(isa), std::string());
          for (int threads : {1, 2, 3}) {
            CHECK_EQ(ek::set_thread_count(threads), std::string());
            out.poison();
            const uint64_t calls = ek::kernel_calls(isa);
            g::gather(table.table(), ti.view(), out.data());
            CHECK_EQ(ek::kernel_calls(isa), calls + 1);
            CHECK(out.guards_intact());
            CHECK_MSG(std::memcmp(out.data(), ref.data(), n * dim * sizeof(float)) == 0,
                      "gather() with ", threads, " threads");
          }
          g_comparisons[static_cast<int>(isa)] += 5;
        }
      }
    }
  }
}

TEST(gather_large_threaded) {
  // Big enough that gather() splits over the pool.
  Rng rng(harness::test_seed());
  const int64_t rows = 300, dim = harness::quick() ? 129 : 257, n = harness::quick() ? 700 : 3000;
  TableBuf table(rows, dim);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < dim; ++c) table.at(r, c) = rng.nonzero();
  }
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i) idx.push_back(rng.below(rows));
  for (ek::IndexType type : kIndexTypes) {
    const TypedIndices ti = typed(type, idx);
    OutBuf ref(n * dim);
    g::reference_kernels().gather_rows(table.table(), ti.view(), 0, n, ref.data());
    for (ek::Isa isa : runnable_isas()) {
      CHECK_EQ(ek::set_active_isa(isa), std::string());
      for (int threads : {1, 2, 3, 4}) {
        CHECK_EQ(ek::set_thread_count(threads), std::string());
        OutBuf out(n * dim);
        g::gather(table.table(), ti.view(), out.data());
        CHECK(out.guards_intact());
        CHECK_MSG(std::memcmp(out.data(), ref.data(), n * dim * sizeof(float)) == 0, "isa ",
                  ek::isa_name(isa), " ", type_name(type), " threads ", threads);
      }
    }
  }
}

// ---- embedding_bag: kernels vs reference -------------------------------------------------

TEST(pool_bags_matches_reference) {
  Rng rng(harness::test_seed());
  const std::vector<ek::Isa> isas = runnable_isas();
  int64_t cases = 0;
  for (int64_t dim : kDims) {
    for (Shape shape : kShapes) {
      for (ek::IndexType type : kIndexTypes) {
        for (g::PoolMode mode : kModes) {
          for (int flags = 0; flags < 8; ++flags) {
            const bool weighted = flags & 1, padded = flags & 2, with_end = flags & 4;
            // Quick mode (emulators): one random bounds form instead of both.
            if (harness::quick() && with_end != ((cases + dim) % 2 == 0)) continue;
            ++cases;
            const BagProblem p =
                make_problem(rng, shape, dim, type, mode, weighted, padded, with_end);
            SCOPED_CONTEXT(shape_name(shape), " ", p.describe());
            const OutBuf ref = reference_output(p);
            // The oracle itself: every element written, nothing outside.
            if (!compare_bags(p, ref, ref, 0, p.num_bags(), 0, dim, "reference")) return;
            for (ek::Isa isa : isas) {
              SCOPED_CONTEXT("isa ", ek::isa_name(isa));
              const g::Kernels& k = g::kernels_for(isa);
              OutBuf out(p.num_bags() * dim);
              k.pool_bags(p.args(out.data()), 0, p.num_bags(), 0, dim);
              if (!compare_bags(p, out, ref, 0, p.num_bags(), 0, dim, "pool_bags(all)")) return;

              // A column split: [16, 48) where the row is wide enough, else a random
              // sub-range; and a sub-range of bags.
              int64_t c0, c1;
              if (dim >= 64) {
                c0 = 16;
                c1 = 48;
              } else {
                c0 = rng.below(dim);
                c1 = rng.between(c0 + 1, dim);
                if (c0 == 0 && c1 == dim && dim > 1) c0 = 1;
              }
              const int64_t b0 = rng.below(p.num_bags());
              const int64_t b1 = rng.between(b0 + 1, p.num_bags());
              out.poison();
              k.pool_bags(p.args(out.data()), b0, b1, c0, c1);
              if (!compare_bags(p, out, ref, b0, b1, c0, c1, "pool_bags(split)")) return;
              g_comparisons[static_cast<int>(isa)] += 2;
            }
          }
        }
      }
    }
  }
  std::printf("  %lld problems x %zu ISAs\n", static_cast<long long>(cases), isas.size());
}

TEST(embedding_bag_dispatch_matches_reference) {
  Rng rng(harness::test_seed());
  for (ek::Isa isa : runnable_isas()) {
    SCOPED_CONTEXT("isa ", ek::isa_name(isa));
    CHECK_EQ(ek::set_active_isa(isa), std::string());
    for (int64_t dim : kDims) {
      for (ek::IndexType type : kIndexTypes) {
        for (g::PoolMode mode : kModes) {
          const Shape shape = kShapes[rng.below(3)];
          const BagProblem p = make_problem(rng, shape, dim, type, mode, rng.coin(0.5),
                                            rng.coin(0.5), rng.coin(0.5));
          SCOPED_CONTEXT(shape_name(shape), " ", p.describe());
          const OutBuf ref = reference_output(p);
          for (int threads : {1, 2}) {
            SCOPED_CONTEXT("threads ", threads);
            CHECK_EQ(ek::set_thread_count(threads), std::string());
            OutBuf out(p.num_bags() * dim);
            const uint64_t calls = ek::kernel_calls(isa);
            g::embedding_bag(p.args(out.data()));
            CHECK_EQ(ek::kernel_calls(isa), calls + 1);
            if (!compare_bags(p, out, ref, 0, p.num_bags(), 0, dim, "embedding_bag")) return;
            g_comparisons[static_cast<int>(isa)] += 1;
          }
        }
      }
    }
  }
  // No bags: nothing written, nothing read.
  for (ek::Isa isa : runnable_isas()) {
    CHECK_EQ(ek::set_active_isa(isa), std::string());
    BagProblem p;
    p.rows = 3;
    p.dim = 8;
    Rng r2(1);
    fill_table(r2, p);
    p.bounds = {0};
    p.finish();
    OutBuf out(0);
    g::embedding_bag(p.args(out.data()));
    CHECK(out.guards_intact());
  }
}

// Max: ties, signed zeros, infinities and NaNs, bitwise. The semantics: the first
// (non-padding) row initializes; a later row replaces an element only when strictly greater.
// A bag of one position takes its own kernel (pool_one_position in gather/body.h); the same
// id followed by a padding id takes the register-block kernel and pools the same single row.
// The two must agree bit for bit on every ISA, in every format, mode, weighting, id mapping
// (plain, pruned remap, hashed) and for scatter-add's accumulate, over whole rows and a
// column range. Bags of one pruned or padding id must give +0.0 (or leave the destination).
TEST(one_position_bags_match_the_block_kernel) {
  Rng rng(harness::test_seed());
  const g::TableFormat kFormats[] = {g::TableFormat::F32, g::TableFormat::F16,
                                     g::TableFormat::BF16, g::TableFormat::Q8,
                                     g::TableFormat::Q4};
  enum class Ids { Plain, Pruned, Hashed };
  const int64_t kOneDims[] = {1, 5, 8, 17, 64, 100, 129, 300};
  int64_t cases = 0;
  for (g::TableFormat format : kFormats) {
    for (int64_t dim : kOneDims) {
      // Random rows in the format's storage: finite f32 / f16 / bf16 values, random codes.
      const int64_t rows = 23;
      std::vector<float> f32(static_cast<size_t>(rows * dim));
      for (float& v : f32) v = rng.nonzero();
      std::vector<uint8_t> codes(static_cast<size_t>(rows * g::row_stride_bytes(format, dim)));
      for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(rng.below(256));
      if (format == g::TableFormat::F16 || format == g::TableFormat::BF16) {
        // Clear each uint16's top exponent bit: no infinities or NaNs.
        for (size_t i = 1; i < codes.size(); i += 2) codes[i] &= 0xbf;
      }
      std::vector<float> scales(rows), biases(rows);
      for (int64_t r = 0; r < rows; ++r) {
        scales[r] = rng.uniform(0.001f, 0.1f);
        biases[r] = rng.nonzero();
      }
      std::vector<int32_t> remap(static_cast<size_t>(rows + 9));
      for (int32_t& r : remap) r = rng.coin(0.3) ? -1 : static_cast<int32_t>(rng.below(rows));

      for (Ids ids : {Ids::Plain, Ids::Pruned, Ids::Hashed}) {
        g::Table t{format == g::TableFormat::F32 ? f32.data() : nullptr, rows, dim, format};
        if (format != g::TableFormat::F32) {
          t.codes = codes.data();
          t.scales = scales.data();
          t.biases = biases.data();
        }
        int64_t id_space = rows;
        if (ids == Ids::Pruned) {
          t.remap = remap.data();
          t.remap_length = id_space = static_cast<int64_t>(remap.size());
        } else if (ids == Ids::Hashed) {
          t.hashed = true;
          id_space = int64_t{1} << 40;
        }
        const int64_t padding = rng.below(std::min<int64_t>(id_space, rows));
        const int64_t n = 41;
        std::vector<int64_t> single, twin, single_b, twin_b;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t id = rng.coin(0.1) ? padding : rng.below(id_space);
          single_b.push_back(i);
          single.push_back(id);
          twin_b.push_back(2 * i);
          twin.push_back(id);
          twin.push_back(padding);
        }
        single_b.push_back(n);
        twin_b.push_back(2 * n);
        std::vector<float> w1(n), w2(2 * n);
        for (int64_t i = 0; i < n; ++i) {
          w1[i] = w2[2 * i] = rng.nonzero();
          w2[2 * i + 1] = rng.nonzero();  // the padding's weight: never used
        }
        const ek::IndexType type = kIndexTypes[rng.below(3)];
        const TypedIndices si = typed(type, single), ti = typed(type, twin);
        const TypedIndices sb = typed(ek::IndexType::Int64, single_b);
        const TypedIndices tb = typed(ek::IndexType::Int64, twin_b);
        std::vector<float> start(static_cast<size_t>(n * dim));
        for (float& v : start) v = rng.nonzero();

        for (g::PoolMode mode : kModes) {
          for (int variant = 0; variant < 3; ++variant) {
            const bool weighted = variant == 1;
            const bool accumulate = variant == 2;
            if (accumulate && mode != g::PoolMode::Sum) continue;
            ++cases;
            SCOPED_CONTEXT("format ", static_cast<int>(format), " dim ", dim, " ids ",
                           static_cast<int>(ids), " ", type_name(type), " mode ",
                           mode_name(mode), weighted ? " weighted" : "",
                           accumulate ? " accumulate" : "");
            auto args = [&](const TypedIndices& idx, const TypedIndices& bounds,
                            std::vector<float>& w, float* out) {
              g::BagArgs a;
              a.table = t;
              a.indices = idx.view();
              a.bags.bounds = bounds.view();
              a.bags.num_bags = n;
              a.bags.num_indices = idx.view().length;
              a.mode = mode;
              a.weights = weighted ? w.data() : nullptr;
              a.padding_idx = padding;
              a.accumulate = accumulate;
              a.out = out;
              return a;
            };
            const int64_t c0 = dim > 20 ? 3 : 0, c1 = dim > 20 ? dim - 2 : dim;
            for (ek::Isa isa : runnable_isas()) {
              SCOPED_CONTEXT("isa ", ek::isa_name(isa));
              const g::Kernels& k = g::kernels_for(isa);
              for (int split = 0; split < 2; ++split) {
                const int64_t lo = split ? c0 : 0, hi = split ? c1 : dim;
                std::vector<float> one = start, block = start;
                if (!accumulate) {
                  std::fill(one.begin(), one.end(), from_bits(kPoison));
                  std::fill(block.begin(), block.end(), from_bits(kPoison));
                }
                k.pool_bags(args(si, sb, w1, one.data()), 0, n, lo, hi);
                k.pool_bags(args(ti, tb, w2, block.data()), 0, n, lo, hi);
                for (int64_t i = 0; i < n * dim; ++i) {
                  if (!CHECK_MSG(bits(one[i]) == bits(block[i]), "columns [", lo, ",", hi,
                                 ") bag ", i / dim, " column ", i % dim, ": one position ",
                                 show(one[i]), ", block kernel ", show(block[i]))) {
                    return;
                  }
                }
                // A bag that pools nothing: +0.0, or the destination unchanged.
                for (int64_t b = 0; b < n; ++b) {
                  const int64_t r = t.hashed || t.remap == nullptr ? 0 : t.remap[single[b]];
                  if (single[b] != padding && r >= 0) continue;
                  const float want = accumulate ? start[b * dim + lo] : 0.0f;
                  if (!CHECK_MSG(bits(one[b * dim + lo]) == bits(want), "bag ", b,
                                 " pools nothing but holds ", show(one[b * dim + lo]))) {
                    return;
                  }
                }
              }
              ++g_comparisons[static_cast<int>(isa)];
            }
          }
        }
      }
    }
  }
  std::printf("  %lld cases\n", static_cast<long long>(cases));
}

// A max problem of values from a small set (many ties, -0 and +0, infinities), NaN in a
// share of the elements, and one row (*nan_row) half NaN that starts many bags.
BagProblem max_specials_problem(Rng& rng, int64_t dim, ek::IndexType type, bool padded, int64_t* nan_row) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float values[] = {-2.0f, -1.0f, -0.0f, +0.0f, 1.0f, 2.0f, -inf, inf};
  BagProblem p = make_problem(rng, Shape::General, dim, type, g::PoolMode::Max, false, padded, rng.coin(0.5));
  *nan_row = rng.below(p.rows);
  for (int64_t r = 0; r < p.rows; ++r) {
    for (int64_t c = 0; c < dim; ++c) {
      const bool is_nan = r == *nan_row ? rng.coin(0.5) : rng.coin(0.05);
      p.table.at(r, c) = is_nan ? nan : values[rng.below(8)];
    }
  }
  for (int64_t b = 0; b < p.num_bags(); ++b) {
    if (p.bounds[b] < p.bounds[b + 1] && rng.coin(0.5)) p.idx[p.bounds[b]] = *nan_row;
  }
  if (p.padding_idx == *nan_row) p.padding_idx = -1;
  p.finish();
  return p;
}

TEST(pool_bags_max_special_values) {
  // Hand-made: rows r0 and r1, a pattern of 6 columns tiled over the dimension.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float r0p[6] = {-0.0f, +0.0f, nan, 1.0f, 3.0f, -inf};
  const float r1p[6] = {+0.0f, -0.0f, 5.0f, nan, 3.0f, -inf};
  // bag [r0, r1] and bag [r1, r0]
  const float want01[6] = {-0.0f, +0.0f, nan, 1.0f, 3.0f, -inf};
  const float want10[6] = {+0.0f, -0.0f, 5.0f, nan, 3.0f, -inf};
  for (int64_t dim : kDims) {
    BagProblem p;
    p.rows = 3;  // row 2: padding, all +inf (must never win)
    p.dim = dim;
    p.mode = g::PoolMode::Max;
    p.table = TableBuf(3, dim);
    for (int64_t c = 0; c < dim; ++c) {
      p.table.at(0, c) = r0p[c % 6];
      p.table.at(1, c) = r1p[c % 6];
      p.table.at(2, c) = inf;
    }
    p.padding_idx = 2;
    // bag 0: rows 0, 1 -> want01. bag 1: padding only -> +0. bag 2: rows 1, padding, 0 ->
    // want10. bag 3: padding only -> +0.
    p.idx = {0, 1, 2, 1, 2, 0, 2, 2};
    p.bounds = {0, 2, 3, 6, 8};
    for (ek::IndexType type : kIndexTypes) {
      p.index_type = type;
      p.bounds_type = type;
      p.finish();
      for (ek::Isa isa : runnable_isas()) {
        SCOPED_CONTEXT("hand-made max, isa ", ek::isa_name(isa), " dim ", dim, " ", type_name(type));
        OutBuf out(4 * dim);
        const g::Kernels& k = g::kernels_for(isa);
        k.pool_bags(p.args(out.data()), 0, 4, 0, dim);
        CHECK(out.guards_intact());
        for (int64_t c = 0; c < dim; ++c) {
          const float* o = out.data();
          const bool ok = bits(o[c]) == bits(want01[c % 6]) &&
                          bits(o[dim + c]) == 0u &&
                          bits(o[2 * dim + c]) == bits(want10[c % 6]) &&
                          bits(o[3 * dim + c]) == 0u;
          if (!CHECK_MSG(ok, "column ", c, ": bags got ", show(o[c]), ", ", show(o[dim + c]),
                         ", ", show(o[2 * dim + c]), ", ", show(o[3 * dim + c]), "; want ",
                         show(want01[c % 6]), ", +0, ", show(want10[c % 6]), ", +0")) {
            break;
          }
        }
        g_comparisons[static_cast<int>(isa)] += 1;
      }
    }
  }

  // Random: values from a small set (many ties), NaN in a share of the elements, and the
  // first row of many bags holding NaNs (max_specials_problem).
  Rng rng(harness::test_seed());
  for (int64_t dim : kDims) {
    for (ek::IndexType type : kIndexTypes) {
      for (bool padded : {false, true}) {
        int64_t nan_row = 0;
        const BagProblem p = max_specials_problem(rng, dim, type, padded, &nan_row);
        SCOPED_CONTEXT("random max specials ", p.describe());
        const OutBuf ref = reference_output(p);
        // The oracle follows the stated semantics: a bag whose first non-padding row is the
        // NaN row has NaN wherever that row has.
        for (int64_t b = 0; b < p.num_bags(); ++b) {
          int64_t first = -1;
          for (int64_t q = p.bounds[b]; q < p.bounds[b + 1] && first < 0; ++q) {
            if (p.idx[q] != p.padding_idx) first = p.idx[q];
          }
          if (first != nan_row) continue;
          for (int64_t c = 0; c < dim; ++c) {
            if (std::isnan(p.table.at(nan_row, c))) {
              CHECK_MSG(std::isnan(ref.data()[b * dim + c]), "reference bag ", b, " col ", c);
            }
          }
        }
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa));
          OutBuf out(p.num_bags() * dim);
          g::kernels_for(isa).pool_bags(p.args(out.data()), 0, p.num_bags(), 0, dim);
          if (!compare_bags(p, out, ref, 0, p.num_bags(), 0, dim, "max specials")) return;
          g_comparisons[static_cast<int>(isa)] += 1;
        }
      }
    }
  }
}

// Max with winners (returnArgmax): every ISA's kernel gives the scalar oracle's values and
// winners bit for bit, over the whole output and over a sub-range of bags and columns (where
// nothing outside is written). The oracle's winners are checked against the definition: the
// first non-padding entry holding the bag's maximum (or the first entry when that is NaN).
TEST(pool_bags_max_argmax_matches_reference) {
  Rng rng(harness::test_seed());
  constexpr int32_t kUnwritten = -7;
  for (int64_t dim : kDims) {
    for (ek::IndexType type : kIndexTypes) {
      for (bool padded : {false, true}) {
        int64_t nan_row = 0;
        const BagProblem p = max_specials_problem(rng, dim, type, padded, &nan_row);
        SCOPED_CONTEXT("max with argmax ", p.describe());
        const int64_t bags = p.num_bags();
        OutBuf ref(bags * dim);
        std::vector<int32_t> ref_arg(static_cast<size_t>(bags * dim), kUnwritten);
        g::reference_kernels().pool_bags_max_argmax(p.args(ref.data()), 0, bags, 0, dim, ref_arg.data());
        for (int64_t b = 0; b < bags; ++b) {
          for (int64_t c = 0; c < dim; ++c) {
            const int32_t w = ref_arg[static_cast<size_t>(b * dim + c)];
            const float v = ref.data()[b * dim + c];
            int64_t first = -1, want = -1;
            for (int64_t q = p.bounds[b]; q < p.bounds[b + 1]; ++q) {
              if (p.idx[q] == p.padding_idx) continue;
              if (first < 0) first = p.idx[q];
              if (want < 0 && bits(p.table.at(p.idx[q], c)) == bits(v)) want = p.idx[q];
            }
            if (std::isnan(v)) want = first;
            if (!CHECK_MSG(w == want, "reference bag ", b, " column ", c, ": winner ", w, ", want ", want)) return;
          }
        }
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa));
          const g::Kernels& k = g::kernels_for(isa);
          OutBuf out(bags * dim);
          std::vector<int32_t> arg(static_cast<size_t>(bags * dim), kUnwritten);
          k.pool_bags_max_argmax(p.args(out.data()), 0, bags, 0, dim, arg.data());
          CHECK(out.guards_intact());
          for (int64_t e = 0; e < bags * dim; ++e) {
            const size_t i = static_cast<size_t>(e);
            if (!CHECK_MSG(bits(out.data()[e]) == bits(ref.data()[e]) && arg[i] == ref_arg[i], "element ", e,
                           ": ", show(out.data()[e]), " won by ", arg[i], "; the reference ", show(ref.data()[e]),
                           " won by ", ref_arg[i])) {
              return;
            }
          }
          // A sub-range of bags and columns: the same values there, nothing written elsewhere.
          const int64_t b0 = rng.below(bags), b1 = rng.between(b0 + 1, bags);
          const int64_t c0 = rng.below(dim), c1 = rng.between(c0 + 1, dim);
          out.poison();
          std::fill(arg.begin(), arg.end(), kUnwritten);
          k.pool_bags_max_argmax(p.args(out.data()), b0, b1, c0, c1, arg.data());
          CHECK(out.guards_intact());
          for (int64_t b = 0; b < bags; ++b) {
            for (int64_t c = 0; c < dim; ++c) {
              const int64_t e = b * dim + c;
              const size_t i = static_cast<size_t>(e);
              const bool in = b >= b0 && b < b1 && c >= c0 && c < c1;
              const bool ok = in ? bits(out.data()[e]) == bits(ref.data()[e]) && arg[i] == ref_arg[i]
                                 : bits(out.data()[e]) == kPoison && arg[i] == kUnwritten;
              if (!CHECK_MSG(ok, "split [", b0, ",", b1, ") x [", c0, ",", c1, "): element ", e, " is ",
                             show(out.data()[e]), " / ", arg[i])) {
                return;
              }
            }
          }
          g_comparisons[static_cast<int>(isa)] += 2;
        }
      }
    }
  }
}

// ---- thread invariance -------------------------------------------------------------------

// One bag per entry of `lengths`, indices random.
BagProblem make_sized_problem(Rng& rng, int64_t rows, int64_t dim,
                              const std::vector<int64_t>& lengths, g::PoolMode mode,
                              bool weighted, ek::IndexType type) {
  BagProblem p;
  p.rows = rows;
  p.dim = dim;
  p.mode = mode;
  p.index_type = type;
  p.bounds_type = type;
  p.with_end = rng.coin(0.5);
  fill_table(rng, p);
  p.padding_idx = rng.below(rows);
  p.bounds.push_back(0);
  for (int64_t len : lengths) {
    for (int64_t i = 0; i < len; ++i) p.idx.push_back(rng.below(rows));
    p.bounds.push_back(static_cast<int64_t>(p.idx.size()));
  }
  if (weighted) {
    for (size_t i = 0; i < p.idx.size(); ++i) p.weights.push_back(rng.nonzero());
  }
  p.finish();
  return p;
}

TEST(embedding_bag_thread_invariance) {
  Rng rng(harness::test_seed());
  const bool quick = harness::quick();
  const int64_t dim = 200;  // not a multiple of the 16-column split quantum
  const int64_t big = quick ? 1500 : 6000;
  struct Scenario {
    const char* name;
    std::vector<int64_t> lengths;
  };
  std::vector<Scenario> scenarios;
  // Few bags, one holding most indices: fewer bags than tasks, so columns are split.
  scenarios.push_back({"skewed-few", {3, big, 0, 5}});
  // One huge bag among many small ones: bag ranges of equal cost.
  {
    std::vector<int64_t> lengths(60);
    for (int64_t& l : lengths) l = rng.between(0, 4);
    lengths[rng.below(60)] = big;
    scenarios.push_back({"skewed-many", lengths});
  }
  // Many small bags.
  {
    std::vector<int64_t> lengths(quick ? 300 : 1500);
    for (int64_t& l : lengths) l = rng.between(0, 8);
    scenarios.push_back({"many-small", lengths});
  }
  for (const Scenario& s : scenarios) {
    for (g::PoolMode mode : kModes) {
      for (bool weighted : {false, true}) {
        if (mode == g::PoolMode::Max && weighted) continue;
        const BagProblem p = make_sized_problem(rng, 500, dim, s.lengths, mode, weighted,
                                                kIndexTypes[rng.below(3)]);
        SCOPED_CONTEXT(s.name, " ", p.describe());
        const int64_t cost = (static_cast<int64_t>(p.idx.size()) + p.num_bags()) * dim;
        // The scenario really takes the path it is named for.
        for (int threads : {2, 3}) {
          CHECK_EQ(ek::set_thread_count(threads), std::string());
          const int64_t tasks = ek::task_count_for(cost, 8192);
          if (std::string(s.name) == "skewed-few") {
            CHECK_MSG(p.num_bags() < tasks, "column split expected: ", p.num_bags(), " bags, ",
                      tasks, " tasks with ", threads, " threads");
          } else {
            CHECK_MSG(tasks > 1 && p.num_bags() >= tasks, "bag split expected: ", p.num_bags(),
                      " bags, ", tasks, " tasks with ", threads, " threads");
          }
        }
        const OutBuf ref = reference_output(p);
        for (ek::Isa isa : runnable_isas()) {
          SCOPED_CONTEXT("isa ", ek::isa_name(isa));
          CHECK_EQ(ek::set_active_isa(isa), std::string());
          std::vector<OutBuf> outs;
          for (int threads : {1, 2, 3}) {
            CHECK_EQ(ek::set_thread_count(threads), std::string());
            outs.emplace_back(p.num_bags() * dim);
            g::embedding_bag(p.args(outs.back().data()));
            CHECK(outs.back().guards_intact());
          }
          if (!compare_bags(p, outs[0], ref, 0, p.num_bags(), 0, dim, "1 thread")) return;
          for (size_t i = 1; i < outs.size(); ++i) {
            const bool same = std::memcmp(outs[i].data(), outs[0].data(),
                                          outs[0].size() * sizeof(float)) == 0;
            CHECK_MSG(same, i + 1, " threads differ bitwise from 1 thread");
          }
          g_comparisons[static_cast<int>(isa)] += 3;
        }
      }
    }
  }
}

// ---- validation ------------------------------------------------------------------------

void expect_check(const g::BagCheck& got, g::BagError error, int64_t position, const char* what) {
  CHECK_MSG(got.error == error && got.position == position, what, ": got ",
            error_name(got.error), " at ", got.position, ", want ", error_name(error), " at ",
            position);
}

TEST(validate_offsets_errors) {
  const int64_t big = int64_t{1} << 32;
  for (ek::IndexType t : kIndexTypes) {
    SCOPED_CONTEXT(type_name(t));
    auto check = [&](const std::vector<int64_t>& v, bool with_end, int64_t n, g::BagError e,
                     int64_t pos, const char* what) {
      const TypedIndices b = typed(t, v);
      expect_check(g::validate_offsets(b.view(), with_end, n), e, pos, what);
    };
    check({}, false, 0, g::BagError::None, -1, "no bags");
    check({0}, false, 0, g::BagError::None, -1, "one empty bag");
    check({0}, false, 7, g::BagError::None, -1, "one bag holding all");
    check({0, 0}, true, 0, g::BagError::None, -1, "one empty bag, with end");
    check({0, 2, 2, 5}, false, 5, g::BagError::None, -1, "offsets");
    check({0, 2, 2, 5}, true, 5, g::BagError::None, -1, "boundaries");
    check({0, 5, 5}, false, 5, g::BagError::None, -1, "trailing empty bag");
    check({1, 2, 3}, false, 5, g::BagError::FirstNotZero, 0, "first 1");
    check({3}, true, 3, g::BagError::FirstNotZero, 0, "first 3");
    check({0, 3, 2, 5}, true, 5, g::BagError::Decreasing, 2, "decreasing");
    check({0, 1, 2, 1}, false, 5, g::BagError::Decreasing, 3, "decreasing at last");
    check({0, 6, 7}, false, 5, g::BagError::PastEnd, 1, "past end");
    check({0, 1, 6}, false, 5, g::BagError::PastEnd, 2, "past end at last");
    check({0, 2, 4}, true, 5, g::BagError::LastNotEnd, 2, "last not end");
    check({0}, true, 5, g::BagError::LastNotEnd, 0, "with end, only 0");
  }
  // Values only signed 32-bit or 64-bit types can hold.
  auto check_typed = [](ek::IndexType t, const std::vector<int64_t>& v, bool with_end, int64_t n,
                        g::BagError e, int64_t pos, const char* what) {
    const TypedIndices b = typed(t, v);
    SCOPED_CONTEXT(type_name(t));
    expect_check(g::validate_offsets(b.view(), with_end, n), e, pos, what);
  };
  check_typed(ek::IndexType::Int32, {0, -1}, false, 5, g::BagError::Decreasing, 1, "int32 -1");
  check_typed(ek::IndexType::Int64, {0, -1}, false, 5, g::BagError::Decreasing, 1, "int64 -1");
  check_typed(ek::IndexType::Uint32, {0, 0xffffffffll}, false, 5, g::BagError::PastEnd, 1,
              "uint32 max");
  check_typed(ek::IndexType::Uint32, {0, 0x80000000ll}, false, 5, g::BagError::PastEnd, 1,
              "uint32 2^31 is not negative");
  check_typed(ek::IndexType::Int64, {big}, false, 5, g::BagError::FirstNotZero, 0,
              "int64 2^32 is not 0");
  check_typed(ek::IndexType::Int64, {0, big + 1}, false, 5, g::BagError::PastEnd, 1,
              "int64 2^32+1 is not 1");
  check_typed(ek::IndexType::Int64, {0, 3, big + 2}, true, big + 2, g::BagError::None, -1,
              "int64 beyond 2^32, valid");
  check_typed(ek::IndexType::Int64, {0, big, big - 1}, false, big, g::BagError::Decreasing, 2,
              "int64 beyond 2^32, decreasing");
  check_typed(ek::IndexType::Int64, {0, big, big}, true, big + 1, g::BagError::LastNotEnd, 2,
              "int64 beyond 2^32, last not end");
}

TEST(offsets_from_lengths_errors) {
  const int64_t big = int64_t{1} << 32;
  for (ek::IndexType t : kIndexTypes) {
    SCOPED_CONTEXT(type_name(t));
    std::vector<int64_t> bounds;
    auto check = [&](const std::vector<int64_t>& v, int64_t n, g::BagError e, int64_t pos,
                     const char* what) {
      const TypedIndices l = typed(t, v);
      bounds.clear();
      expect_check(g::offsets_from_lengths(l.view(), n, &bounds), e, pos, what);
    };
    check({2, 0, 3}, 5, g::BagError::None, -1, "valid");
    CHECK(bounds == (std::vector<int64_t>{0, 2, 2, 5}));
    check({}, 0, g::BagError::None, -1, "no bags");
    CHECK(bounds == (std::vector<int64_t>{0}));
    check({0, 0}, 0, g::BagError::None, -1, "empty bags");
    CHECK(bounds == (std::vector<int64_t>{0, 0, 0}));
    check({2, 4, 1}, 5, g::BagError::LengthSum, 1, "too long at 1");
    check({6}, 5, g::BagError::LengthSum, 0, "too long at 0");
    check({1, 1, 1, 3}, 5, g::BagError::LengthSum, 3, "too long at last");
    check({1, 1}, 5, g::BagError::LengthSum, 2, "too short");
    check({}, 5, g::BagError::LengthSum, 0, "no bags, indices left");
  }
  auto check_typed = [](ek::IndexType t, const std::vector<int64_t>& v, int64_t n,
                        g::BagError e, int64_t pos, const char* what) {
    const TypedIndices l = typed(t, v);
    std::vector<int64_t> bounds;
    SCOPED_CONTEXT(type_name(t));
    expect_check(g::offsets_from_lengths(l.view(), n, &bounds), e, pos, what);
  };
  check_typed(ek::IndexType::Int32, {2, -1, 4}, 5, g::BagError::NegativeLength, 1, "int32 -1");
  check_typed(ek::IndexType::Int32, {-1}, 5, g::BagError::NegativeLength, 0, "int32 -1 first");
  check_typed(ek::IndexType::Int32, {1, 2, -7}, 5, g::BagError::NegativeLength, 2,
              "int32 -7 last");
  check_typed(ek::IndexType::Int64, {2, -(big + 1)}, 5, g::BagError::NegativeLength, 1,
              "int64 -(2^32+1)");
  check_typed(ek::IndexType::Uint32, {2, 0xffffffffll}, 5, g::BagError::LengthSum, 1,
              "uint32 max is not -1");
  check_typed(ek::IndexType::Int64, {2, big + 1}, 5, g::BagError::LengthSum, 1,
              "int64 2^32+1 is not 1");
  check_typed(ek::IndexType::Int64,
              {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()}, 5,
              g::BagError::LengthSum, 0, "int64 max (no overflow)");
  check_typed(ek::IndexType::Int64, {big, 1}, big + 1, g::BagError::None, -1,
              "int64 beyond 2^32, valid");
}

TEST(find_index_out_of_range_positions) {
  Rng rng(harness::test_seed());
  const int64_t big = int64_t{1} << 32;
  for (ek::IndexType t : kIndexTypes) {
    SCOPED_CONTEXT(type_name(t));
    for (int64_t n : {0, 1, 2, 255, 256, 257, 1000}) {
      const int64_t limit = 100;
      std::vector<int64_t> v(n);
      for (int64_t& x : v) x = rng.below(limit);
      if (n > 0) v[rng.below(n)] = limit - 1;
      if (n > 0) v[rng.below(n)] = 0;
      CHECK_EQ(ek::find_index_out_of_range(typed(t, v).view(), limit), int64_t{-1});
      if (n == 0) continue;
      // One bad value at the first, the last and a random position; then two bad values.
      const std::vector<int64_t> bad = {limit, limit + 1, -1,
                                        t == ek::IndexType::Int64 ? big + 3 : 0x7fffffffll};
      for (int64_t value : bad) {
        if (value < 0 && t == ek::IndexType::Uint32) continue;
        for (int64_t pos : {int64_t{0}, n - 1, rng.below(n)}) {
          std::vector<int64_t> w = v;
          w[pos] = value;
          SCOPED_CONTEXT("n ", n, " value ", value, " at ", pos);
          CHECK_EQ(ek::find_index_out_of_range(typed(t, w).view(), limit), pos);
        }
        if (n >= 3) {
          std::vector<int64_t> w = v;
          const int64_t first = rng.below(n - 1);
          const int64_t second = rng.between(first + 1, n - 1);
          w[second] = value;
          w[first] = value;
          CHECK_EQ(ek::find_index_out_of_range(typed(t, w).view(), limit), first);
        }
      }
    }
  }
  // Values that only fit a wider type.
  auto first_bad = [](ek::IndexType t, const std::vector<int64_t>& v, int64_t limit) {
    return ek::find_index_out_of_range(typed(t, v).view(), limit);
  };
  // int64 2^32+3 would read as 3 if truncated to 32 bits.
  CHECK_EQ(first_bad(ek::IndexType::Int64, {1, 2, big + 3}, 10), int64_t{2});
  CHECK_EQ(first_bad(ek::IndexType::Int64, {big + 3, 1}, 10), int64_t{0});
  CHECK_EQ(first_bad(ek::IndexType::Int64, {1, -big}, 10), int64_t{1});
  CHECK_EQ(first_bad(ek::IndexType::Int64, {big, big + 5, 0}, big + 6), int64_t{-1});
  CHECK_EQ(first_bad(ek::IndexType::Int64, {0, big + 6}, big + 6), int64_t{1});
  // uint32 above 2^31 is a large row number, not a negative one.
  CHECK_EQ(first_bad(ek::IndexType::Uint32, {0, 0x80000000ll, 0xffffffffll}, big), int64_t{-1});
  CHECK_EQ(first_bad(ek::IndexType::Uint32, {0, 0xffffffffll}, 0xffffffffll), int64_t{1});
  CHECK_EQ(first_bad(ek::IndexType::Int32, {0, -2147483648ll}, big), int64_t{1});
  CHECK_EQ(first_bad(ek::IndexType::Int32, {0, 2147483647ll}, 2147483648ll), int64_t{-1});
  CHECK_EQ(first_bad(ek::IndexType::Int32, {5}, 0), int64_t{0});  // empty table
}

// ---- parallel_for ----------------------------------------------------------------------

TEST(parallel_for_runs_every_task_once) {
  for (int threads = 1; threads <= 5; ++threads) {
    CHECK_EQ(ek::set_thread_count(threads), std::string());
    CHECK_EQ(ek::thread_count(), threads);
    for (int64_t n : {0, 1, 2, 3, 5, 7, 64, 1000}) {
      for (int rep = 0; rep < 5; ++rep) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
        for (auto& r : runs) r.store(0);
        std::atomic<int> outside{0};
        ek::parallel_for(n, [&](int64_t t) {
          if (t >= 0 && t < n) {
            runs[static_cast<size_t>(t)].fetch_add(1);
          } else {
            outside.fetch_add(1);
          }
        });
        CHECK_MSG(outside.load() == 0, threads, " threads, ", n, " tasks: ", outside.load(),
                  " calls with a task number outside [0, n)");
        for (int64_t t = 0; t < n; ++t) {
          if (!CHECK_MSG(runs[t].load() == 1, threads, " threads, ", n, " tasks: task ", t,
                         " ran ", runs[t].load(), " times")) {
            break;
          }
        }
      }
    }
  }
  CHECK(!ek::set_thread_count(0).empty());
  CHECK(!ek::set_thread_count(ek::kMaxThreads + 1).empty());
  CHECK_EQ(ek::thread_count(), 5);  // unchanged by the refused calls
  CHECK_EQ(ek::set_thread_count(1), std::string());
  CHECK_EQ(ek::task_count_for(1 << 30, 8192), int64_t{1});
  CHECK_EQ(ek::set_thread_count(4), std::string());
  CHECK_EQ(ek::task_count_for(1000, 8192), int64_t{1});
  CHECK_EQ(ek::task_count_for(1 << 30, 8192), int64_t{16});
  CHECK_EQ(ek::task_count_for(3 * 8192, 8192), int64_t{3});
  CHECK_EQ(ek::set_thread_count(2), std::string());
}

TEST(release_threads_joins_the_pool_and_it_comes_back) {
  CHECK_EQ(ek::set_thread_count(3), std::string());
  std::atomic<int64_t> sum{0};
  ek::parallel_for(64, [&](int64_t t) { sum += t; });
  CHECK(ek::live_pool_threads() == 2);
  ek::release_threads();
  CHECK(ek::live_pool_threads() == 0);
  ek::parallel_for(64, [&](int64_t t) { sum += t; });  // starts them again
  CHECK(ek::live_pool_threads() == 2);
  CHECK(sum.load() == 2 * (63 * 64 / 2));
  ek::release_threads();
  CHECK_EQ(ek::set_thread_count(2), std::string());
}

TEST(parallel_for_nested_runs_inline) {
  for (int threads = 1; threads <= 5; ++threads) {
    CHECK_EQ(ek::set_thread_count(threads), std::string());
    const int64_t outer = 12, inner = 9;
    std::vector<std::atomic<int>> runs(static_cast<size_t>(outer * inner));
    for (auto& r : runs) r.store(0);
    std::atomic<int> not_inline{0};
    ek::parallel_for(outer, [&](int64_t o) {
      const std::thread::id me = std::this_thread::get_id();
      ek::parallel_for(inner, [&](int64_t i) {
        if (std::this_thread::get_id() != me) not_inline.fetch_add(1);
        runs[static_cast<size_t>(o * inner + i)].fetch_add(1);
      });
    });
    CHECK_MSG(not_inline.load() == 0, threads, " threads: ", not_inline.load(),
              " nested tasks ran on another thread");
    for (int64_t t = 0; t < outer * inner; ++t) {
      if (!CHECK_MSG(runs[t].load() == 1, threads, " threads: nested task ", t, " ran ",
                     runs[t].load(), " times")) {
        break;
      }
    }
  }
  CHECK_EQ(ek::set_thread_count(2), std::string());
}

// The caller returns once every task has run, without waiting for helpers that wake too
// late to take one; such a helper must then touch nothing of the finished call (its closure
// and data are gone: under the sanitizers a stale call is a stack-use-after-scope). Calls
// back to back (helpers still polling), and after pauses longer than their polling, so that
// helpers sleep and wake late; tasks of uneven length.
TEST(parallel_for_late_helpers_touch_nothing_of_finished_calls) {
  const int iterations = harness::quick() ? 300 : 1200;
  for (int threads : {2, 3, 5}) {
    CHECK_EQ(ek::set_thread_count(threads), std::string());
    int bad = 0;
    for (int it = 0; it < iterations; ++it) {
      const int64_t n = 2 + it % 9;
      std::vector<int64_t> out(static_cast<size_t>(n), 0);
      ek::parallel_for(n, [&out, it](int64_t t) {
        if ((t + it) % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
        out[static_cast<size_t>(t)] += t + 1;
      });
      for (int64_t t = 0; t < n; ++t) bad += out[static_cast<size_t>(t)] != t + 1;
      // Helpers napping (300 us) or asleep on the condition variable (3 ms, past the pool's
      // 2 ms nap window) when the next call comes.
      if (it % 3 == 2) std::this_thread::sleep_for(std::chrono::microseconds(300));
      if (it % 50 == 49) std::this_thread::sleep_for(std::chrono::microseconds(3000));
    }
    CHECK_MSG(bad == 0, threads, " threads: ", bad, " tasks ran a wrong number of times");
  }
  CHECK_EQ(ek::set_thread_count(2), std::string());
}

TEST(parallel_for_concurrent_callers) {
  const int iterations = harness::quick() ? 100 : 400;
  for (int threads : {2, 3, 5}) {
    CHECK_EQ(ek::set_thread_count(threads), std::string());
    std::atomic<int> bad{0};
    auto caller = [&](int id) {
      for (int it = 0; it < iterations; ++it) {
        const int64_t n = 1 + (it * 7 + id * 13) % 97;
        std::vector<int64_t> out(static_cast<size_t>(n), -1);
        ek::parallel_for(n, [&](int64_t t) { out[static_cast<size_t>(t)] += t * (id + 2) + 1; });
        for (int64_t t = 0; t < n; ++t) {
          if (out[static_cast<size_t>(t)] != t * (id + 2)) bad.fetch_add(1);
        }
      }
    };
    std::thread a(caller, 0), b(caller, 1);
    a.join();
    b.join();
    CHECK_MSG(bad.load() == 0, threads, " threads: ", bad.load(), " wrong results");
  }
  // Two callers of the whole kernel at once.
  CHECK_EQ(ek::set_thread_count(3), std::string());
  Rng rng(harness::test_seed());
  const std::vector<int64_t> lengths(200, 6);
  const BagProblem p = make_sized_problem(rng, 100, 64, lengths, g::PoolMode::Sum, true,
                                          ek::IndexType::Int32);
  const OutBuf ref = reference_output(p);
  CHECK_EQ(ek::set_thread_count(1), std::string());
  OutBuf one(p.num_bags() * p.dim);
  g::embedding_bag(p.args(one.data()));
  CHECK(compare_bags(p, one, ref, 0, p.num_bags(), 0, p.dim, "one thread"));
  CHECK_EQ(ek::set_thread_count(3), std::string());
  std::atomic<int> bad{0};
  auto bag_caller = [&] {
    for (int it = 0; it < (harness::quick() ? 10 : 50); ++it) {
      OutBuf out(p.num_bags() * p.dim);
      g::embedding_bag(p.args(out.data()));
      // Pooled by the pool or inline (the pool busy with the other caller): bitwise the same.
      if (!out.guards_intact() ||
          std::memcmp(out.data(), one.data(), one.size() * sizeof(float)) != 0) {
        bad.fetch_add(1);
      }
    }
  };
  std::thread a(bag_caller), b(bag_caller);
  a.join();
  b.join();
  CHECK_EQ(bad.load(), 0);
  CHECK_EQ(ek::set_thread_count(2), std::string());
}

// Last: what ran where. A log shows which ISA paths this CPU exercised.
TEST(isa_coverage_summary) {
  for (ek::Isa isa : kAllIsas) {
    const int64_t n = g_comparisons[static_cast<int>(isa)].load();
    if (!ek::isa_available(isa)) {
      std::printf("  skipped %s: not available on this CPU\n", ek::isa_name(isa));
      CHECK_EQ(n, int64_t{0});
    } else if (n > 0) {
      std::printf("  tested %s: %lld comparisons against the reference\n", ek::isa_name(isa),
                  static_cast<long long>(n));
    } else {
      std::printf("  not exercised %s: available, but no comparison ran (tests filtered?)\n",
                  ek::isa_name(isa));
    }
  }
}

}  // namespace
