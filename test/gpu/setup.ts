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
