// Software prefetch of one cache line, for reading or for writing.
//
// Written as volatile inline assembly rather than __builtin_prefetch: GCC 12 at -O3 deleted the
// builtin in several of our kernels (an out-of-line helper or lambda that only prefetches is
// inferred to have no side effects and its calls are dropped; in other places the inlined
// prefetch vanished too), silently costing 1.5-3x on short-row tables. A volatile asm
// statement is never removed, so the instructions the kernels ask for are the ones that run
// (test/prefetch-codegen.test.ts checks the built addon).
//
// prefetch_write fetches the line in a state that can be written without a second request
// (PREFETCHW on x86, PSTL1KEEP on ARM): a read-modify-write of a row that is not cached then
// costs one transaction instead of a shared fill followed by an upgrade. GCC only emits
// PREFETCHW for __builtin_prefetch(p, 1) with -mprfchw, which the addon is not built with.
// Every x86-64 CPU with AVX2 executes it (AMD since the K6; Intel supports it from
// Broadwell and treats the encoding as a no-op before), and the scalar paths never call it.
#pragma once

namespace embedkit {

[[gnu::always_inline]] inline void prefetch_read(const void* line) {
#if defined(__x86_64__)
  __asm__ volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(line)));
#elif defined(__aarch64__)
  __asm__ volatile("prfm pldl1keep, %0" : : "Q"(*static_cast<const char*>(line)));
#else
  __builtin_prefetch(line, 0, 3);
#endif
}

[[gnu::always_inline]] inline void prefetch_write(const void* line) {
#if defined(__x86_64__)
  __asm__ volatile("prefetchw %0" : : "m"(*static_cast<const char*>(line)));
#elif defined(__aarch64__)
  __asm__ volatile("prfm pstl1keep, %0" : : "Q"(*static_cast<const char*>(line)));
#else
  __builtin_prefetch(line, 1, 3);
#endif
}

}  // namespace embedkit
