// Batches of sort keys (top_k.h) sorted by CUB's LSD radix sort over only the bits in use.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "../common/scratch.h"
#include "top_k.h"

namespace embedkit::cuda::codebook {
namespace {

// Keys per sort: 2^26 keys are 512 MiB, twice over with the sorted copy.
constexpr int64_t kBatchKeys = int64_t{1} << 26;

size_t cub_bytes(int64_t items) {
  size_t bytes = 0;
  uint64_t* k = nullptr;
  cub::DeviceRadixSort::SortKeys(nullptr, bytes, k, k, static_cast<int>(items));
  return bytes;
}

}  // namespace

int64_t segments_per_batch(int64_t length, int id_bits) {
  // The segment number has the bits the rank and the id leave free.
  const int free_bits = 64 - 32 - id_bits;
  const int64_t by_bits = free_bits >= 40 ? (int64_t{1} << 40) : (int64_t{1} << free_bits);
  const int64_t by_memory = std::max<int64_t>(1, kBatchKeys / std::max<int64_t>(1, length));
  return std::max<int64_t>(1, std::min(by_bits, by_memory));
}

size_t sort_scratch_bytes(int64_t segments, int64_t length) {
  const int64_t items = segments * length;
  return 2 * aligned(static_cast<size_t>(items) * 8) + aligned(cub_bytes(items));
}

SortBatch carve_sort_scratch(void* scratch, int64_t segments, int64_t length) {
  const int64_t items = segments * length;
  char* p = static_cast<char*>(scratch);
  SortBatch b;
  b.keys = reinterpret_cast<uint64_t*>(p);
  b.sorted = reinterpret_cast<uint64_t*>(p + aligned(static_cast<size_t>(items) * 8));
  b.cub = p + 2 * aligned(static_cast<size_t>(items) * 8);
  b.cub_bytes = aligned(cub_bytes(items));
  return b;
}

cudaError_t sort_batch(const SortBatch& batch, int64_t items, int bits, cudaStream_t stream) {
  if (items == 0) return cudaSuccess;
  size_t bytes = batch.cub_bytes;
  return cub::DeviceRadixSort::SortKeys(batch.cub, bytes, batch.keys, batch.sorted, static_cast<int>(items), 0, bits,
                                        stream);
}

}  // namespace embedkit::cuda::codebook
