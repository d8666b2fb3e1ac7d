// RoPE timing: embedkit's rope kernel against vLLM's CPU kernels (csrc/cpu/pos_encoding.cpp,
// compiled from a checkout the caller names into vllm_rope.cc; never vendored here) on the
// same q and k, alternating the two in every repetition so a noisy machine slows both alike.
// Built and run by bench/vllm/compare.sh.
//
//   compare [reps=9] [shape filter, e.g. prefill]
//
// Both rotate q and k in place from a precomputed table of max_position rows, as vLLM does:
// vLLM's cos_sin_cache holds, per position, rot_dim / 2 cosines then as many sines; embedkit's
// ropeCache the same values as two arrays (filled once here by embedkit's fill_cache, so
// both read the same numbers). LLaMA-like heads: 32 query and 8 key/value heads of 128.
// vLLM splits tokens over OpenMP threads, embedkit over its own pool; each side's samples
// are separated by a pause so neither pays for the other's spinning threads.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "common/index_array.h"
#include "common/isa.h"
#include "common/parallel.h"
#include "rope/rope.h"

void vllm_set_threads(int n);
void vllm_rope(bool neox, const int64_t* positions, float* q, float* k, const float* cos_sin_cache,
               int rot_dim, int heads, int kv_heads, int head_size, int tokens);

namespace {

namespace rope = embedkit::rope;

constexpr int kHeads = 32, kKvHeads = 8, kHeadDim = 128, kRotaryDim = 128;
constexpr int64_t kMaxPosition = 8192;
constexpr double kBase = 10000.0;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void fill(std::vector<float>& a, uint32_t seed) {
  for (float& f : a) {
    seed = seed * 1664525u + 1013904223u;
    f = static_cast<float>(seed >> 8) * 0x1p-24f * 4.0f - 2.0f;
  }
}

struct Shape {
  const char* name;
  int tokens;
  bool sequential;  // positions 0 .. tokens - 1 (a prefill), else random below kMaxPosition
  int calls;        // calls per timed sample
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const char* only = argc > 2 ? argv[2] : "";
  const int64_t half = kRotaryDim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = std::pow(kBase, -2.0 * static_cast<double>(i) / kRotaryDim);
  // The shared table: embedkit's fill_cache, and the same floats in vLLM's row layout.
  rope::Rotation table_rule;
  table_rule.head_dim = kHeadDim;
  table_rule.rotary_dim = kRotaryDim;
  table_rule.to_freq = inv_freq.data();
  std::vector<float> cache_cos(static_cast<size_t>(kMaxPosition * half)), cache_sin(cache_cos.size());
  rope::fill_cache(table_rule, kMaxPosition, cache_cos.data(), cache_sin.data());
  std::vector<float> cos_sin_cache(static_cast<size_t>(kMaxPosition * kRotaryDim));
  for (int64_t p = 0; p < kMaxPosition; ++p) {
    std::memcpy(&cos_sin_cache[p * kRotaryDim], &cache_cos[p * half], half * sizeof(float));
    std::memcpy(&cos_sin_cache[p * kRotaryDim + half], &cache_sin[p * half], half * sizeof(float));
  }

  std::printf("embedkit isa %s; vLLM compiled -O3 -march=native -fopenmp; q %d heads, k %d heads, head_dim %d, "
              "in place, from a %lld-position table; median of %d alternating reps\n",
              embedkit::isa_name(embedkit::active_isa()), kHeads, kKvHeads, kHeadDim,
              static_cast<long long>(kMaxPosition), reps);
  std::printf("%-22s %-5s %3s %12s %12s %9s %12s\n", "shape", "layout", "thr", "vLLM us", "embedkit us",
              "vLLM/ek", "max rel diff");
  const Shape shapes[] = {{"prefill 4096 tokens", 4096, true, 1},
                          {"decode 64 sequences", 64, false, 200},
                          {"decode 1 token", 1, false, 4000}};
  for (const Shape& shape : shapes) {
    if (std::strstr(shape.name, only) == nullptr) continue;
    const int64_t q_len = int64_t{shape.tokens} * kHeads * kHeadDim, k_len = int64_t{shape.tokens} * kKvHeads * kHeadDim;
    std::vector<float> q0(static_cast<size_t>(q_len)), k0(static_cast<size_t>(k_len));
    fill(q0, 7);
    fill(k0, 11);
    std::vector<int64_t> positions(static_cast<size_t>(shape.tokens));
    uint32_t s = 99;
    for (int t = 0; t < shape.tokens; ++t) {
      s = s * 1664525u + 1013904223u;
      positions[t] = shape.sequential ? t : static_cast<int64_t>(s >> 8) % kMaxPosition;
    }
    for (const bool neox : {true, false}) {
      rope::Rotation r = table_rule;
      r.layout = neox ? rope::Layout::Neox : rope::Layout::Gptj;
      r.cache_cos = cache_cos.data();
      r.cache_sin = cache_sin.data();
      r.to.has_array = true;
      r.to.array = embedkit::IndexArray{positions.data(), shape.tokens, embedkit::IndexType::Int64};
      std::vector<float> qa = q0, ka = k0, qb = q0, kb = k0;
      auto run_vllm = [&] {
        vllm_rope(neox, positions.data(), qa.data(), ka.data(), cos_sin_cache.data(), kRotaryDim, kHeads, kKvHeads,
                  kHeadDim, shape.tokens);
      };
      auto run_ours = [&] {
        rope::apply(r, shape.tokens, rope::Tensor{qb.data(), qb.data(), kHeads}, rope::Tensor{kb.data(), kb.data(), kKvHeads});
      };
      // One rotation each from the same input: how far apart the two results are.
      run_vllm();
      run_ours();
      double diff = 0;
      for (int64_t i = 0; i < q_len; ++i) diff = std::max(diff, std::fabs(double(qa[i]) - qb[i]) / (1.0 + std::fabs(double(qa[i]))));
      for (int64_t i = 0; i < k_len; ++i) diff = std::max(diff, std::fabs(double(ka[i]) - kb[i]) / (1.0 + std::fabs(double(ka[i]))));
      // Timed: rotations preserve norms, so the arrays are rotated again and again in place.
      for (const int threads : {1, 2}) {
        vllm_set_threads(threads);
        embedkit::set_thread_count(threads);
        std::vector<double> tv, te;
        for (int rep = 0; rep < reps + 1; ++rep) {  // the first rep warms both up, untimed
          for (int turn = 0; turn < 2; ++turn) {
            const bool vllm_turn = (turn ^ (rep & 1)) == 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
            const double t0 = now_ms();
            for (int c = 0; c < shape.calls; ++c) vllm_turn ? run_vllm() : run_ours();
            const double us = (now_ms() - t0) * 1000.0 / shape.calls;
            if (rep > 0) (vllm_turn ? tv : te).push_back(us);
          }
        }
        const double mv = median(tv), me = median(te);
        std::printf("%-22s %-6s %3d %12.2f %12.2f %8.2fx %12.2e\n", shape.name, neox ? "neox" : "gptj", threads, mv,
                    me, mv / me, diff);
      }
    }
  }
  return 0;
}
