#!/usr/bin/env bash
# Builds bench/fbgemm/compare.cc against embedkit's kernels and an FBGEMM build made by the
# caller (https://github.com/pytorch/FBGEMM, fetched and built beside this repo with its own
# CMake; never copied into it), in a temporary directory, and runs it: FBGEMM's fp32
# EmbeddingSpMDM and embedkit's embedding_bag on the same huge-page table, alternated.
#
#   bash bench/fbgemm/compare.sh /path/to/FBGEMM /path/to/FBGEMM/build [rounds=3]
#
# The build directory must hold libfbgemm.a, asmjit/libasmjit.a and cpuinfo/libcpuinfo.a.
# embedkit is compiled with the flags of the shipped addon (base ISA, runtime dispatch).
set -euo pipefail
src=${1:?usage: compare.sh /path/to/FBGEMM /path/to/FBGEMM/build [rounds]}
build=${2:?usage: compare.sh /path/to/FBGEMM /path/to/FBGEMM/build [rounds]}
shift 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d /tmp/embedkit-fbgemm.XXXXXX)
trap 'rm -rf "$out"' EXIT
g++ -std=c++17 -O3 -pthread -I"$root/csrc/kernels" -I"$src/include" "$root/bench/fbgemm/compare.cc" \
  "$root"/csrc/kernels/common/*.cc "$root"/csrc/kernels/gather/*.cc \
  "$build/libfbgemm.a" "$build/asmjit/libasmjit.a" "$build/cpuinfo/libcpuinfo.a" -fopenmp -lrt -ldl -o "$out/compare"
"$out/compare" "$@"
