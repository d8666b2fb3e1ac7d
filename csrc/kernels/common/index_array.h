// A read-only view of caller-owned integer indices in any of the accepted element types.
#pragma once

#include <cstdint>

namespace embedkit {

enum class IndexType : uint8_t { Int32 = 0, Uint32 = 1, Int64 = 2 };

struct IndexArray {
  const void* data = nullptr;
  int64_t length = 0;
  IndexType type = IndexType::Int32;

  int64_t at(int64_t i) const {
    switch (type) {
      case IndexType::Int32: return static_cast<const int32_t*>(data)[i];
      case IndexType::Uint32: return static_cast<const uint32_t*>(data)[i];
      case IndexType::Int64: return static_cast<const int64_t*>(data)[i];
    }
    return -1;
  }
};

// The first position whose value lies outside [0, limit), or -1 when every value is in range.
int64_t find_index_out_of_range(const IndexArray& indices, int64_t limit);

// Calls fn.template operator()<T>() with T the C++ element type of `type`.
template <class Fn>
decltype(auto) visit_index_type(IndexType type, Fn&& fn) {
  switch (type) {
    case IndexType::Uint32: return fn(static_cast<const uint32_t*>(nullptr));
    case IndexType::Int64: return fn(static_cast<const int64_t*>(nullptr));
    case IndexType::Int32: break;
  }
  return fn(static_cast<const int32_t*>(nullptr));
}

}  // namespace embedkit
