// Reads a libFuzzer input as a stream of choices: sizes, flags, index values, floats. When
// the bytes run out every read returns its smallest value, so any prefix is a valid input
// and the fuzzer can grow inputs byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/index_array.h"
#include "common/isa.h"
#include "common/parallel.h"

namespace fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint64_t u64() {
    uint64_t v = 0;
    const size_t n = size_ - pos_ < 8 ? size_ - pos_ : 8;
    std::memcpy(&v, data_ + pos_, n);
    pos_ += n;
    return v;
  }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool flag() { return (u8() & 1) != 0; }
  // Uniform-ish in [lo, hi] (one byte when the range fits in one).
  int64_t between(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t raw = span <= 256 ? u8() : u64();
    return lo + static_cast<int64_t>(span == 0 ? raw : raw % span);
  }
  // An index value: usually in [0, limit), sometimes anything (negative, huge, the 32-bit
  // boundary), which is what validation must catch.
  int64_t index(int64_t limit) {
    switch (u8() % 8) {
      case 0: return static_cast<int64_t>(u64());
      case 1: return limit + between(0, 3);
      case 2: return -between(1, 3);
      case 3: return (int64_t{1} << 31) + between(-2, 1);
      default: return limit > 0 ? between(0, limit - 1) : 0;
    }
  }
  // A finite float of moderate size (kernels compare against a reference with a tolerance).
  float value() { return static_cast<float>(static_cast<int>(u8()) - 128) / 32.0f; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Index values stored exactly as a caller's typed array of the chosen type holds them.
struct TypedIndices {
  embedkit::IndexType type = embedkit::IndexType::Int32;
  std::vector<int32_t> i32;  // Int32 and Uint32 (the same bits, read signed or unsigned)
  std::vector<int64_t> i64;
  void push(int64_t v) {
    if (type == embedkit::IndexType::Int64) i64.push_back(v);
    else i32.push_back(static_cast<int32_t>(v));
  }
  embedkit::IndexArray view() const {
    return type == embedkit::IndexType::Int64
               ? embedkit::IndexArray{i64.data(), static_cast<int64_t>(i64.size()), type}
               : embedkit::IndexArray{i32.data(), static_cast<int64_t>(i32.size()), type};
  }
};

inline TypedIndices typed_indices(Input& in) {
  TypedIndices t;
  const int kind = static_cast<int>(in.between(0, 2));
  t.type = kind == 0 ? embedkit::IndexType::Int32
           : kind == 1 ? embedkit::IndexType::Uint32
                       : embedkit::IndexType::Int64;
  return t;
}

// The available ISAs, for picking one per input.
inline std::vector<embedkit::Isa> available_isas() {
  std::vector<embedkit::Isa> isas;
  for (int i = 0; i < embedkit::kNumIsas; ++i) {
    const auto isa = static_cast<embedkit::Isa>(i);
    if (embedkit::isa_available(isa)) isas.push_back(isa);
  }
  return isas;
}

// Chooses the ISA and thread count for the rest of the input.
inline embedkit::Isa pick_path(Input& in) {
  static const std::vector<embedkit::Isa> isas = available_isas();
  const embedkit::Isa isa = isas[in.between(0, static_cast<int64_t>(isas.size()) - 1)];
  embedkit::set_active_isa(isa);
  embedkit::set_thread_count(static_cast<int>(in.between(1, 3)));
  return isa;
}

// Stops the run with a message; libFuzzer reports the abort as a crash with the input.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz: %s\n", what);
  std::abort();
}

}  // namespace fuzz
