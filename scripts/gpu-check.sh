#!/usr/bin/env bash
# The GPU check, run on a lent GPU machine (which has nvcc, cmake and PyTorch but no Node):
# builds the CUDA addon for the GPU at hand, runs the GPU specs (test/gpu, with
# EMBEDKIT_REQUIRE_GPU=1 so a missing GPU fails instead of skipping) and the GPU benchmark
# with its PyTorch peer, and prints a short table last. Sized for well under 8 minutes.
#
# Prepare here, then run there through the device tool:
#   npm run compile && node scripts/gpu-kit.mjs      # dist/, build/Release, .cache/device/gpu-kit.tar.xz
#   node scripts/prebuild.mjs --arch cuda             # optional: prebuilds/linux-x64/embedkit_cuda.node
#   device: bash scripts/gpu-check.sh                 # carry: .cache/device/gpu-kit.tar.xz dist build/Release
#                                                     #   (and prebuilds/linux-x64/embedkit_cuda.node)
# A carried CUDA prebuild gets the GPU specs too, after the benchmark.
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

# run_specs <name>: test/gpu with a missing GPU a failure, into $out/vitest-<name>.json and
# $out/<name>.log.
run_specs() {
  EMBEDKIT_REQUIRE_GPU=1 node node_modules/vitest/vitest.mjs run test/gpu \
    --reporter=default --reporter=json --outputFile.json="$out/vitest-$1.json" >"$out/$1.log" 2>&1
}

start=$SECONDS
run_specs gpu
test_status=$?
tail -25 "$out/gpu.log"
echo "gpu-check: GPU specs status $test_status in $((SECONDS - start)) s"

start=$SECONDS
EMBEDKIT_TORCH_PYTHON=${EMBEDKIT_TORCH_PYTHON:-$(command -v python3)} \
  node bench/gpu.mjs ${GPU_BENCH_ARGS:-} --json "$out/bench-gpu.json" >"$out/bench.log" 2>&1
bench_status=$?
echo "gpu-check: GPU bench status $bench_status in $((SECONDS - start)) s"

# GPU_VARIANTS="name:nvcc flags;name:nvcc flags": after the bench above, each variant is built
# with those flags added (the kernels' tuning macros, e.g. -DEMBEDKIT_BAG_MIN_BLOCKS=4),
# swapped in, and benchmarked without the peer; the summary then compares every op's ms.
# One lease then answers a tuning question (each variant costs a build and a bench, ~60 s).
IFS=';' read -r -a variants <<<"${GPU_VARIANTS:-}"
for variant in "${variants[@]}"; do
  [ -n "$variant" ] || continue
  name=${variant%%:*}
  flags=${variant#*:}
  start=$SECONDS
  if cmake -S . -B "build-cuda-$name" -G "Unix Makefiles" -DEMBEDKIT_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_CUDA_FLAGS="$flags" \
       -DNODE_API_INCLUDE_DIRS="$root/node_modules/node-api-headers/include;$root/node_modules/node-addon-api" \
       >"$out/cmake-$name.log" 2>&1 && cmake --build "build-cuda-$name" -j "$(nproc)" >>"$out/cmake-$name.log" 2>&1; then
    cp build-cuda/Release/embedkit_cuda.node build-cuda/embedkit_cuda.node.main
    cp "build-cuda-$name/Release/embedkit_cuda.node" build-cuda/Release/embedkit_cuda.node
    node bench/gpu.mjs ${GPU_BENCH_ARGS:-} --no-torch --json "$out/bench-$name.json" >"$out/bench-$name.log" 2>&1
    echo "gpu-check: variant $name ($flags) bench status $? in $((SECONDS - start)) s"
    cp build-cuda/embedkit_cuda.node.main build-cuda/Release/embedkit_cuda.node
  else
    echo "gpu-check: variant $name ($flags) did not build (see $out/cmake-$name.log)"
  fi
done

# The linux-x64 prebuild, when carried (the shipped binary: every release architecture, host
# code linked by zig; see scripts/prebuild.mjs): the same specs with the build above moved
# aside, so that the loader falls through to prebuilds/.
prebuild_status=0
if [ -f prebuilds/linux-x64/embedkit_cuda.node ]; then
  start=$SECONDS
  mv build-cuda/Release/embedkit_cuda.node build-cuda/embedkit_cuda.node.source
  run_specs gpu-prebuild
  prebuild_status=$?
  mv build-cuda/embedkit_cuda.node.source build-cuda/Release/embedkit_cuda.node
  echo "gpu-check: GPU specs on the prebuild status $prebuild_status in $((SECONDS - start)) s"
fi

echo
echo "==== gpu-check summary ===="
# Each failed spec by name with the start of its message: the summary is what surely comes
# back (the output's tail), so a failure can be read without the logs.
spec_summary() {
  node -e '
    const r = require(process.argv[1]);
    console.log(`${process.argv[2]}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped; ` +
      `${r.numFailedTestSuites} of ${r.numTotalTestSuites} suites failed`);
    for (const file of r.testResults) {
      for (const t of file.assertionResults.filter((a) => a.status === "failed")) {
        const message = (t.failureMessages[0] ?? "").replace(/\x1b\[[0-9;]*m/g, "").split("\n").slice(0, 3).join(" | ");
        console.log(`  FAILED ${file.name.replace(/^.*\/test\//, "test/")}: ${t.fullName}\n    ${message.slice(0, 400)}`);
      }
    }
  ' "$1" "$2" 2>/dev/null || echo "$2: no report (status $3)"
}
spec_summary "$out/vitest-gpu.json" "GPU specs" "$test_status"
[ -f prebuilds/linux-x64/embedkit_cuda.node ] &&
  spec_summary "$out/vitest-gpu-prebuild.json" "GPU specs on prebuilds/linux-x64/embedkit_cuda.node" "$prebuild_status"
cat "$out/bench.log"
if [ -n "${GPU_VARIANTS:-}" ]; then
  node scripts/gpu-variants.mjs "$out" "${GPU_VARIANTS}"
fi
# The device tool brings back at most 8 files: keep the two reports and pack every log and
# variant record into one archive.
(cd "$out" && find . -maxdepth 1 -type f ! -name vitest-gpu.json ! -name bench-gpu.json ! -name logs.tar.gz -printf '%P\n' |
  tar -czf logs.tar.gz -T - --remove-files) 2>/dev/null || true
[ $test_status -eq 0 ] && [ $bench_status -eq 0 ] && [ $prebuild_status -eq 0 ]
