// Software prefetch of one cache line.
//
// Written as volatile inline assembly rather than __builtin_prefetch: GCC 12 at -O3 deleted the
// builtin in several of our kernels (an out-of-line helper or lambda that only prefetches is
// inferred to have no side effects and its calls are dropped; in other places the inlined
// prefetch vanished too), silently costing 1.5-3x on short-row tables. A volatile asm
// statement is never removed, so the instructions the kernels ask for are the ones that run
// (test/prefetch-codegen.test.ts checks the built addon).
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

}  // namespace embedkit
