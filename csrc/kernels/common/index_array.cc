#include "index_array.h"

#include <type_traits>

namespace embedkit {
namespace {

// Scans in blocks so the compiler can vectorize the range test; only a block that fails
// is rescanned for the exact position.
template <class T>
int64_t find_out_of_range(const T* values, int64_t n, int64_t limit) {
  constexpr int64_t kBlock = 256;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t end = begin + kBlock < n ? begin + kBlock : n;
    bool bad = false;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t v = static_cast<int64_t>(values[i]);
      bad |= (v < 0) | (v >= limit);
    }
    if (!bad) continue;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t v = static_cast<int64_t>(values[i]);
      if (v < 0 || v >= limit) return i;
    }
  }
  return -1;
}

}  // namespace

int64_t find_index_out_of_range(const IndexArray& indices, int64_t limit) {
  return visit_index_type(indices.type, [&](auto type_tag) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(type_tag)>>;
    return find_out_of_range(static_cast<const T*>(indices.data), indices.length, limit);
  });
}

}  // namespace embedkit
