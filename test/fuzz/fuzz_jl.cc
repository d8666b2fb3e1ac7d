// libFuzzer target for the JL family: every op over shapes within the binding's limits
// (row lengths, padded sizes, output sizes from 1 to the padded size, densities from tiny to
// 1, any seed), on the chosen ISA and thread count, must stay within its arrays (ASan) and
// give the scalar path's bits on one thread: the family promises the same bits everywhere.
#include <cmath>
#include <cstring>
#include <vector>

#include "fuzz_input.h"
#include "common/philox.h"
#include "jl/jl.h"

namespace jl = embedkit::jl;

namespace {

std::vector<float> values(fuzz::Input& in, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = in.value();
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Runs `op` on the chosen path and on the scalar path with one thread; the outputs must match.
template <class Op>
void against_scalar(const char* what, size_t n, Op op) {
  std::vector<float> got(n, 7.0f), want(n, 7.0f);
  op(got.data());
  const embedkit::Isa isa = embedkit::active_isa();
  const int threads = embedkit::thread_count();
  embedkit::set_active_isa(embedkit::Isa::Scalar);
  embedkit::set_thread_count(1);
  op(want.data());
  embedkit::set_active_isa(isa);
  embedkit::set_thread_count(threads);
  if (!same_bits(got, want)) fuzz::fail(what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  fuzz::pick_path(in);
  const int op = static_cast<int>(in.between(0, 4));
  const int64_t rows = in.between(0, 5);
  const uint64_t seed = in.u64();
  if (op == 0) {  // fwht, in place, short and long rows (the recursive split past 2^12)
    const int log2n = static_cast<int>(in.between(0, 16));
    const int64_t n = int64_t{1} << log2n;
    const bool normalize = in.flag();
    const std::vector<float> x = values(in, rows * n);
    against_scalar("fwht differs from the scalar path", x.size(), [&](float* y) {
      if (!x.empty()) std::memcpy(y, x.data(), x.size() * sizeof(float));
      jl::fwht(y, rows, log2n, normalize);
    });
    return 0;
  }
  const int64_t d = in.between(1, 600);
  const int64_t n = jl::padded_size(d);
  const int64_t k = in.between(1, op == 3 || op == 4 ? 600 : n);
  const double density = in.flag() ? 1.0 : 1.0 / static_cast<double>(in.between(1, 1 << 20));
  const std::vector<float> x = values(in, rows * d);
  const size_t out_n = static_cast<size_t>(rows * k);
  switch (op) {
    case 1:
      against_scalar("srht differs from the scalar path", out_n,
                     [&](float* y) { jl::srht(x.data(), rows, d, k, seed, y); });
      break;
    case 2:
      against_scalar("fjlt differs from the scalar path", out_n,
                     [&](float* y) { jl::fjlt(x.data(), rows, d, k, seed, density, y); });
      break;
    case 3:
      against_scalar("sparse_projection differs from the scalar path", out_n, [&](float* y) {
        jl::sparse_projection(x.data(), rows, d, k, seed, density, y);
      });
      break;
    default: {  // a materialized matrix: the same bits as generating it on the fly
      jl::SparseMatrix m;
      jl::make_sparse(seed, embedkit::philox::kSparse, k, d, density, jl::sparse_value(density, k), &m);
      std::vector<float> on_the_fly(out_n);
      jl::sparse_projection(x.data(), rows, d, k, seed, density, on_the_fly.data());
      against_scalar("csr_project differs from the scalar path", out_n,
                     [&](float* y) { jl::csr_project(x.data(), rows, m.view(), y); });
      std::vector<float> materialized(out_n);
      jl::csr_project(x.data(), rows, m.view(), materialized.data());
      if (!same_bits(materialized, on_the_fly)) fuzz::fail("csr_project differs from sparse_projection");
    }
  }
  return 0;
}
