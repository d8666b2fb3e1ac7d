// libFuzzer target for the codebook family: a random token -> code map (empty codes, one
// code, one token), logits with -inf / +inf / NaN, and every op on the chosen ISA and thread
// count. Each must stay within its arrays (ASan); the expansion must equal the definition
// bit for bit; ops must give the same bits on one thread; top-k ids must be a permutation
// prefix of the vocabulary and samples valid tokens (or -1); assignment must pick a code
// whose float64 score is within float32 rounding of the best.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "codebook/codebook.h"
#include "fuzz_input.h"

namespace cb = embedkit::codebook;

namespace {

float logit(fuzz::Input& in) {
  switch (in.u8() % 16) {
    case 0: return -std::numeric_limits<float>::infinity();
    case 1: return std::numeric_limits<float>::infinity();
    case 2: return std::numeric_limits<float>::quiet_NaN();
    default: return in.value();
  }
}

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Runs op on the chosen thread count and on one thread; the outputs must match bit for bit.
template <class T, class Op>
std::vector<T> thread_invariant(const char* what, size_t n, Op op) {
  std::vector<T> got(n), one(n);
  op(got.data());
  const int threads = embedkit::thread_count();
  embedkit::set_thread_count(1);
  op(one.data());
  embedkit::set_thread_count(threads);
  if (!same(got, one)) fuzz::fail(what);
  return got;
}

void fuzz_vq(fuzz::Input& in) {
  const int64_t v = in.between(1, 3000), k = in.between(1, 70), rows = in.between(0, 4);
  std::vector<int32_t> t2c(static_cast<size_t>(v));
  const int64_t used = in.between(1, k);
  for (auto& c : t2c) c = static_cast<int32_t>(in.between(0, used - 1));
  if (cb::find_code_out_of_range(t2c.data(), v, k) != -1) fuzz::fail("valid map refused");
  std::vector<int32_t> counts(static_cast<size_t>(k)), offsets(static_cast<size_t>(k + 1)), tokens(static_cast<size_t>(v));
  std::vector<double> logs(static_cast<size_t>(k));
  cb::build_vq_map(t2c.data(), v, k, counts.data(), logs.data(), offsets.data(), tokens.data());
  const cb::VqMap map{v, k, t2c.data(), counts.data(), logs.data(), offsets.data(), tokens.data()};
  std::vector<float> logits(static_cast<size_t>(rows * k));
  for (auto& x : logits) x = logit(in);
  const cb::CodeLogits L{logits.data(), rows};

  const auto full = thread_invariant<float>("vq_expand differs across threads", static_cast<size_t>(rows * v),
                                            [&](float* o) { cb::vq_expand(L, map, o); });
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t t = 0; t < v; ++t) {
      const float want = logits[static_cast<size_t>(b * k + t2c[static_cast<size_t>(t)])];
      if (std::memcmp(&full[static_cast<size_t>(b * v + t)], &want, 4) != 0) fuzz::fail("vq_expand is not a copy");
    }
  }
  thread_invariant<float>("vq_log_sum_exp differs across threads", static_cast<size_t>(rows),
                          [&](float* o) { cb::vq_log_sum_exp(L, map, o); });
  std::vector<int32_t> targets(static_cast<size_t>(rows));
  for (auto& t : targets) t = static_cast<int32_t>(in.between(0, v - 1));
  thread_invariant<float>("vq_cross_entropy differs across threads", static_cast<size_t>(rows * (k + 1)), [&](float* o) {
    cb::vq_cross_entropy(L, map, embedkit::IndexArray{targets.data(), rows, embedkit::IndexType::Int32}, o, o + rows);
  });
  const int64_t top = in.between(1, v);
  const auto ids = thread_invariant<int32_t>("vq_top_k differs across threads", static_cast<size_t>(rows * top), [&](int32_t* o) {
    std::vector<float> lp(static_cast<size_t>(rows * top));
    cb::vq_top_k(L, map, top, o, lp.data());
  });
  for (int64_t b = 0; b < rows; ++b) {
    std::vector<char> seen(static_cast<size_t>(v), 0);
    for (int64_t i = 0; i < top; ++i) {
      const int32_t t = ids[static_cast<size_t>(b * top + i)];
      if (t < 0 || t >= v || seen[static_cast<size_t>(t)]) fuzz::fail("vq_top_k repeats or invents a token");
      seen[static_cast<size_t>(t)] = 1;
    }
  }
  const double temperature = 0.05 + in.between(0, 100) / 10.0;
  const uint64_t seed = in.u64();
  const auto drawn = thread_invariant<int32_t>("vq_sample differs across threads", static_cast<size_t>(rows),
                                               [&](int32_t* o) { cb::vq_sample(L, map, seed, temperature, o); });
  for (int32_t t : drawn) {
    if (t < -1 || t >= v) fuzz::fail("vq_sample drew no token of the vocabulary");
  }
}

void fuzz_assign(fuzz::Input& in) {
  const int64_t dim = in.between(1, 40), codes = in.between(1, 40), rows = in.between(0, 30);
  std::vector<float> x(static_cast<size_t>(rows * dim)), book(static_cast<size_t>(codes * dim));
  for (auto& f : x) f = in.value();
  for (auto& f : book) f = in.value();
  const cb::Metric metric = in.flag() ? cb::Metric::InnerProduct : cb::Metric::L2;
  std::vector<float> dist(static_cast<size_t>(rows));
  const auto got = thread_invariant<int32_t>("assign differs across threads", static_cast<size_t>(rows), [&](int32_t* o) {
    cb::assign(cb::Rows{x.data(), rows, dim, dim}, book.data(), codes, metric, o, dist.data());
  });
  for (int64_t r = 0; r < rows; ++r) {
    auto score = [&](int64_t c) {
      double s = 0;
      for (int64_t i = 0; i < dim; ++i) {
        const double a = x[static_cast<size_t>(r * dim + i)], b = book[static_cast<size_t>(c * dim + i)];
        s += metric == cb::Metric::L2 ? (a - b) * (a - b) : a * b;
      }
      return s;
    };
    const int32_t c = got[static_cast<size_t>(r)];
    if (c < 0 || c >= codes) fuzz::fail("assign chose no code");
    double best = score(0), scale = 0;
    for (int64_t j = 1; j < codes; ++j) best = metric == cb::Metric::L2 ? std::min(best, score(j)) : std::max(best, score(j));
    for (int64_t i = 0; i < dim; ++i) scale += 16.0 * 2;  // |values| <= 4
    const double slack = metric == cb::Metric::L2 ? score(c) - best : best - score(c);
    if (slack > 1e-5 * scale) fuzz::fail("assign chose a code worse than float32 rounding allows");
  }
}

void fuzz_pq(fuzz::Input& in) {
  const int64_t m = in.between(1, 4), dsub = in.between(1, 5), dim = m * dsub;
  const int bits = static_cast<int>(in.between(1, 8));
  const int64_t ksub = int64_t{1} << bits, n = in.between(ksub, ksub + 20);
  std::vector<float> x(static_cast<size_t>(n * dim));
  for (auto& f : x) f = in.value();
  std::vector<float> books(static_cast<size_t>(ksub * dim));
  const int iterations = static_cast<int>(in.between(0, 3));
  const uint64_t seed = in.u64();
  const auto trained = thread_invariant<float>("pq_train differs across threads", books.size(), [&](float* o) {
    cb::pq_train(x.data(), n, dim, m, ksub, iterations, seed, o);
  });
  const cb::Pq pq{dim, m, ksub, trained.data()};
  const auto codes = thread_invariant<uint8_t>("pq_encode differs across threads", static_cast<size_t>(n * m),
                                               [&](uint8_t* o) { cb::pq_encode(pq, x.data(), n, o); });
  for (uint8_t c : codes) {
    if (c >= ksub) fuzz::fail("pq_encode wrote a code past 2^bits");
  }
  std::vector<float> tables(static_cast<size_t>(m * ksub));
  cb::pq_distance_table(pq, x.data(), 1, in.flag() ? cb::Metric::L2 : cb::Metric::InnerProduct, tables.data());
  const int64_t k = in.between(1, n);
  thread_invariant<int32_t>("pq_scan differs across threads", static_cast<size_t>(k), [&](int32_t* o) {
    std::vector<float> d(static_cast<size_t>(k));
    cb::pq_scan(pq, tables.data(), 1, cb::Metric::L2, codes.data(), n, k, o, d.data());
  });
  std::vector<int32_t> idx;
  std::vector<int64_t> bounds{0};
  const int64_t bags = in.between(0, 4);
  for (int64_t b = 0; b < bags; ++b) {
    for (int64_t len = in.between(0, 6); len > 0; --len) idx.push_back(static_cast<int32_t>(in.between(0, n - 1)));
    bounds.push_back(static_cast<int64_t>(idx.size()));
  }
  const embedkit::gather::Bags bag_view{embedkit::IndexArray{bounds.data(), static_cast<int64_t>(bounds.size()), embedkit::IndexType::Int64},
                                        bags, static_cast<int64_t>(idx.size())};
  const bool mean = in.flag();
  thread_invariant<float>("pq_embedding_bag differs across threads", static_cast<size_t>(bags * dim), [&](float* o) {
    cb::pq_embedding_bag(pq, codes.data(), embedkit::IndexArray{idx.data(), static_cast<int64_t>(idx.size()), embedkit::IndexType::Int32},
                         bag_view, nullptr, mean, o);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  fuzz::pick_path(in);
  switch (in.between(0, 2)) {
    case 0: fuzz_vq(in); break;
    case 1: fuzz_assign(in); break;
    default: fuzz_pq(in); break;
  }
  return 0;
}
