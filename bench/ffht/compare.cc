// Single-threaded FWHT timing: embedkit's kernel against FFHT (FALCONN-LIB/FFHT, built from a
// checkout the caller names; never vendored here) on the same data, alternating the two in
// every repetition so a noisy machine slows both alike. Prints the median of each and the
// ratio. Built and run by bench/ffht/compare.sh.
//
//   compare [total_floats_log2=23] [reps=9] [offset_bytes=16]
//
// Both buffers start offset_bytes past a 64-byte boundary: 16 (the default) is where a plain
// `new Float32Array` or a large std::vector starts (glibc's chunk header), 0 a line-aligned
// buffer such as embedkit's allocFloat32.
// Both transform rows of 2^L floats in place, unnormalized, one row at a time for FFHT and
// all rows per call for embedkit (one thread). Each repetition restores the input first
// (outside the timed region) so values never overflow.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/isa.h"
#include "common/parallel.h"
#include "jl/jl.h"

extern "C" int fht_float(float* buf, int log_n);

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int total_log2 = argc > 1 ? std::atoi(argv[1]) : 23;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 9;
  const int offset_bytes = argc > 3 ? std::atoi(argv[3]) : 16;
  if (offset_bytes < 0 || offset_bytes >= 64 || offset_bytes % 4 != 0) {
    std::fprintf(stderr, "offset_bytes must be a multiple of 4 in [0, 64)\n");
    return 1;
  }
  embedkit::set_thread_count(1);
  const int64_t total = int64_t{1} << total_log2;
  std::vector<float> src(static_cast<size_t>(total));
  // Two extra lines per buffer, so that the offset stays inside it.
  std::vector<float> a_storage(src.size() + 32), b_storage(src.size() + 32);
  auto place = [&](std::vector<float>& storage) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(storage.data());
    return reinterpret_cast<float*>((p + 63) / 64 * 64 + static_cast<uintptr_t>(offset_bytes));
  };
  float* const a = place(a_storage);
  float* const b = place(b_storage);
  uint32_t s = 12345;
  for (float& f : src) {
    s = s * 1664525u + 1013904223u;
    f = static_cast<float>(s >> 8) * 0x1p-24f - 0.5f;
  }
  std::printf("isa %s, one thread, %lld floats (%.0f MiB) per call, %d bytes past a line, median of %d alternating reps\n",
              embedkit::isa_name(embedkit::active_isa()), static_cast<long long>(total),
              total * 4.0 / (1 << 20), offset_bytes, reps);
  std::printf("%-8s %12s %12s %10s %14s\n", "n", "FFHT ms", "embedkit ms", "FFHT/ek", "max |diff|");
  for (int log2n : {10, 12, 16, 20, 24}) {
    if (log2n > total_log2) continue;
    const int64_t n = int64_t{1} << log2n;
    const int64_t rows = total / n;
    std::vector<double> tf, te;
    float maxdiff = 0;
    for (int r = 0; r < reps; ++r) {
      std::memcpy(a, src.data(), src.size() * sizeof(float));
      std::memcpy(b, src.data(), src.size() * sizeof(float));
      // Alternate which goes first.
      for (int turn = 0; turn < 2; ++turn) {
        if ((turn ^ (r & 1)) == 0) {
          const double t0 = now_ms();
          for (int64_t i = 0; i < rows; ++i) fht_float(a + i * n, log2n);
          tf.push_back(now_ms() - t0);
        } else {
          const double t0 = now_ms();
          embedkit::jl::fwht(b, rows, log2n, false);
          te.push_back(now_ms() - t0);
        }
      }
      if (r == 0) {
        for (int64_t i = 0; i < total; ++i) maxdiff = std::max(maxdiff, std::fabs(a[i] - b[i]) / (1.0f + std::fabs(a[i])));
      }
    }
    const double mf = median(tf), me = median(te);
    std::printf("2^%-6d %12.2f %12.2f %9.2fx %14.2e\n", log2n, mf, me, mf / me, maxdiff);
  }
  return 0;
}
