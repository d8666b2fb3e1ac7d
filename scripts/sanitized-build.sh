#!/usr/bin/env bash
# Configures and builds build-native-asan/: the native tests under AddressSanitizer + UBSan
# and, where clang++ is found, the libFuzzer targets too, linked from the same kernel objects
# (CMakeLists.txt, EMBEDKIT_FUZZ). scripts/native-tests.sh runs the tests from it and
# scripts/fuzz.sh the fuzzers, so the sanitized kernels compile once for both. Without
# clang++ the tests build with the default compiler and there are no fuzzers.
#
#   bash scripts/sanitized-build.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly dir=build-native-asan
if command -v clang++ >/dev/null; then
  fuzz=ON
  args=(-DCMAKE_CXX_COMPILER=clang++ -DEMBEDKIT_FUZZ=ON)
else
  fuzz=OFF
  args=(-DEMBEDKIT_SANITIZE=ON)
fi
# A directory configured the other way (another compiler) starts afresh: cmake keeps the
# compiler of its first configure.
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q "^EMBEDKIT_FUZZ:BOOL=$fuzz$" "$dir/CMakeCache.txt"; then
  rm -rf "$dir"
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${args[@]}"
cmake --build "$dir" -j 2
