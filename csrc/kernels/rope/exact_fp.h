// Included at the top of every RoPE source file: the float32 operations keep the exact order
// of ref.cc and body.h (x1*c - x2*s, x2*c + x1*s), with no contraction into fused
// multiply-adds (GCC contracts across statements by default in C++), so every ISA path gives
// the reference's bits. Applies to the rest of the including file.
#pragma once

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
