#!/usr/bin/env bash
# The GPU check, run on a lent GPU machine (which has nvcc, cmake and PyTorch but no Node):
# builds the CUDA addon for the GPU at hand, runs the GPU specs (test/gpu, with
# EMBEDKIT_REQUIRE_GPU=1 so a missing GPU fails instead of skipping) and the GPU benchmark
# with its PyTorch peer, and prints a short table last. Sized for well under 8 minutes.
#
# Prepare here, then run there through the device tool:
#   npm run compile && node scripts/gpu-kit.mjs      # dist/, build/Release, .cache/device/gpu-kit.tar.xz
#   device: bash scripts/gpu-check.sh                 # carry: .cache/device/gpu-kit.tar.xz dist build/Release
# Results (vitest JSON, bench JSON, logs) go to $OUT when set, else gpu-results/.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$root/gpu-results}
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:/opt/torch/.venv/bin:$PATH

if ! command -v node >/dev/null; then
  kit=$root/.cache/device/gpu-kit.tar.xz
  [ -f "$kit" ] || { echo "gpu-check: no node and no $kit (run npm run gpu:kit here and carry .cache/device/gpu-kit.tar.xz)"; exit 2; }
  mkdir -p .cache/device/kit && tar -xJf "$kit" -C .cache/device/kit
  [ -e node_modules ] || ln -s .cache/device/kit/node_modules node_modules
  export PATH=$root/.cache/device/kit/bin:$PATH
fi
echo "gpu-check: node $(node --version), $(nvcc --version | tail -1)"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader || true

# Only the GPU at hand's architecture: a full five-architecture build is CI's job.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
export EMBEDKIT_CUDA_ARCHS=${EMBEDKIT_CUDA_ARCHS:-${arch:-90}}
start=$SECONDS
cmake -S . -B build-cuda -G "Unix Makefiles" -DEMBEDKIT_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
  -DNODE_API_INCLUDE_DIRS="$root/node_modules/node-api-headers/include;$root/node_modules/node-addon-api" \
  >"$out/cmake.log" 2>&1 && cmake --build build-cuda -j "$(nproc)" >>"$out/cmake.log" 2>&1
build_status=$?
echo "gpu-check: CUDA addon build (sm_$EMBEDKIT_CUDA_ARCHS) status $build_status in $((SECONDS - start)) s"
[ $build_status -eq 0 ] || { tail -40 "$out/cmake.log"; exit 1; }

start=$SECONDS
EMBEDKIT_REQUIRE_GPU=1 node node_modules/vitest/vitest.mjs run test/gpu \
  --reporter=default --reporter=json --outputFile.json="$out/vitest-gpu.json" >"$out/tests.log" 2>&1
test_status=$?
tail -25 "$out/tests.log"
echo "gpu-check: GPU specs status $test_status in $((SECONDS - start)) s"

start=$SECONDS
EMBEDKIT_TORCH_PYTHON=${EMBEDKIT_TORCH_PYTHON:-$(command -v python3)} \
  node bench/gpu.mjs ${GPU_BENCH_ARGS:-} --json "$out/bench-gpu.json" >"$out/bench.log" 2>&1
bench_status=$?
echo "gpu-check: GPU bench status $bench_status in $((SECONDS - start)) s"

echo
echo "==== gpu-check summary ===="
node -e '
  const r = require(process.argv[1]);
  console.log(`GPU specs: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped; ` +
    `${r.numFailedTestSuites} of ${r.numTotalTestSuites} suites failed`);
' "$out/vitest-gpu.json" 2>/dev/null || echo "GPU specs: no report (status $test_status)"
cat "$out/bench.log"
[ $test_status -eq 0 ] && [ $bench_status -eq 0 ]
