#!/usr/bin/env bash
# The native C++ tests as one static x86-64 binary (zig c++, musl, libc++ linked in), to run
# on another machine whatever its libc: e.g. an AVX-512 host, where the AVX-512 paths run
# (this development machine has none). Writes .cache/device/embedkit_native_tests.
#   bash scripts/native-tests-static.sh && scp .cache/device/embedkit_native_tests host: ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
zig=$(node scripts/prebuild.mjs --zig-path | tail -n 1)
mkdir -p .cache/toolchain/bin .cache/device
wrapper=.cache/toolchain/bin/c++-x86_64-linux-musl
printf '#!/bin/sh\nexec "%s" c++ -target x86_64-linux-musl "$@"\n' "$zig" >"$wrapper"
chmod +x "$wrapper"
cmake -S . -B .cache/native-static -DCMAKE_CXX_COMPILER="$PWD/$wrapper" \
  -DCMAKE_EXE_LINKER_FLAGS=-static -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build .cache/native-static -j 2 >/dev/null
strip -o .cache/device/embedkit_native_tests .cache/native-static/embedkit_native_tests
echo "native-tests-static: .cache/device/embedkit_native_tests ($(stat -c %s .cache/device/embedkit_native_tests) bytes)"
