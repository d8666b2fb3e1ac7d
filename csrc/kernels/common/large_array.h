// A std::vector allocator for the large scratch and result arrays of one call (a scatter
// plan's order, its bucketed positions): on this kind of machine the first touch of fresh
// memory costs more than the work done in it. Measured on the development VM (2-vCPU EPYC,
// build_plan of 524,288 indices): about 1 ms per MiB of fresh 4 KiB pages, most of a 16 ms
// plan build. Two changes make it cheap:
//  - arrays of 2 MiB and more start on a 2 MiB boundary and are advised for huge pages, so
//    one fault maps 2 MiB instead of 4 KiB;
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

template <class T>
struct LargeArrayAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  LargeArrayAllocator() = default;
  template <class U>
  LargeArrayAllocator(const LargeArrayAllocator<U>&) {}

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T) - kHugePage) throw std::bad_alloc();
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) {
      void* p = std::malloc(bytes == 0 ? 1 : bytes);
      if (p == nullptr) throw std::bad_alloc();
      return static_cast<T*>(p);
    }
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
    advise_huge_pages(p, rounded);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }

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
