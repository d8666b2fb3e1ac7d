// cuda.vqTopK without ranking all V tokens. Per batch of rows:
//   1. each row's codes become keys (rank of the logit, descending | code), sorted per row
//      by a segmented radix sort (B x K keys);
//   2. one thread per row walks its sorted codes to the one holding the k-th token, plus the
//      codes tied with it (rank_order.h top_k_code_prefix): usually a handful of codes;
//   3. a block per row writes the keys (rank | token id) of those codes' tokens;
//   4. a segmented radix sort orders each row's candidates: the first k are the CPU's ids.
// The work is O(K log K + candidates) per row instead of O(V); a row whose logits tie over
// many codes has many candidates, and step 4 sorts them all (exact, slower).
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>

#include "../../csrc/kernels/codebook/rank_order.h"
#include "../common/lane_groups.cuh"
#include "../common/scratch.h"
#include "vq.h"

namespace embedkit::cuda::codebook {
namespace {

namespace ro = embedkit::codebook::rank_order;

// Rows per batch: the candidate keys take rows x V slots (a row may need all V).
constexpr int64_t kBatchSlots = int64_t{1} << 26;

int64_t rows_per_batch(int64_t rows, const DeviceVqMap& map) {
  return std::max<int64_t>(1, std::min(rows, kBatchSlots / std::max<int64_t>(1, std::max(map.num_tokens, map.num_codes))));
}

// The scratch of one batch of n rows, carved from one allocation.
struct TopKScratch {
  double* log_z;            // all rows
  uint64_t* code_keys;      // n x K
  uint64_t* sorted_codes;   // n x K
  int32_t* token_offsets;   // n x K: where each sorted code's tokens start among the candidates
  int32_t* code_segments;   // n + 1: i x K
  int32_t* token_begin;     // n: i x V
  int32_t* token_end;       // n: i x V + candidates of row i
  int64_t* prefix_codes;    // n: the sorted codes taken
  uint64_t* token_keys;     // n x V
  uint64_t* sorted_tokens;  // n x V
  void* cub;
  size_t cub_bytes;
};

size_t cub_bytes_for(int64_t n, const DeviceVqMap& map) {
  size_t codes = 0, tokens = 0;
  uint64_t* k = nullptr;
  int32_t* o = nullptr;
  cub::DeviceSegmentedRadixSort::SortKeys(nullptr, codes, k, k, static_cast<int>(n * map.num_codes), static_cast<int>(n), o,
                                          o + 1);
  cub::DeviceSegmentedRadixSort::SortKeys(nullptr, tokens, k, k, static_cast<int>(n * map.num_tokens), static_cast<int>(n), o,
                                          o);
  return std::max(codes, tokens);
}

// Lays the parts out from `base` (null: only measures); returns the bytes used.
size_t carve(void* base, int64_t rows, int64_t n, const DeviceVqMap& map, TopKScratch* s) {
  char* p = static_cast<char*>(base);
  size_t at = 0;
  auto take = [&](size_t bytes) {
    void* part = p != nullptr ? p + at : nullptr;
    at += aligned(bytes);
    return part;
  };
  const size_t nk = static_cast<size_t>(n * map.num_codes), nv = static_cast<size_t>(n * map.num_tokens);
  s->log_z = static_cast<double*>(take(static_cast<size_t>(rows) * 8));
  s->code_keys = static_cast<uint64_t*>(take(nk * 8));
  s->sorted_codes = static_cast<uint64_t*>(take(nk * 8));
  s->token_offsets = static_cast<int32_t*>(take(nk * 4));
  s->code_segments = static_cast<int32_t*>(take(static_cast<size_t>(n + 1) * 4));
  s->token_begin = static_cast<int32_t*>(take(static_cast<size_t>(n) * 4));
  s->token_end = static_cast<int32_t*>(take(static_cast<size_t>(n) * 4));
  s->prefix_codes = static_cast<int64_t*>(take(static_cast<size_t>(n) * 8));
  s->token_keys = static_cast<uint64_t*>(take(nv * 8));
  s->sorted_tokens = static_cast<uint64_t*>(take(nv * 8));
  s->cub_bytes = cub_bytes_for(n, map);
  s->cub = take(s->cub_bytes);
  return at;
}

__global__ void code_keys_kernel(const float* logits, int64_t b0, int64_t n, int64_t num_codes, int64_t num_tokens,
                                 int code_bits, uint64_t* keys, int32_t* code_segments, int32_t* token_begin) {
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e <= n) code_segments[e] = static_cast<int32_t>(e * num_codes);
  if (e < n) token_begin[e] = static_cast<int32_t>(e * num_tokens);
  if (e >= n * num_codes) return;
  const int64_t j = e % num_codes;
  keys[e] = ro::sort_key(0, ro::rank_bits(logits[b0 * num_codes + e], true), j, code_bits);
}

__global__ void prefix_kernel(const uint64_t* sorted_codes, int64_t n, DeviceVqMap map, int code_bits, int64_t k,
                              int32_t* token_offsets, int64_t* prefix_codes, int32_t* token_end) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const ro::CodePrefix p = ro::top_k_code_prefix(sorted_codes + i * map.num_codes, map.num_codes, code_bits, map.counts,
                                                 k, token_offsets + i * map.num_codes);
  prefix_codes[i] = p.codes;
  token_end[i] = static_cast<int32_t>(i * map.num_tokens + p.tokens);
}

// One block per row: a thread per taken code writes its tokens' keys.
__global__ void fill_kernel(const uint64_t* sorted_codes, DeviceVqMap map, int code_bits, int id_bits,
                            const int32_t* token_offsets, const int64_t* prefix_codes, uint64_t* token_keys) {
  const int64_t i = blockIdx.x;
  const uint64_t code_mask = (uint64_t{1} << code_bits) - 1;
  uint64_t* keys = token_keys + i * map.num_tokens;
  for (int64_t p = threadIdx.x; p < prefix_codes[i]; p += blockDim.x) {
    const uint64_t key = sorted_codes[i * map.num_codes + p];
    const int64_t code = static_cast<int64_t>(key & code_mask);
    const uint32_t rank = static_cast<uint32_t>(key >> code_bits);
    const int32_t at = token_offsets[i * map.num_codes + p];
    for (int32_t q = map.offsets[code]; q < map.offsets[code + 1]; ++q) {
      keys[at + (q - map.offsets[code])] = ro::sort_key(0, rank, map.tokens[q], id_bits);
    }
  }
}

__global__ void take_kernel(const float* logits, int64_t b0, int64_t n, DeviceVqMap map, int64_t k, int id_bits,
                            const uint64_t* sorted_tokens, const double* log_z, int32_t* ids, float* log_probs) {
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e >= n * k) return;
  const int64_t local = e / k, j = e % k, b = b0 + local;
  const int64_t token =
      static_cast<int64_t>(sorted_tokens[local * map.num_tokens + j] & ((uint64_t{1} << id_bits) - 1));
  ids[b * k + j] = static_cast<int32_t>(token);
  const float logit = logits[b * map.num_codes + map.token_to_code[token]];
  log_probs[b * k + j] = static_cast<float>(static_cast<double>(logit) - log_z[b]);
}

}  // namespace

size_t vq_top_k_scratch_bytes(int64_t rows, const DeviceVqMap& map) {
  TopKScratch s;
  return carve(nullptr, rows, rows_per_batch(rows, map), map, &s);
}

cudaError_t vq_top_k(const float* logits, int64_t rows, const DeviceVqMap& map, int64_t k, int32_t* ids,
                     float* log_probs, void* scratch, cudaStream_t stream) {
  if (rows == 0 || k == 0) return cudaSuccess;
  const int64_t per_batch = rows_per_batch(rows, map);
  TopKScratch s;
  carve(scratch, rows, per_batch, map, &s);
  RowOutputs z;
  z.log_z_exact = s.log_z;
  cudaError_t e = vq_rows(logits, rows, map, z, stream);
  const int code_bits = ro::id_bits_for(map.num_codes), id_bits = ro::id_bits_for(map.num_tokens);
  for (int64_t b0 = 0; e == cudaSuccess && b0 < rows; b0 += per_batch) {
    const int64_t n = std::min(per_batch, rows - b0);
    code_keys_kernel<<<blocks_for(std::max(n * map.num_codes, n + 1)), kBlockThreads, 0, stream>>>(
        logits, b0, n, map.num_codes, map.num_tokens, code_bits, s.code_keys, s.code_segments, s.token_begin);
    if ((e = cudaGetLastError()) != cudaSuccess) break;
    size_t bytes = s.cub_bytes;
    e = cub::DeviceSegmentedRadixSort::SortKeys(s.cub, bytes, s.code_keys, s.sorted_codes,
                                                static_cast<int>(n * map.num_codes), static_cast<int>(n),
                                                s.code_segments, s.code_segments + 1, 0, 32 + code_bits, stream);
    if (e != cudaSuccess) break;
    prefix_kernel<<<blocks_for(n), kBlockThreads, 0, stream>>>(s.sorted_codes, n, map, code_bits, k, s.token_offsets,
                                                               s.prefix_codes, s.token_end);
    fill_kernel<<<static_cast<unsigned>(n), kBlockThreads, 0, stream>>>(s.sorted_codes, map, code_bits, id_bits,
                                                                       s.token_offsets, s.prefix_codes, s.token_keys);
    if ((e = cudaGetLastError()) != cudaSuccess) break;
    bytes = s.cub_bytes;
    e = cub::DeviceSegmentedRadixSort::SortKeys(s.cub, bytes, s.token_keys, s.sorted_tokens,
                                                static_cast<int>(n * map.num_tokens), static_cast<int>(n), s.token_begin,
                                                s.token_end, 0, 32 + id_bits, stream);
    if (e != cudaSuccess) break;
    take_kernel<<<blocks_for(n * k), kBlockThreads, 0, stream>>>(logits, b0, n, map, k, id_bits, s.sorted_tokens,
                                                                 s.log_z, ids, log_probs);
    e = cudaGetLastError();
  }
  return e;
}

}  // namespace embedkit::cuda::codebook
