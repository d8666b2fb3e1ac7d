// A table row as the gather kernels read it: where the rows are, in which table format
// (csrc/kernels/gather/gather.h TableFormat), and the per-row scales and biases of q8 / q4.
// Plain data shared by the binding and the kernels; the decoding itself is in
// table_rows.cuh.
#pragma once

#include <cstdint>

namespace embedkit::cuda {

enum class TableFormat : int { F32 = 0, F16 = 1, BF16 = 2, Q8 = 3, Q4 = 4 };

struct TableRows {
  const void* data = nullptr;  // rows x stride elements of the format
  TableFormat format = TableFormat::F32;
  int64_t dim = 0;
  int64_t stride = 0;             // elements (bytes for q4) per stored row
  const float* scales = nullptr;  // q8 / q4
  const float* biases = nullptr;

  // Elements (q4: bytes) one stored row takes.
  static int64_t stride_of(TableFormat f, int64_t dim) { return f == TableFormat::Q4 ? (dim + 1) / 2 : dim; }

  // Whether 4-wide accesses are safe: rows whose length is a multiple of 4, and a base
  // pointer aligned for the widest access of the format.
  bool allows_width4() const {
    if (dim % 4 != 0) return false;
    const uintptr_t base = reinterpret_cast<uintptr_t>(data);
    switch (format) {
      case TableFormat::F32: return base % 16 == 0;
      case TableFormat::F16: case TableFormat::BF16: return base % 8 == 0;
      case TableFormat::Q8: return base % 4 == 0;
      case TableFormat::Q4: return base % 2 == 0;
    }
    return false;
  }
};

}  // namespace embedkit::cuda
