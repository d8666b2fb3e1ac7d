// A std::vector allocator for the large scratch and result arrays of one call (a scatter
// plan's order, its bucketed positions, a transpose's arrays): the first touch of fresh
// memory can cost more than the work done in it. Measured on the development VM (2-vCPU
// EPYC, /tmp fault test): 0.8 ms per MiB of fresh 4 KiB pages, 0.14 ms per MiB with huge
// pages when the kernel finds them (it often did not: compaction failed), against a 2M-nonzero
// transpose whose sort touches ~50 MB. So:
//  - arrays of 2 MiB and more start on a 2 MiB boundary and are advised for huge pages;
//  - freed ones are cached (bounded) and handed to the next call, already mapped;
//  - elements are default-initialized (no zero fill): these arrays are always written before
//    they are read, and a value-initializing resize() would touch every page once more.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "memory.h"

namespace embedkit {

// Blocks of 2 MiB and more come from here: 2 MiB-aligned, advised for huge pages, and, when
// freed, kept in a small process-wide cache (at most kLargeArrayCacheBytes in all) for the
// next call's arrays, whose pages are then already mapped. Thread-safe. `bytes` must be the
// same in both calls.
void* large_array_allocate(size_t bytes);
void large_array_free(void* block, size_t bytes);
// Bytes of freed blocks held for reuse, and the cap on them.
size_t large_array_cached_bytes();
constexpr size_t kLargeArrayCacheBytes = size_t{64} << 20;
constexpr size_t kLargeArrayMinBytes = size_t{2} << 20;

template <class T>
struct LargeArrayAllocator {
  using value_type = T;

  LargeArrayAllocator() = default;
  template <class U>
  LargeArrayAllocator(const LargeArrayAllocator<U>&) {}

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T) - kLargeArrayMinBytes) throw std::bad_alloc();
    const size_t bytes = n * sizeof(T);
    void* p = bytes < kLargeArrayMinBytes ? std::malloc(bytes == 0 ? 1 : bytes)
                                          : large_array_allocate(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kLargeArrayMinBytes) {
      std::free(p);
    } else {
      large_array_free(p, bytes);
    }
  }

  // resize(n) default-initializes: no zero fill for trivial T.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <class U>
  bool operator==(const LargeArrayAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const LargeArrayAllocator<U>&) const { return false; }
};

// A vector whose resize() leaves new elements unwritten; see above.
template <class T>
using LargeArray = std::vector<T, LargeArrayAllocator<T>>;

}  // namespace embedkit
