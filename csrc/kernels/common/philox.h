// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), the counter-based generator behind every random choice in embedkit. Header-only,
// plain uint32 arithmetic, no ISA or Node dependencies: a .cu file includes it as is and the
// GPU draws the same numbers as the CPU (EMBEDKIT_HOST_DEVICE marks the functions host + device).
//
// One call maps (counter: 4 words, key: 2 words) to 4 independent uniform words. Nothing is
// stateful, so any thread can compute any part of a stream directly.
#pragma once

#include <cstdint>

#include "host_device.h"

namespace embedkit::philox {

struct Block {
  uint32_t v[4];
};

// The multipliers and Weyl key increments of Philox4x32 (from the paper).
constexpr uint32_t kM0 = 0xD2511F53u;
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;
constexpr uint32_t kW1 = 0xBB67AE85u;

EMBEDKIT_HOST_DEVICE inline Block round(Block c, uint32_t k0, uint32_t k1) {
  const uint64_t p0 = static_cast<uint64_t>(kM0) * c.v[0];
  const uint64_t p1 = static_cast<uint64_t>(kM1) * c.v[2];
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  return Block{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
}

// Philox4x32 with 10 rounds: the key is bumped by the Weyl increments between rounds.
EMBEDKIT_HOST_DEVICE inline Block philox4x32_10(Block ctr, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    ctr = round(ctr, k0, k1);
  }
  return ctr;
}

// ---- embedkit's stream layout ---------------------------------------------------------------
//
// key   = (seed & 0xffffffff, seed >> 32) for the 64-bit seed the caller gives.
// counter = (i & 0xffffffff, i >> 32, 0, stream) for the 64-bit block index i of a stream.
// A stream is the sequence of words block(0).v[0..3], block(1).v[0..3], ...: word w of a
// stream is block(w / 4).v[w % 4]. The streams:
//
//   kSigns   (1): the random signs D of srht and fjlt. Coordinate j of the padded input is
//                 negated when bit (j % 32) of word j / 32 is set.
//   kSample  (2): srht's subsample. Draw t (t = 0, 1, ...) is the 64-bit value
//                 u = v[0] | v[1] << 32 of block t; uniform_below(u, m) = (u * m) >> 64 maps
//                 it to [0, m) (bias below m / 2^64). See jl.h for how draws pick k of n.
//   kFjlt    (3): fjlt's sparse P (k x n, n the padded size): entry (i, j) is word
//                 w = i * n + j.
//   kSparse  (4): sparseProjection's matrix (k x d): entry (i, j) is word w = i * d + j.
//   kVqSample (5): vqSample. Row b uses block b: u = v[0] | v[1] << 32, (u >> 11) * 2^-53
//                 picks the code on the float64 CDF; uniform_below(v[2] | v[3] << 32, n_j)
//                 picks the token among the code's n_j tokens (codebook.h).
//   kPqInit  (6): pqTrain's initial centroids. Subspace s, draw i uses block s * 2^32 + i:
//                 uniform_below(v[0] | v[1] << 32, n - i) is the partial Fisher-Yates swap.
// For both sparse matrices, a word u makes the entry non-zero when (u >> 1) < threshold,
// threshold = the density rounded to a multiple of 2^-31 (jl.h), with sign + for
// u & 1 == 0 and - otherwise.
enum Stream : uint32_t { kSigns = 1, kSample = 2, kFjlt = 3, kSparse = 4, kVqSample = 5, kPqInit = 6 };

EMBEDKIT_HOST_DEVICE inline Block stream_block(uint64_t seed, uint32_t stream, uint64_t i) {
  const Block ctr{{static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), 0u, stream}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Word w of a stream (one Philox call; batch callers take all 4 words of a block).
EMBEDKIT_HOST_DEVICE inline uint32_t stream_word(uint64_t seed, uint32_t stream, uint64_t w) {
  return stream_block(seed, stream, w >> 2).v[w & 3];
}

// (u * m) >> 64 without a 128-bit type (CUDA has __umul64hi, but this stays portable).
EMBEDKIT_HOST_DEVICE inline uint64_t uniform_below(uint64_t u, uint64_t m) {
  const uint64_t u_lo = u & 0xffffffffu, u_hi = u >> 32;
  const uint64_t m_lo = m & 0xffffffffu, m_hi = m >> 32;
  const uint64_t lo_lo = u_lo * m_lo;
  const uint64_t hi_lo = u_hi * m_lo;
  const uint64_t lo_hi = u_lo * m_hi;
  const uint64_t hi_hi = u_hi * m_hi;
  const uint64_t mid = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + (lo_hi & 0xffffffffu);
  return hi_hi + (hi_lo >> 32) + (lo_hi >> 32) + (mid >> 32);
}

}  // namespace embedkit::philox
