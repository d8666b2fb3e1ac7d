#include "large_array.h"

#include <mutex>

namespace embedkit {
namespace {

struct CachedBlock {
  void* data;
  size_t bytes;  // rounded to whole huge pages
};

// Never destroyed, so an array freed during static destruction still finds it.
struct Cache {
  std::mutex mutex;
  std::vector<CachedBlock> blocks;  // guarded by mutex
  size_t bytes = 0;                 // guarded by mutex
};
Cache& the_cache() {
  static Cache* cache = new Cache;
  return *cache;
}

size_t rounded(size_t bytes) {
  return (bytes + kLargeArrayMinBytes - 1) / kLargeArrayMinBytes * kLargeArrayMinBytes;
}

}  // namespace

void* large_array_allocate(size_t bytes) {
  const size_t size = rounded(bytes);
  Cache& c = the_cache();
  {
    // The smallest cached block that fits and wastes at most half of itself.
    std::lock_guard<std::mutex> lock(c.mutex);
    std::vector<CachedBlock>& cache = c.blocks;
    size_t best = cache.size();
    for (size_t i = 0; i < cache.size(); ++i) {
      if (cache[i].bytes >= size && cache[i].bytes <= 2 * size &&
          (best == cache.size() || cache[i].bytes < cache[best].bytes)) {
        best = i;
      }
    }
    if (best != cache.size()) {
      void* p = cache[best].data;
      c.bytes -= cache[best].bytes;
      cache[best] = cache.back();
      cache.pop_back();
      return p;
    }
  }
  void* p = std::aligned_alloc(kLargeArrayMinBytes, size);
  if (p != nullptr) advise_huge_pages(p, size);
  return p;
}

void large_array_free(void* block, size_t bytes) {
  if (block == nullptr) return;
  const size_t size = rounded(bytes);
  // Blocks of an earlier allocate() that came from the cache may be up to twice `size`; they
  // are re-cached at the requested size, the rest of the block simply unused.
  Cache& c = the_cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.bytes + size <= kLargeArrayCacheBytes) {
      c.blocks.push_back({block, size});
      c.bytes += size;
      return;
    }
  }
  std::free(block);
}

size_t large_array_cached_bytes() {
  Cache& c = the_cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

}  // namespace embedkit
