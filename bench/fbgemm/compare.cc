// FBGEMM's fp32 EmbeddingSpMDM (embedding-bag sum) and embedkit's embedding_bag, side by side
// in one process on the same table, indices and offsets: 1,000,000 rows, dims 32 / 64 / 128 /
// 256, 16,384 bags x 32 uniform random int32 ids, no weights. The table is mmap'd and advised
// for huge pages before first touch (its AnonHugePages is printed). Per dim, the two kernels
// are timed in alternating rounds (each round: 3 warm-up calls, then the median of 9), for 1
// and 2 threads; a round's medians are listed, so drift of the shared machine shows.
// FBGEMM's 2-thread call splits the bags in two halves on two std::threads (created per
// call); embedkit uses its own pool (set_thread_count). Results are checked against each
// other (max relative difference printed).
//
// Built by bench/fbgemm/compare.sh against an FBGEMM build the caller made; FBGEMM is never
// part of this repository.
#include <fbgemm/FbgemmEmbedding.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/parallel.h"
#include "gather/gather.h"
#include "bag_args.h"

namespace {

constexpr int64_t kRows = 1000000;
constexpr int64_t kBags = 16384;
constexpr int64_t kBagLen = 32;
constexpr int64_t kIdx = kBags * kBagLen;

long huge_kb_for(const void* addr) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  bool in = false;
  const auto a = reinterpret_cast<uintptr_t>(addr);
  while (std::getline(f, line)) {
    unsigned long lo, hi;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find('-') < line.find(' ')) {
      in = a >= lo && a < hi;
    } else if (in && line.rfind("AnonHugePages:", 0) == 0) {
      long kb = 0;
      std::sscanf(line.c_str(), "AnonHugePages: %ld", &kb);
      return kb;
    }
  }
  return -1;
}

double median_ms(const std::function<void()>& fn, int warm, int timed) {
  for (int i = 0; i < warm; ++i) fn();
  std::vector<double> t(timed);
  for (int i = 0; i < timed; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  std::sort(t.begin(), t.end());
  return t[timed / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> dist(0, kRows - 1);
  std::vector<int32_t> idx(kIdx), off(kBags + 1);
  for (auto& v : idx) v = dist(rng);
  for (int64_t b = 0; b <= kBags; ++b) off[b] = static_cast<int32_t>(b * kBagLen);

  std::printf("rows %ld, %ld bags x %ld ids; M rows/s per round (median of 9 calls)\n", (long)kRows,
              (long)kBags, (long)kBagLen);
  std::printf("%-4s %-3s %-9s %s\n", "dim", "thr", "kernel", "rounds");
  for (int64_t dim : {32, 64, 128, 256}) {
    const size_t n = static_cast<size_t>(kRows) * dim;
    const size_t bytes = n * sizeof(float);
    void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return 1;
    madvise(map, bytes, MADV_HUGEPAGE);
    float* table = static_cast<float*>(map);
    uint64_t s = 1234 + dim;
    for (size_t i = 0; i < n; ++i) {
      s ^= s << 13; s ^= s >> 7; s ^= s << 17;
      table[i] = static_cast<float>(static_cast<int64_t>(s >> 40) - (1ll << 23)) * (1.0f / (1 << 23));
    }
    std::vector<float> out_f(kBags * dim), out_e(kBags * dim);

    auto fb = fbgemm::GenerateEmbeddingSpMDM<float, int32_t, int32_t, float>(
        dim, /*has_weight=*/false, /*normalize_by_lengths=*/false, /*prefetch=*/16,
        /*is_weight_positional=*/false, /*use_offsets=*/true);
    const int64_t half = kBags / 2;
    auto fbgemm_call = [&](int threads) {
      if (threads == 1) {
        fb(kBags, kIdx, kRows, table, idx.data(), off.data(), nullptr, out_f.data());
        return;
      }
      std::thread t0([&] { fb(half, half * kBagLen, kRows, table, idx.data(), off.data(), nullptr, out_f.data()); });
      std::thread t1([&] {
        fb(kBags - half, (kBags - half) * kBagLen, kRows, table, idx.data() + half * kBagLen, off.data(),
           nullptr, out_f.data() + half * dim);
      });
      t0.join();
      t1.join();
    };

    const embedkit::gather::BagArgs a =
        sum_bag_args(table, kRows, dim, idx.data(), kIdx, off.data(), kBags, out_e.data());
    auto embedkit_call = [&](int threads) {
      embedkit::set_thread_count(threads);
      embedkit::gather::embedding_bag(a);
    };

    fbgemm_call(1);
    embedkit_call(1);
    double diff = 0;
    for (size_t i = 0; i < out_f.size(); ++i) {
      diff = std::max(diff, std::fabs(static_cast<double>(out_f[i]) - out_e[i]) / (1.0 + std::fabs(out_f[i])));
    }
    std::printf("dim %ld: table AnonHugePages %ld kB, max rel difference %.2g\n", (long)dim, huge_kb_for(table), diff);
    for (int threads : {1, 2}) {
      std::string rf, re;
      for (int r = 0; r < rounds; ++r) {
        const double mf = median_ms([&] { fbgemm_call(threads); }, 3, 9);
        const double me = median_ms([&] { embedkit_call(threads); }, 3, 9);
        char buf[32];
        std::snprintf(buf, sizeof buf, " %6.2f", kIdx / mf / 1e3);
        rf += buf;
        std::snprintf(buf, sizeof buf, " %6.2f", kIdx / me / 1e3);
        re += buf;
      }
      std::printf("%-4ld %-3d %-9s%s\n%-4ld %-3d %-9s%s\n", (long)dim, threads, "FBGEMM", rf.c_str(), (long)dim,
                  threads, "embedkit", re.c_str());
      std::fflush(stdout);
    }
    munmap(map, bytes);
  }
  return 0;
}
