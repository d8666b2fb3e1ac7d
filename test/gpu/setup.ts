// Shared by the GPU specs: whether to run them, and the visible message when they skip.
// On a machine without a usable GPU they skip (CI has none); EMBEDKIT_REQUIRE_GPU=1 (set by
// scripts/gpu-check.sh on a lent GPU machine) turns a missing GPU into a failure instead.
import { cuda } from '../../lib/index';

export const gpuReady = cuda.available();

if (!gpuReady) {
  if (process.env.EMBEDKIT_REQUIRE_GPU === '1') {
    throw new Error(`EMBEDKIT_REQUIRE_GPU=1 but CUDA is unavailable: ${cuda.unavailableReason()}`);
  }
  console.warn(`[embedkit] GPU tests skipped: ${cuda.unavailableReason()}`);
}

/**
 * The GPU pools a bag (an embeddingBag bag, a scatter destination row, a CSR row) of more
 * than this many entries in chunks, for inputs this small (cuda/gather/long_bags.h
 * kMinChunkEntries): a max is still the CPU's exactly, a sum rounds as a sum of chunk sums.
 */
export const LONG_BAG_CHUNK = 512;

/** The most times any one value occurs in `ids` (the longest segment a scatter pools). */
export function longestRun(ids: ArrayLike<number | bigint>): number {
  const counts = new Map<number | bigint, number>();
  let most = 0;
  for (let i = 0; i < ids.length; i++) {
    const c = (counts.get(ids[i]) ?? 0) + 1;
    counts.set(ids[i], c);
    if (c > most) most = c;
  }
  return most;
}
