// Instructions per pooled row, FBGEMM's fp32 EmbeddingSpMDM against embedkit's
// embedding_bag: both run twice on the same table, ids and bag offsets (one thread), each
// from its own noinline function, so that `callgrind_annotate --inclusive=yes` gives each
// kernel's count; count.sh divides by the rows pooled. Memory time does not enter: this is
// the instruction side of the comparison that compare.cc times.
#include <fbgemm/FbgemmEmbedding.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "common/parallel.h"
#include "gather/gather.h"
#include "bag_args.h"

namespace {

constexpr int64_t kRows = 200000;
constexpr int64_t kBags = 4096;
constexpr int64_t kBagLen = 32;
constexpr int64_t kIds = kBags * kBagLen;

std::vector<float> table, out_fbgemm, out_embedkit;
std::vector<int32_t> ids, offsets;
int64_t dim = 0;
fbgemm::EmbeddingSpMDMKernelSignature<float, int32_t, int32_t, float>::Type fbgemm_kernel;

__attribute__((noinline)) void run_fbgemm() {
  fbgemm_kernel(kBags, kIds, kRows, table.data(), ids.data(), offsets.data(), nullptr, out_fbgemm.data());
}

__attribute__((noinline)) void run_embedkit() {
  embedkit::gather::embedding_bag(sum_bag_args(table.data(), kRows, dim, ids.data(), kIds,
                                               offsets.data(), kBags, out_embedkit.data()));
}

}  // namespace

int main(int argc, char** argv) {
  dim = argc > 1 ? std::atoll(argv[1]) : 64;
  embedkit::set_thread_count(1);
  table.assign(static_cast<size_t>(kRows * dim), 0.5f);
  out_fbgemm.resize(static_cast<size_t>(kBags * dim));
  out_embedkit.resize(static_cast<size_t>(kBags * dim));
  std::mt19937 rng(1);
  ids.resize(kIds);
  offsets.resize(kBags + 1);
  for (int32_t& v : ids) v = static_cast<int32_t>(rng() % kRows);
  for (int64_t b = 0; b <= kBags; ++b) offsets[b] = static_cast<int32_t>(b * kBagLen);
  fbgemm_kernel = fbgemm::GenerateEmbeddingSpMDM<float, int32_t, int32_t, float>(
      dim, /*has_weight=*/false, /*normalize_by_lengths=*/false, /*prefetch=*/16,
      /*is_weight_positional=*/false, /*use_offsets=*/true);
  for (int i = 0; i < 2; ++i) {
    run_fbgemm();
    run_embedkit();
  }
  if (out_fbgemm != out_embedkit) {
    std::fprintf(stderr, "the two kernels disagree\n");
    return 1;
  }
  std::printf("rows pooled per kernel: %lld\n", static_cast<long long>(2 * kIds));
  return 0;
}
