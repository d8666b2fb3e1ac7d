// What the CPU (and the OS, through XCR0) lets this process execute. Read once.
#pragma once

namespace embedkit {

struct CpuFeatures {
  // x86-64. AVX2 counts only together with FMA, F16C (the f16 table decoder), POPCNT (the
  // sparse max backward's slot pass) and OS-enabled YMM state; AVX-512 only with
  // F+BW+VL+DQ and OS-enabled ZMM/opmask state, which is what the AVX-512 kernels use.
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool popcnt = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool os_ymm = false;  // XCR0 bits 1,2
  bool os_zmm = false;  // XCR0 bits 5,6,7
  // arm64: Advanced SIMD is part of the base architecture.
  bool neon = false;

  bool has_avx2_path() const { return avx2 && fma && f16c && popcnt && os_ymm; }
  bool has_avx512_path() const {
    return has_avx2_path() && avx512f && avx512bw && avx512vl && avx512dq && os_zmm;
  }
};

const CpuFeatures& cpu_features();

}  // namespace embedkit
