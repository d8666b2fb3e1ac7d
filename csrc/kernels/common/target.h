// Per-file ISA enablement. The shipped addon is built for the base ISA only; each SIMD
// translation unit wraps its kernel bodies in EMBEDKIT_TARGET_BEGIN/END so that only those
// functions may use the wider instructions, and runtime dispatch decides whether they run.
//
// Include every standard header BEFORE EMBEDKIT_TARGET_BEGIN: a std:: template instantiated
// inside the region would be compiled for the wider ISA, and the linker may keep that copy
// for callers on CPUs without it. Kernel bodies therefore use only their own helpers.
#pragma once

#define EMBEDKIT_PRAGMA(x) _Pragma(#x)

#if defined(__clang__)
#define EMBEDKIT_TARGET_BEGIN(isa) \
  EMBEDKIT_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define EMBEDKIT_TARGET_END EMBEDKIT_PRAGMA(clang attribute pop)
#elif defined(__GNUC__)
#define EMBEDKIT_TARGET_BEGIN(isa) \
  EMBEDKIT_PRAGMA(GCC push_options) EMBEDKIT_PRAGMA(GCC target(isa))
#define EMBEDKIT_TARGET_END EMBEDKIT_PRAGMA(GCC pop_options)
#else
#error "embedkit needs GCC or clang"
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define EMBEDKIT_X86_64 1
#endif
#if defined(__aarch64__)
#define EMBEDKIT_ARM64 1
#endif
