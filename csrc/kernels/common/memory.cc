#include "memory.h"

#include <cstdint>

#include "parallel.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace embedkit {

size_t advise_huge_pages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end <= begin) return 0;
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) != 0) return 0;
  return static_cast<size_t>(end - begin);
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

void prefault_zeroed(void* data, size_t bytes) {
  if (bytes < kPrefaultMinBytes || thread_count() < 2) return;
  constexpr int64_t kPage = 4096;
  const int64_t pages = static_cast<int64_t>((bytes + kPage - 1) / kPage);
  // One task per thread: each maps a contiguous run, so no two threads fault the same huge page.
  const int64_t tasks = thread_count();
  volatile char* const base = static_cast<char*>(data);
  parallel_for(tasks, [&](int64_t t) {
    for (int64_t k = pages * t / tasks; k < pages * (t + 1) / tasks; ++k) base[k * kPage] = 0;
  });
}

}  // namespace embedkit
