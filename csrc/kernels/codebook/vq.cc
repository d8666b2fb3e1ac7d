// VQ-Logits: the token -> code map and the operations over code logits. Everything but the
// expansion is O(K) per row and scalar (float64 where it sums), shared by every ISA; rows are
// split over the pool and each row is computed by one task, so any thread count gives the
// same bits.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../common/kernel_stats.h"
#include "../common/kernel_table.h"
#include "../common/parallel.h"
#include "../common/philox.h"
#include "codebook.h"
#include "vq_sample_row.h"

namespace embedkit::codebook {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Below this much work (rows x codes, or rows x tokens), a task is not worth a hand-off.
constexpr int64_t kMinWorkPerTask = 16384;

// fn(row) for every row, rows split over the pool.
template <class Fn>
void for_rows(int64_t rows, int64_t work_per_row, Fn&& fn) {
  if (rows == 0) return;
  const int64_t tasks = task_count_for(rows * std::max<int64_t>(1, work_per_row), kMinWorkPerTask);
  parallel_for(tasks, [&](int64_t t) {
    for (int64_t b = rows * t / tasks; b < rows * (t + 1) / tasks; ++b) fn(b);
  });
}

// log sum_j n_j exp(L_j) over the codes with tokens (a code with none stands for nothing).
double log_partition(const float* row, const VqMap& m) {
  double top = -kInf;
  for (int64_t j = 0; j < m.num_codes; ++j) {
    if (m.counts[j] == 0) continue;
    const double v = static_cast<double>(row[j]) + m.log_counts[j];
    if (std::isnan(v)) return v;
    top = std::max(top, v);
  }
  if (std::isinf(top)) return top;  // every code -inf, or one +inf
  double sum = 0;
  for (int64_t j = 0; j < m.num_codes; ++j) {
    if (m.counts[j] != 0) sum += std::exp(static_cast<double>(row[j]) + m.log_counts[j] - top);
  }
  return top + std::log(sum);
}

}  // namespace

int64_t find_code_out_of_range(const int32_t* token_to_code, int64_t num_tokens,
                               int64_t num_codes) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    if (token_to_code[t] < 0 || token_to_code[t] >= num_codes) return t;
  }
  return -1;
}

void build_vq_map(const int32_t* token_to_code, int64_t num_tokens, int64_t num_codes,
                  int32_t* counts, double* log_counts, int32_t* offsets, int32_t* tokens) {
  std::fill(counts, counts + num_codes, 0);
  for (int64_t t = 0; t < num_tokens; ++t) ++counts[token_to_code[t]];
  offsets[0] = 0;
  for (int64_t j = 0; j < num_codes; ++j) {
    offsets[j + 1] = offsets[j] + counts[j];
    log_counts[j] = counts[j] == 0 ? -kInf : std::log(static_cast<double>(counts[j]));
  }
  // Stable placement: tokens ascend within each code.
  std::vector<int32_t> cursor(offsets, offsets + num_codes);
  for (int64_t t = 0; t < num_tokens; ++t) tokens[cursor[token_to_code[t]]++] = static_cast<int32_t>(t);
}

const Kernels& kernels_for(Isa isa) {
  return select_kernels(isa, reference_kernels(), avx2_kernels, avx512_kernels, neon_kernels);
}

void vq_expand(const CodeLogits& logits, const VqMap& map, float* out) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  if (logits.rows == 0 || map.num_tokens == 0) return;
  // Rows are long (V floats): split by rows when there are enough, else each row's tokens.
  const int64_t tasks = task_count_for(logits.rows * map.num_tokens, kMinWorkPerTask);
  if (tasks <= logits.rows) {
    parallel_for(tasks, [&](int64_t t) {
      k.expand_rows(logits, map, logits.rows * t / tasks, logits.rows * (t + 1) / tasks, out);
    });
    return;
  }
  // Few rows: cut the vocabulary into slices (a multiple of 64 tokens each) of every row.
  const int64_t slices = (tasks + logits.rows - 1) / logits.rows;
  const int64_t quanta = (map.num_tokens + 63) / 64;
  parallel_for(logits.rows * slices, [&](int64_t t) {
    const int64_t b = t / slices, s = t % slices;
    const int64_t t0 = std::min(map.num_tokens, quanta * s / slices * 64);
    const int64_t t1 = std::min(map.num_tokens, quanta * (s + 1) / slices * 64);
    if (t0 >= t1) return;
    VqMap part = map;
    part.num_tokens = t1 - t0;
    part.token_to_code = map.token_to_code + t0;
    // Row b of the slice, written at out[b][t0..t1): shift out so row b lands there.
    CodeLogits one{logits.data + b * map.num_codes, 1};
    float* dst = out + b * map.num_tokens + t0;
    k.expand_rows(one, part, 0, 1, dst);
  });
}

void vq_log_sum_exp(const CodeLogits& logits, const VqMap& map, float* out) {
  count_kernel_call(Isa::Scalar);
  for_rows(logits.rows, map.num_codes, [&](int64_t b) {
    out[b] = static_cast<float>(log_partition(logits.data + b * map.num_codes, map));
  });
}

void vq_log_softmax(const CodeLogits& logits, const VqMap& map, float* out) {
  count_kernel_call(Isa::Scalar);
  const int64_t k = map.num_codes;
  for_rows(logits.rows, k, [&](int64_t b) {
    const float* row = logits.data + b * k;
    const double z = log_partition(row, map);
    for (int64_t j = 0; j < k; ++j) out[b * k + j] = static_cast<float>(static_cast<double>(row[j]) - z);
  });
}

void vq_cross_entropy(const CodeLogits& logits, const VqMap& map, const IndexArray& targets,
                      float* loss, float* grad) {
  count_kernel_call(Isa::Scalar);
  const int64_t k = map.num_codes;
  for_rows(logits.rows, k, [&](int64_t b) {
    const float* row = logits.data + b * k;
    const double z = log_partition(row, map);
    const int32_t target = map.token_to_code[targets.at(b)];
    loss[b] = static_cast<float>(z - static_cast<double>(row[target]));
    float* g = grad + b * k;
    for (int64_t j = 0; j < k; ++j) {
      const double p = map.counts[j] == 0 ? 0.0 : std::exp(static_cast<double>(row[j]) + map.log_counts[j] - z);
      g[j] = static_cast<float>(j == target ? p - 1.0 : p);
    }
  });
}

namespace {

// A code's rank in top-k: higher logit first, NaN after everything.
struct Ranked {
  float logit;
  int32_t code;
};
inline bool ranks_above(const Ranked& a, const Ranked& b) {
  if (std::isnan(b.logit)) return !std::isnan(a.logit);
  return a.logit > b.logit;
}
inline bool same_rank(const Ranked& a, const Ranked& b) {
  return (std::isnan(a.logit) && std::isnan(b.logit)) || a.logit == b.logit;
}

// A code's next token in a merge of equal-rank codes.
struct Next {
  int32_t token;
  int32_t code;
  int64_t pos;  // into map.tokens
};
inline bool later_token(const Next& a, const Next& b) { return a.token > b.token; }

// The k best tokens of one row. The k best codes (by rank) hold at least k tokens, so only
// codes ranked no lower than the k-th best can contribute; a run of codes of equal rank
// gives its tokens in ascending token id (a merge of their sorted token lists).
void top_k_row(const float* row, const VqMap& m, int64_t k, double z, std::vector<Ranked>& cand,
               std::vector<Next>& heap, int32_t* ids, float* log_probs) {
  cand.clear();
  for (int64_t j = 0; j < m.num_codes; ++j) {
    if (m.counts[j] != 0) cand.push_back({row[j], static_cast<int32_t>(j)});
  }
  if (static_cast<int64_t>(cand.size()) > k) {
    std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), ranks_above);
    const Ranked kth = cand[static_cast<size_t>(k - 1)];
    cand.erase(std::partition(cand.begin(), cand.end(), [&](const Ranked& c) { return !ranks_above(kth, c); }),
               cand.end());
  }
  std::sort(cand.begin(), cand.end(), [&](const Ranked& a, const Ranked& b) {
    if (!same_rank(a, b)) return ranks_above(a, b);
    return m.tokens[m.offsets[a.code]] < m.tokens[m.offsets[b.code]];
  });
  int64_t taken = 0;
  for (size_t g0 = 0; g0 < cand.size() && taken < k;) {
    size_t g1 = g0 + 1;
    while (g1 < cand.size() && same_rank(cand[g0], cand[g1])) ++g1;
    const float lp = static_cast<float>(static_cast<double>(cand[g0].logit) - z);
    // Merge the run's sorted token lists: a min-heap of (next token, code), so a long run of
    // tied codes costs O(log run) per token taken.
    heap.clear();
    for (size_t i = g0; i < g1; ++i) {
      const int32_t code = cand[i].code;
      heap.push_back({m.tokens[m.offsets[code]], code, m.offsets[code]});
    }
    std::make_heap(heap.begin(), heap.end(), later_token);
    while (taken < k && !heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later_token);
      Next& next = heap.back();
      ids[taken] = next.token;
      log_probs[taken] = lp;
      ++taken;
      if (++next.pos < m.offsets[next.code + 1]) {
        next.token = m.tokens[next.pos];
        std::push_heap(heap.begin(), heap.end(), later_token);
      } else {
        heap.pop_back();
      }
    }
    g0 = g1;
  }
}

}  // namespace

void vq_top_k(const CodeLogits& logits, const VqMap& map, int64_t k, int32_t* ids,
              float* log_probs) {
  count_kernel_call(Isa::Scalar);
  const int64_t kc = map.num_codes;
  if (logits.rows == 0 || k == 0) return;
  const int64_t tasks = task_count_for(logits.rows * kc, kMinWorkPerTask);
  parallel_for(tasks, [&](int64_t t) {
    std::vector<Ranked> cand;
    std::vector<Next> heap;
    cand.reserve(static_cast<size_t>(kc));
    for (int64_t b = logits.rows * t / tasks; b < logits.rows * (t + 1) / tasks; ++b) {
      const float* row = logits.data + b * kc;
      top_k_row(row, map, k, log_partition(row, map), cand, heap, ids + b * k, log_probs + b * k);
    }
  });
}

void vq_sample(const CodeLogits& logits, const VqMap& map, uint64_t seed, double temperature,
               int32_t* out) {
  count_kernel_call(Isa::Scalar);
  for_rows(logits.rows, map.num_codes, [&](int64_t b) {
    out[b] = sample_row(logits.data + b * map.num_codes, map, seed, temperature, b);
  });
}

}  // namespace embedkit::codebook
