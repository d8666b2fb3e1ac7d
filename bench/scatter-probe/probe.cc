// Where scatterAdd's time goes: the shipped plan-free scatter-add next to loops that move the
// same bytes in simpler patterns, all in one process, alternated within every repetition so
// that a noisy machine slows each alike. Built and run by bench/scatter-probe/probe.sh.
//
//   probe [rows=1000000] [n=524288] [dim=128] [reps=7]
//
// The bench suite's uniform shape by default: n source rows of dim floats added into a
// rows-row table at uniform random rows. Each line gives the median ms, the source rows per
// second, and the GB/s of the bytes that pattern must move:
//   scatter_add        n rows of src read, n dst rows read + written at random: 3 rows per index
//   plan scatter_add   the same through a plan built once (src rows read at random, dst rows
//                      in ascending order): the shipped plan form, which pools rows that
//                      repeat and runs the row kernel in plan order otherwise; "plan as
//                      gather" always pools (the gather family's kernels), for A/B
//   stream add         dst2[i] += src[i] over a contiguous n-row dst2: the same 3 rows per
//                      index with no random access (the DRAM streaming bound for this traffic)
//   random rmw         dst[idx[i]] += 1: the random read + write alone, 2 rows per index
//   random read        sum of dst[idx[i]]: random reads alone, 1 row per index
//   gather             out[i] = dst[idx[i]]: 1 random row read + 1 row written in order
//   read interleaved   (2 threads) src read by two threads each owning every other row at
//                      random, as a destination-row split leaves them; "read halves" the same
//                      rows as two contiguous halves; "read col halves" every row, each thread
//                      half of its columns, as the shipped column split reads src
//   cols split <d>     (2 threads) the scatter-add as a plain AVX2 loop split by columns (each
//                      thread all positions, half of every row; the shipped split), both rows
//                      prefetched d positions ahead; "cols src nta" with src prefetched by
//                      PREFETCHNTA, "cols src hw" with src left to the hardware prefetcher
// and the CPU time of the process during the case (both threads together; see cpu_ms).
// 1 and 2 threads where the loop can be split (contiguous position ranges; the rmw loops then
// race on repeated rows, which a timing does not mind). Tables are advised for huge pages,
// as the bench allocates them. PROBE_PREFETCH=1 adds "pf <distance> <hint>" cases: the
// scatter-add arithmetic with the prefetch distance and kind as parameters, split by position
// like the loops above; PROBE_SPLIT=1 adds "rows <tasks> tasks" cases on 2+ threads: the
// shipped kernel under the shipped row-range split with the task count as a parameter;
// PROBE_ONLY=<prefix>[,<prefix>...] keeps only some cases; PROBE_ZIPF=<s> draws the indices
// from Zipf(s) over the rows (ranks scattered, as the bench does) instead of uniformly;
// PROBE_ZIPF_SORTED=1 leaves rank k at row k (ids sorted by frequency, the hot rows side by
// side); PROBE_DST_SHIFT=<bytes> starts dst that many bytes past a line boundary (16: where a
// plain Float32Array starts).
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <immintrin.h>

#include "common/isa.h"
#include "common/parallel.h"
#include "gather/gather.h"
#include "scatter/scatter.h"

namespace {

namespace ek = embedkit;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the whole process (every thread): what a case costs whether or not the machine
// gave it two cores at once. On a shared machine the wall time of a 2-thread case says more
// about the neighbours than about the code; its CPU time next to the 1-thread case's says
// whether the split added work (the pool waits on a condition variable, so idle helpers
// cost nothing here).
double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

float* alloc_table(int64_t floats) {
  const size_t bytes = static_cast<size_t>(floats) * sizeof(float);
  void* p = nullptr;
  if (posix_memalign(&p, 2 << 20, bytes) != 0) std::abort();
  madvise(p, bytes, MADV_HUGEPAGE);
  float* f = static_cast<float*>(p);
  for (int64_t i = 0; i < floats; ++i) f[i] = static_cast<float>(i % 1000) * 1e-3f;
  return f;
}

// Position range [b, e) of task t out of `tasks`.
void split(int64_t n, int64_t tasks, int64_t t, int64_t* b, int64_t* e) {
  *b = n * t / tasks;
  *e = n * (t + 1) / tasks;
}

__attribute__((target("avx2,fma"))) void stream_add(float* dst, const float* src, int64_t b, int64_t e, int64_t dim) {
  for (int64_t i = b * dim; i < e * dim; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(src + i)));
  }
}

__attribute__((target("avx2,fma"))) void random_rmw(float* dst, const int32_t* idx, int64_t b, int64_t e, int64_t dim) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t i = b; i < e; ++i) {
    float* d = dst + static_cast<int64_t>(idx[i]) * dim;
    for (int64_t c = 0; c < dim; c += 8) _mm256_storeu_ps(d + c, _mm256_add_ps(_mm256_loadu_ps(d + c), one));
  }
}

__attribute__((target("avx2,fma"))) float random_read(const float* dst, const int32_t* idx, int64_t b, int64_t e, int64_t dim) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = b; i < e; ++i) {
    const float* d = dst + static_cast<int64_t>(idx[i]) * dim;
    for (int64_t c = 0; c < dim; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(d + c));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  return lanes[0];
}

// Sums the src rows listed in `rows`, each prefetched 16 rows ahead.
__attribute__((target("avx2,fma"))) float read_listed(const float* src, const std::vector<int64_t>& rows, int64_t dim) {
  __m256 acc = _mm256_setzero_ps();
  const int64_t m = static_cast<int64_t>(rows.size());
  for (int64_t j = 0; j < m; ++j) {
    if (j + 16 < m) {
      const char* p = reinterpret_cast<const char*>(src + rows[j + 16] * dim);
      for (int64_t off = 0; off < dim * 4; off += 64) __builtin_prefetch(p + off, 0, 3);
    }
    const float* r = src + rows[j] * dim;
    for (int64_t c = 0; c < dim; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(r + c));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  return lanes[0];
}

// Sums columns [c0, c1) of every src row, each prefetched 16 rows ahead: how a column task of
// the shipped split reads src.
__attribute__((target("avx2,fma"))) float read_columns(const float* src, int64_t n, int64_t dim, int64_t c0,
                                                       int64_t c1) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; ++i) {
    if (i + 16 < n) {
      const char* p = reinterpret_cast<const char*>(src + (i + 16) * dim + c0);
      for (int64_t off = 0; off < (c1 - c0) * 4; off += 64) __builtin_prefetch(p + off, 0, 3);
    }
    const float* r = src + i * dim;
    for (int64_t c = c0; c < c1; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(r + c));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  return lanes[0];
}

__attribute__((target("avx2,fma"))) void gather_rows(float* out, const float* dst, const int32_t* idx, int64_t b, int64_t e, int64_t dim) {
  for (int64_t i = b; i < e; ++i) {
    const float* d = dst + static_cast<int64_t>(idx[i]) * dim;
    for (int64_t c = 0; c < dim; c += 8) _mm256_storeu_ps(out + i * dim + c, _mm256_loadu_ps(d + c));
  }
}

// The plan-free scatter-add's arithmetic with the prefetch made a parameter: dst rows (and,
// with prefetch_src, src rows) `distance` indices ahead, as read (rw 0) or write (rw 1)
// prefetches. An experiment only: the shipped kernel is scatter/body.h.
template <int kRw>
__attribute__((target("avx2,fma"))) void scatter_pf(float* dst, const float* src, const int32_t* idx, int64_t b,
                                                    int64_t e, int64_t dim, int64_t distance, bool prefetch_src) {
  for (int64_t i = b; i < e; ++i) {
    if (distance > 0 && i + distance < e) {
      const char* d = reinterpret_cast<const char*>(dst + static_cast<int64_t>(idx[i + distance]) * dim);
      for (int64_t off = 0; off < dim * 4; off += 64) __builtin_prefetch(d + off, kRw, 3);
      if (prefetch_src) {
        const char* s = reinterpret_cast<const char*>(src + (i + distance) * dim);
        for (int64_t off = 0; off < dim * 4; off += 64) __builtin_prefetch(s + off, 0, 3);
      }
    }
    float* d = dst + static_cast<int64_t>(idx[i]) * dim;
    const float* s = src + i * dim;
    for (int64_t c = 0; c < dim; c += 8) {
      _mm256_storeu_ps(d + c, _mm256_add_ps(_mm256_loadu_ps(d + c), _mm256_loadu_ps(s + c)));
    }
  }
}

// The scatter-add over columns [c0, c1) of every row, all positions in order: a column split
// of the work instead of a destination-row split (each element is still summed in index order
// by one thread). Prefetches its part of both rows `distance` positions ahead.
// kSrcHint: how src is prefetched (3: PREFETCHT0 with dst, 0: PREFETCHNTA, -1: not at all,
// left to the hardware).
template <int kSrcHint = 3>
__attribute__((target("avx2,fma"))) void scatter_cols(float* dst, const float* src, const int32_t* idx, int64_t n,
                                                      int64_t dim, int64_t c0, int64_t c1, int64_t distance) {
  for (int64_t i = 0; i < n; ++i) {
    if (i + distance < n) {
      const char* d = reinterpret_cast<const char*>(dst + static_cast<int64_t>(idx[i + distance]) * dim + c0);
      const char* s = reinterpret_cast<const char*>(src + (i + distance) * dim + c0);
      for (int64_t off = 0; off < (c1 - c0) * 4; off += 64) {
        __builtin_prefetch(d + off, 0, 3);
        if constexpr (kSrcHint == 3) __builtin_prefetch(s + off, 0, 3);
        if constexpr (kSrcHint == 0) __builtin_prefetch(s + off, 0, 0);
      }
    }
    float* d = dst + static_cast<int64_t>(idx[i]) * dim;
    const float* s = src + i * dim;
    for (int64_t c = c0; c < c1; c += 8) {
      _mm256_storeu_ps(d + c, _mm256_add_ps(_mm256_loadu_ps(d + c), _mm256_loadu_ps(s + c)));
    }
  }
}

struct Case {
  std::string name;
  int threads;
  double rows_per_index;  // rows of dim floats moved per index, for GB/s
  std::function<void()> run;
  std::vector<double> ms;
  std::vector<double> cpu;
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 524288;
  const int64_t dim = argc > 3 ? std::atoll(argv[3]) : 128;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 7;
  if (dim % 8 != 0) {
    std::fprintf(stderr, "dim must be a multiple of 8 for the plain AVX2 loops\n");
    return 2;
  }
  const int64_t dst_shift = std::getenv("PROBE_DST_SHIFT") ? std::atoll(std::getenv("PROBE_DST_SHIFT")) : 0;
  if (dst_shift < 0 || dst_shift % 4 != 0 || dst_shift >= 64) {
    std::fprintf(stderr, "PROBE_DST_SHIFT must be 0, 4, ..., 60\n");
    return 2;
  }
  float* dst = alloc_table(rows * dim + 16) + dst_shift / 4;
  float* dst2 = alloc_table(n * dim);
  float* src = alloc_table(n * dim);
  float* out = alloc_table(n * dim);
  std::vector<int32_t> idx(static_cast<size_t>(n));
  uint64_t state = 0x1d5;
  auto next_state = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  if (const char* zipf = std::getenv("PROBE_ZIPF")) {
    // Zipf(s) as the bench draws it: rank k has weight (k + 1)^-s, sampled by inverting the
    // CDF, and ranks scattered over the rows by a multiplier coprime to them.
    const double s = std::atof(zipf);
    std::vector<double> cdf(static_cast<size_t>(rows));
    double acc = 0;
    for (int64_t k = 0; k < rows; ++k) cdf[k] = acc += std::pow(static_cast<double>(k + 1), -s);
    int64_t mult = std::getenv("PROBE_ZIPF_SORTED") != nullptr ? 1 : 2654435761 % rows;
    while (std::gcd(mult, rows) != 1) ++mult;
    for (int32_t& v : idx) {
      const double unit = static_cast<double>(next_state() >> 11) / 9007199254740992.0;  // [0, 1)
      const int64_t rank = std::lower_bound(cdf.begin(), cdf.end(), unit * acc) - cdf.begin();
      v = static_cast<int32_t>(std::min<int64_t>(rank, rows - 1) * mult % rows);
    }
  } else {
    for (int32_t& v : idx) v = static_cast<int32_t>((next_state() >> 33) % static_cast<uint64_t>(rows));
  }
  const ek::IndexArray indices{idx.data(), n, ek::IndexType::Int32};
  ek::scatter::ScatterArgs args;
  args.dst = dst;
  args.dim = dim;
  args.src = src;
  volatile float sink = 0;
  ek::scatter::Plan plan;
  ek::scatter::build_plan(indices, rows, -1, &plan);

  std::vector<Case> cases;
  for (int threads : {1, 2}) {
    cases.push_back({"scatter_add", threads, 3, [&] { ek::scatter::scatter_add(indices, rows, args); }, {}});
    cases.push_back({"plan scatter_add", threads, 3, [&] { ek::scatter::scatter_add(plan, args); }, {}});
    // A plan built on every call and then applied: what the plan-free form costs if it sorts.
    cases.push_back({"build+plan scatter", threads, 3, [&] {
                       ek::scatter::Plan fresh;
                       ek::scatter::build_plan(indices, rows, -1, &fresh);
                       ek::scatter::scatter_add(fresh, args);
                     }, {}});
    // The gather family's pooling over the plan's segments, each destination row accumulated
    // in registers and written once: what the plan form does when rows repeat, forced.
    cases.push_back({"plan as gather", threads, 3, [&] {
                       ek::gather::BagArgs g;
                       g.table = ek::gather::Table{src, n, dim};
                       g.indices = ek::IndexArray{plan.order.data(), static_cast<int64_t>(plan.order.size()),
                                                  ek::IndexType::Int64};
                       g.bags = plan.segments();
                       g.mode = ek::gather::PoolMode::Sum;
                       g.out = dst;
                       g.out_rows = plan.rows.data();
                       g.accumulate = true;
                       ek::gather::embedding_bag(g);
                     }, {}});
    if (std::getenv("PROBE_PREFETCH") != nullptr) {
      for (int64_t distance : {0, 2, 4, 8, 12, 24}) {
        for (int variant = 0; variant < 3; ++variant) {
          if (distance == 0 && variant > 0) continue;
          const char* what[] = {"r dst+src", "r dst", "w dst"};
          cases.push_back({"pf " + std::to_string(distance) + " " + what[variant], threads, 3, [&, threads, distance, variant] {
                             ek::parallel_for(threads, [&](int64_t t) {
                               int64_t b, e;
                               split(n, threads, t, &b, &e);
                               if (variant == 2) {
                                 scatter_pf<1>(dst, src, idx.data(), b, e, dim, distance, false);
                               } else {
                                 scatter_pf<0>(dst, src, idx.data(), b, e, dim, distance, variant == 0);
                               }
                             });
                           }, {}});
        }
      }
    }
    if (std::getenv("PROBE_SPLIT") != nullptr && threads > 1) {
      // The shipped kernel under the shipped split (each task owns a destination row range,
      // scans every index and applies its own in batches) with the task count as a
      // parameter: more tasks even out a slowed thread but make each task's src reads
      // sparser. Uniform indices, so the ranges are equal slices of the rows.
      for (int64_t tasks : {2, 4, 8}) {
        cases.push_back({"rows " + std::to_string(tasks) + " tasks", threads, 3, [&, tasks] {
                           const ek::scatter::Kernels& k = ek::scatter::kernels_for(ek::active_isa());
                           ek::parallel_for(tasks, [&](int64_t t) {
                             const int64_t lo = rows * t / tasks, hi = rows * (t + 1) / tasks;
                             int64_t batch[512];
                             int64_t m = 0;
                             for (int64_t i = 0; i < n; ++i) {
                               if (idx[i] < lo || idx[i] >= hi) continue;
                               batch[m++] = i;
                               if (m == 512) {
                                 k.scatter_rows(args, indices, batch, m, 0, dim);
                                 m = 0;
                               }
                             }
                             if (m > 0) k.scatter_rows(args, indices, batch, m, 0, dim);
                           });
                         }, {}});
      }
    }
    if (threads > 1) {
      for (int64_t distance : {8, 16, 32}) {
        cases.push_back({"cols split " + std::to_string(distance), threads, 3, [&, threads, distance] {
                           ek::parallel_for(threads, [&](int64_t t) {
                             const int64_t c0 = dim / 8 * t / threads * 8, c1 = dim / 8 * (t + 1) / threads * 8;
                             scatter_cols(dst, src, idx.data(), n, dim, c0, c1, distance);
                           });
                         }, {}});
      }
      // The same at distance 16 with src prefetched non-temporally, or not at all.
      for (int hint : {0, -1}) {
        cases.push_back({hint == 0 ? "cols src nta" : "cols src hw", threads, 3, [&, threads, hint] {
                           ek::parallel_for(threads, [&](int64_t t) {
                             const int64_t c0 = dim / 8 * t / threads * 8, c1 = dim / 8 * (t + 1) / threads * 8;
                             if (hint == 0) {
                               scatter_cols<0>(dst, src, idx.data(), n, dim, c0, c1, 16);
                             } else {
                               scatter_cols<-1>(dst, src, idx.data(), n, dim, c0, c1, 16);
                             }
                           });
                         }, {}});
      }
    }
    if (threads > 1) {
      // src read by two threads each owning about every other row (at random, as the row-range
      // split of scatter_add leaves them), against contiguous halves: 1 row per index.
      static std::vector<int64_t> halves[2], interleaved[2];
      if (halves[0].empty()) {
        uint64_t bits = 0x9e37;
        for (int64_t i = 0; i < n; ++i) {
          bits = bits * 6364136223846793005ULL + 1442695040888963407ULL;
          interleaved[(bits >> 40) & 1].push_back(i);
          halves[i * 2 / n].push_back(i);
        }
      }
      cases.push_back({"read col halves", threads, 1, [&] {
                         ek::parallel_for(2, [&](int64_t t) {
                           sink = sink + read_columns(src, n, dim, t * dim / 2, (t + 1) * dim / 2);
                         });
                       }, {}});
      for (auto* lists : {interleaved, halves}) {
        cases.push_back({lists == interleaved ? "read interleaved" : "read halves", threads, 1, [&, lists] {
                           ek::parallel_for(2, [&](int64_t t) { sink = sink + read_listed(src, lists[t], dim); });
                         }, {}});
      }
    }
    cases.push_back({"stream add", threads, 3, [&, threads] {
                       ek::parallel_for(threads, [&](int64_t t) {
                         int64_t b, e;
                         split(n, threads, t, &b, &e);
                         stream_add(dst2, src, b, e, dim);
                       });
                     }, {}});
    cases.push_back({"random rmw", threads, 2, [&, threads] {
                       ek::parallel_for(threads, [&](int64_t t) {
                         int64_t b, e;
                         split(n, threads, t, &b, &e);
                         random_rmw(dst, idx.data(), b, e, dim);
                       });
                     }, {}});
    cases.push_back({"random read", threads, 1, [&, threads] {
                       ek::parallel_for(threads, [&](int64_t t) {
                         int64_t b, e;
                         split(n, threads, t, &b, &e);
                         sink = sink + random_read(dst, idx.data(), b, e, dim);
                       });
                     }, {}});
    cases.push_back({"gather", threads, 2, [&, threads] {
                       ek::parallel_for(threads, [&](int64_t t) {
                         int64_t b, e;
                         split(n, threads, t, &b, &e);
                         gather_rows(out, dst, idx.data(), b, e, dim);
                       });
                     }, {}});
  }

  // PROBE_ONLY=<prefix>[,<prefix>...]: only the cases whose name starts with one of them
  // (for callgrind, or a shorter A/B).
  if (const char* only = std::getenv("PROBE_ONLY")) {
    std::vector<std::string> prefixes;
    for (std::string rest = only; !rest.empty();) {
      const size_t comma = rest.find(',');
      prefixes.push_back(rest.substr(0, comma));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    cases.erase(std::remove_if(cases.begin(), cases.end(),
                               [&](const Case& c) {
                                 return std::none_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
                                   return c.name.rfind(p, 0) == 0;
                                 });
                               }),
                cases.end());
  }
  std::printf("isa %s, rows %lld, n %lld, dim %lld, reps %d, dst %lld bytes past a line\n",
              ek::isa_name(ek::active_isa()), static_cast<long long>(rows), static_cast<long long>(n),
              static_cast<long long>(dim), reps, static_cast<long long>(dst_shift));
  for (int r = 0; r < reps + 1; ++r) {
    for (Case& c : cases) {
      ek::set_thread_count(c.threads);
      const double t0 = now_ms(), c0 = cpu_ms();
      c.run();
      const double t1 = now_ms(), c1 = cpu_ms();
      if (r > 0) {  // the first round warms pages and the pool
        c.ms.push_back(t1 - t0);
        c.cpu.push_back(c1 - c0);
      }
    }
  }
  const double row_bytes = static_cast<double>(dim) * sizeof(float);
  for (Case& c : cases) {
    const double ms = median(c.ms);
    const double mrows = n / ms / 1e3;
    std::printf("%-20s %d thr %8.2f ms %7.2f M rows/s %6.2f GB/s   cpu %8.2f ms\n", c.name.c_str(), c.threads, ms,
                mrows, c.rows_per_index * row_bytes * n / ms / 1e6, median(c.cpu));
  }
  // Whether the tables got huge pages (a random row then costs no page walk).
  if (FILE* f = std::fopen("/proc/self/smaps_rollup", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "AnonHugePages", 13) == 0) std::printf("%s", line);
    }
    std::fclose(f);
  }
  return static_cast<int>(sink) & 0;
}
