// Picks one family's kernel table for an ISA. Every family declares the same four
// accessors (reference_kernels, avx2_kernels, avx512_kernels, neon_kernels); a SIMD table
// is null where its file compiled to nothing (another architecture), and the scalar
// reference serves then.
#pragma once

#include "isa.h"

namespace embedkit {

template <class Kernels>
const Kernels& select_kernels(Isa isa, const Kernels& reference, const Kernels* (*avx2)(),
                              const Kernels* (*avx512)(), const Kernels* (*neon)()) {
  const Kernels* k = nullptr;
  switch (isa) {
    case Isa::Avx2: k = avx2(); break;
    case Isa::Avx512: k = avx512(); break;
    case Isa::Neon: k = neon(); break;
    case Isa::Scalar: break;
  }
  return k != nullptr ? *k : reference;
}

}  // namespace embedkit
