// Product quantization: training (k-means per subspace), encode / decode, distance tables,
// the asymmetric scan with its top-k, and bag pooling over coded rows. Encoding and training
// assign through the SIMD score kernel (each subspace is a strided view of the vectors), the
// distance tables come from the SIMD table kernel; the rest is table lookups and short float64
// sums, shared by every ISA.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "../common/kernel_stats.h"
#include "../common/parallel.h"
#include "../common/philox.h"
#include "panels.h"

namespace embedkit::codebook {
namespace {

// Rows per encode step: the scratch of one step stays in L1/L2.
constexpr int64_t kEncodeChunk = 1024;
// Coded vectors per scan task; the top-k of every chunk are merged per query.
constexpr int64_t kScanChunk = 1 << 16;

Rows subspace(const float* x, int64_t n, int64_t dim, int64_t dsub, int64_t s) {
  return Rows{x + s * dsub, n, dsub, dim};
}

// best code per row of rows [r0, r1) of subspace s, through the score kernel.
void assign_chunk(const Kernels& k, const Rows& sub, const Panels& p, int64_t r0, int64_t r1,
                  int32_t* codes, float* scores) {
  k.score_rows(sub, p, Metric::L2, r0, r1, codes, scores);
}

}  // namespace

namespace {

// One subspace's k-means (see pq_train), its assignment step split over the pool when
// `parallel_rows`, else on the calling thread: the same result either way.
void train_subspace(const Kernels& k, const float* x, int64_t n, int64_t dim, int64_t m, int64_t ksub,
                    int iterations, uint64_t seed, int64_t s, bool parallel_rows, float* codebooks) {
  const int64_t dsub = dim / m;
  std::vector<int32_t> codes(static_cast<size_t>(n));
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::vector<double> sums(static_cast<size_t>(ksub * dsub));
  std::vector<int64_t> counts(static_cast<size_t>(ksub));
  PanelStore store;
  float* cb = codebooks + s * ksub * dsub;
  const Rows sub = subspace(x, n, dim, dsub, s);
  // ksub distinct rows by a partial Fisher-Yates shuffle (philox.h, stream kPqInit).
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  for (int64_t i = 0; i < ksub; ++i) {
    const philox::Block r = philox::stream_block(seed, philox::kPqInit, (static_cast<uint64_t>(s) << 32) | static_cast<uint64_t>(i));
    const uint64_t u = static_cast<uint64_t>(r.v[0]) | (static_cast<uint64_t>(r.v[1]) << 32);
    const int64_t j = i + static_cast<int64_t>(philox::uniform_below(u, static_cast<uint64_t>(n - i)));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    std::copy(sub.row(perm[static_cast<size_t>(i)]), sub.row(perm[static_cast<size_t>(i)]) + dsub, cb + i * dsub);
  }
  std::vector<int64_t>().swap(perm);  // one such task per thread runs at once: keep them small
  for (int it = 0; it < iterations; ++it) {
    pack_panels(cb, ksub, dsub, k.panel_width, &store);
    if (parallel_rows) {
      const int64_t tasks = task_count_for(work_of(n, ksub, dsub), kMinScoreWorkPerTask);
      parallel_for(tasks, [&](int64_t t) {
        assign_chunk(k, sub, store.view, n * t / tasks, n * (t + 1) / tasks, codes.data(), scores.data());
      });
    } else {
      assign_chunk(k, sub, store.view, 0, n, codes.data(), scores.data());
    }
    // The means, summed in row order (the same on any thread count).
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t r = 0; r < n; ++r) {
      const int64_t c = codes[static_cast<size_t>(r)];
      const float* row = sub.row(r);
      double* acc = sums.data() + c * dsub;
      for (int64_t d = 0; d < dsub; ++d) acc[d] += row[d];
      ++counts[static_cast<size_t>(c)];
    }
    for (int64_t c = 0; c < ksub; ++c) {
      if (counts[static_cast<size_t>(c)] == 0) continue;  // an empty cluster keeps its centroid
      for (int64_t d = 0; d < dsub; ++d) {
        cb[c * dsub + d] = static_cast<float>(sums[static_cast<size_t>(c * dsub + d)] / static_cast<double>(counts[static_cast<size_t>(c)]));
      }
    }
  }
}

}  // namespace

void pq_train(const float* x, int64_t n, int64_t dim, int64_t m, int64_t ksub, int iterations,
              uint64_t seed, float* codebooks) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  // The subspaces are independent k-means: with at least as many as threads, each task trains
  // whole subspaces, so the serial means pass runs in parallel too and the pool is entered
  // once, not once per iteration (65,536 x 128, m 16, 8 bits, 25 iterations, 2 threads:
  // 1.70 -> 1.50 s). Fewer subspaces split each assignment step over rows instead.
  if (m >= thread_count()) {
    parallel_for(m, [&](int64_t s) { train_subspace(k, x, n, dim, m, ksub, iterations, seed, s, false, codebooks); });
  } else {
    for (int64_t s = 0; s < m; ++s) train_subspace(k, x, n, dim, m, ksub, iterations, seed, s, true, codebooks);
  }
}

void pq_encode(const Pq& pq, const float* x, int64_t n, uint8_t* codes) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  if (n == 0) return;
  const int64_t dsub = pq.dsub();
  std::vector<PanelStore> stores(static_cast<size_t>(pq.m));
  for (int64_t s = 0; s < pq.m; ++s) pack_panels(pq.codebook(s), pq.ksub, dsub, k.panel_width, &stores[static_cast<size_t>(s)]);
  const int64_t chunks = (n + kEncodeChunk - 1) / kEncodeChunk;
  const int64_t tasks = std::min(chunks, task_count_for(work_of(n, pq.ksub, pq.dim), kMinScoreWorkPerTask));
  parallel_for(tasks, [&](int64_t t) {
    int32_t best[kEncodeChunk];
    float scores[kEncodeChunk];
    for (int64_t ch = chunks * t / tasks; ch < chunks * (t + 1) / tasks; ++ch) {
      const int64_t r0 = ch * kEncodeChunk, r1 = std::min(n, r0 + kEncodeChunk);
      for (int64_t s = 0; s < pq.m; ++s) {
        const Rows sub = subspace(x + r0 * pq.dim, r1 - r0, pq.dim, dsub, s);
        assign_chunk(k, sub, stores[static_cast<size_t>(s)].view, 0, r1 - r0, best, scores);
        for (int64_t r = r0; r < r1; ++r) codes[r * pq.m + s] = static_cast<uint8_t>(best[r - r0]);
      }
    }
  });
}

namespace {

// Rows [r0, r1): each subspace's sub-codeword copied into place. kDsub > 0 fixes the
// sub-codeword's length at compile time, so each copy is a few vector moves instead of a
// memmove call per subspace (16 M calls for 1 M vectors of m = 16: FAISS decoded 1.3x as fast).
template <int kDsub>
void decode_rows(const Pq& pq, const uint8_t* codes, int64_t r0, int64_t r1, float* out) {
  const int64_t dsub = kDsub > 0 ? kDsub : pq.dsub();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* c = codes + r * pq.m;
    float* row = out + r * pq.dim;
    for (int64_t s = 0; s < pq.m; ++s) {
      const float* cw = pq.codebook(s) + c[s] * dsub;
      for (int64_t d = 0; d < dsub; ++d) row[s * dsub + d] = cw[d];
    }
  }
}

}  // namespace

void pq_decode(const Pq& pq, const uint8_t* codes, int64_t n, float* out) {
  count_kernel_call(Isa::Scalar);
  const int64_t dsub = pq.dsub();
  auto decode = dsub == 2 ? decode_rows<2> : dsub == 4 ? decode_rows<4> : dsub == 8 ? decode_rows<8>
              : dsub == 16 ? decode_rows<16> : decode_rows<0>;
  const int64_t tasks = task_count_for(n * pq.dim, 1 << 15);
  parallel_for(tasks, [&](int64_t t) { decode(pq, codes, n * t / tasks, n * (t + 1) / tasks, out); });
}

void pq_distance_table(const Pq& pq, const float* queries, int64_t nq, Metric metric,
                       float* tables) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  // Tasks over (subspace, query) pairs, subspace-major: a task widens each sub-codebook it
  // meets once for all its queries, and a single query's table still splits.
  const int64_t pairs = pq.m * nq;
  const int64_t tasks = task_count_for(work_of(nq, pq.ksub, pq.dim), 1 << 15);
  parallel_for(tasks, [&](int64_t t) {
    const std::unique_ptr<double[]> scratch(new double[static_cast<size_t>(pq.ksub * pq.dsub())]);
    for (int64_t p = pairs * t / tasks; p < pairs * (t + 1) / tasks;) {
      const int64_t s = p / nq, q0 = p % nq, q1 = std::min(nq, q0 + pairs * (t + 1) / tasks - p);
      k.table_rows(pq, s, queries, q0, q1, metric, scratch.get(), tables);
      p += q1 - q0;
    }
  });
}

namespace {

// A scan candidate; `better` is a strict total order (score, then lower id; NaN last), so the
// top-k of a union does not depend on how it was cut into chunks.
struct Hit {
  float score;
  int64_t id;
};

struct HitOrder {
  bool minimize;
  bool operator()(const Hit& a, const Hit& b) const {  // a ranks before b
    const bool an = std::isnan(a.score), bn = std::isnan(b.score);
    if (an != bn) return bn;
    if (!an && a.score != b.score) return minimize ? a.score < b.score : a.score > b.score;
    return a.id < b.id;
  }
};

// Keeps the `limit` best hits seen: a max-heap on the order (its top is the worst kept).
void offer(std::vector<Hit>& heap, size_t limit, const Hit& h, const HitOrder& better) {
  if (heap.size() < limit) {
    heap.push_back(h);
    std::push_heap(heap.begin(), heap.end(), better);
  } else if (better(h, heap.front())) {
    std::pop_heap(heap.begin(), heap.end(), better);
    heap.back() = h;
    std::push_heap(heap.begin(), heap.end(), better);
  }
}

// Codes [i0, i1) of one query into its heap. A code's distance is its m table entries added
// in subspace order in float32 (the order the CUDA scan and test/native/gpu_order_test.cc
// replay). kM / kKsub > 0 fix m and 2^bits at compile time, which unrolls the sum into one
// load-and-add per subspace at a constant offset; 0 takes them from pq. Once the heap is full
// and its worst is a number, a sum not strictly better is dropped before the heap is touched:
// the heap holds the lower ids of any tie.
template <int kM, int kKsub>
void scan_codes(const Pq& pq, const float* table, const uint8_t* codes, int64_t i0, int64_t i1,
                size_t k, const HitOrder& better, std::vector<Hit>& heap) {
  const int64_t m = kM > 0 ? kM : pq.m;
  const int64_t ksub = kKsub > 0 ? kKsub : pq.ksub;
  bool gated = false;  // full, with a number as its worst
  float worst = 0.0f;
  for (int64_t i = i0; i < i1; ++i) {
    const uint8_t* c = codes + i * m;
    float sum = 0.0f;
    for (int64_t s = 0; s < m; ++s) sum += table[s * ksub + c[s]];
    if (gated && !(better.minimize ? sum < worst : sum > worst)) continue;
    offer(heap, k, Hit{sum, i}, better);
    gated = heap.size() == k && !std::isnan(heap.front().score);
    worst = heap.front().score;
  }
}

using ScanCodes = void (*)(const Pq&, const float*, const uint8_t*, int64_t, int64_t, size_t, const HitOrder&,
                           std::vector<Hit>&);

// The common shapes of 8-bit codes unrolled; any other through the generic loop.
ScanCodes scan_codes_for(const Pq& pq) {
  if (pq.ksub == 256) {
    switch (pq.m) {
      case 8: return scan_codes<8, 256>;
      case 16: return scan_codes<16, 256>;
      case 32: return scan_codes<32, 256>;
      case 64: return scan_codes<64, 256>;
      default: break;
    }
  }
  return scan_codes<0, 0>;
}

}  // namespace

void pq_scan(const Pq& pq, const float* tables, int64_t nq, Metric metric, const uint8_t* codes,
             int64_t n, int64_t k, int32_t* ids, float* dists) {
  count_kernel_call(Isa::Scalar);
  if (nq == 0 || k == 0) return;
  const HitOrder better{metric == Metric::L2};
  const ScanCodes scan = scan_codes_for(pq);
  const int64_t chunks = (n + kScanChunk - 1) / kScanChunk;
  std::vector<std::vector<Hit>> found(static_cast<size_t>(nq * chunks));
  parallel_for(nq * chunks, [&](int64_t task) {
    const int64_t q = task / chunks, ch = task % chunks;
    const float* table = tables + q * pq.m * pq.ksub;
    std::vector<Hit>& heap = found[static_cast<size_t>(task)];
    heap.reserve(static_cast<size_t>(std::min(k, kScanChunk)));
    scan(pq, table, codes, ch * kScanChunk, std::min(n, (ch + 1) * kScanChunk), static_cast<size_t>(k), better, heap);
  });
  parallel_for(nq, [&](int64_t q) {
    std::vector<Hit> all;
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const std::vector<Hit>& h = found[static_cast<size_t>(q * chunks + ch)];
      all.insert(all.end(), h.begin(), h.end());
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end(), better);
    for (int64_t i = 0; i < k; ++i) {
      ids[q * k + i] = static_cast<int32_t>(all[static_cast<size_t>(i)].id);
      dists[q * k + i] = all[static_cast<size_t>(i)].score;
    }
  });
}

void pq_embedding_bag(const Pq& pq, const uint8_t* codes, const IndexArray& indices,
                      const gather::Bags& bags, const float* weights, bool mean, float* out) {
  count_kernel_call(Isa::Scalar);
  const int64_t dsub = pq.dsub();
  const int64_t tasks = task_count_for(bags.num_indices * pq.m + bags.num_bags * pq.dim, 1 << 14);
  parallel_for(tasks, [&](int64_t t) {
    // Per subspace, the summed weight of each code in the bag, and the codes touched in the
    // order they first appear (the product runs over those, in that order).
    std::vector<double> hist(static_cast<size_t>(pq.ksub), 0.0);
    std::vector<uint8_t> seen(static_cast<size_t>(pq.ksub), 0);
    std::vector<int32_t> touched;
    std::vector<double> acc(static_cast<size_t>(dsub));
    for (int64_t b = bags.num_bags * t / tasks; b < bags.num_bags * (t + 1) / tasks; ++b) {
      const int64_t p0 = bags.start(b), p1 = bags.end(b);
      const double count = static_cast<double>(p1 - p0);
      for (int64_t s = 0; s < pq.m; ++s) {
        touched.clear();
        for (int64_t p = p0; p < p1; ++p) {
          const int32_t c = codes[indices.at(p) * pq.m + s];
          if (seen[static_cast<size_t>(c)] == 0) {
            seen[static_cast<size_t>(c)] = 1;
            touched.push_back(c);
          }
          hist[static_cast<size_t>(c)] += weights != nullptr ? static_cast<double>(weights[p]) : 1.0;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (const int32_t c : touched) {
          const double h = hist[static_cast<size_t>(c)];
          const float* cw = pq.codebook(s) + c * dsub;
          for (int64_t d = 0; d < dsub; ++d) acc[static_cast<size_t>(d)] += h * cw[d];
          hist[static_cast<size_t>(c)] = 0.0;
          seen[static_cast<size_t>(c)] = 0;
        }
        float* dst = out + b * pq.dim + s * dsub;
        for (int64_t d = 0; d < dsub; ++d) {
          const double v = acc[static_cast<size_t>(d)];
          dst[d] = static_cast<float>(mean && count > 0 ? v / count : v);
        }
      }
    }
  });
}

}  // namespace embedkit::codebook
