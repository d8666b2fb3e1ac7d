// What a parallel call costs on top of its work: embedkit's thread pool (common/parallel.cc)
// timed on a loop of calls, each `work` microseconds of busy-waiting split in 4 tasks, with a
// pause between calls (0 and 30 us: the pool threads are still polling; 300 and 1,000 us: they
// nap; 5,000 us: they sleep and must be woken). Built and run by bench/thread-pool/latency.sh.
//
//   latency [calls=2000]
//
// Prints the median and 90th percentile per call for 1 and 2 threads (1 thread runs inline:
// the work alone).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/parallel.h"

namespace {

using Clock = std::chrono::steady_clock;

void busy_wait(double us) {
  const auto end = Clock::now() + std::chrono::duration<double, std::micro>(us);
  while (Clock::now() < end) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::atomic<long> sink{0};
  for (int threads : {1, 2}) {
    embedkit::set_thread_count(threads);
    for (int pause_us : {0, 30, 300, 1000, 5000}) {
      for (int work_us : {0, 5, 20, 100, 500}) {
        std::vector<double> us;
        const int n = pause_us >= 1000 ? std::max(calls / 10, 20) : calls;  // keeps a run short
        for (int c = 0; c < n; ++c) {
          const auto t0 = Clock::now();
          embedkit::parallel_for(4, [&](int64_t t) {
            busy_wait(work_us / 4.0);
            sink += t;
          });
          us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
          busy_wait(pause_us);
        }
        std::sort(us.begin(), us.end());
        std::printf("threads %d, pause %4d us, work %3d us in 4 tasks: median %6.1f us, p90 %6.1f us\n", threads,
                    pause_us, work_us, us[us.size() / 2], us[us.size() * 9 / 10]);
      }
    }
  }
  return static_cast<int>(sink.load() & 0);
}
