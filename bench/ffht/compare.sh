#!/usr/bin/env bash
# Builds bench/ffht/compare.cc against embedkit's kernels and an FFHT checkout
# (https://github.com/FALCONN-LIB/FFHT, fetched by the caller; never copied into this repo)
# in a temporary directory, and runs it: single-threaded medians and the FFHT/embedkit ratio.
#
#   bash bench/ffht/compare.sh /path/to/FFHT [total_floats_log2=23] [reps=9] [offset_bytes=16]
#
# FFHT is compiled with -O3 -march=native as its Makefile does; embedkit with the flags of
# the shipped addon (base ISA, runtime dispatch).
set -euo pipefail
ffht=${1:?usage: compare.sh /path/to/FFHT [total_floats_log2] [reps]}
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d /tmp/embedkit-ffht.XXXXXX)
trap 'rm -rf "$out"' EXIT
gcc -O3 -march=native -std=c99 -c "$ffht/fht.c" -o "$out/fht.o"
gcc -O3 -march=native -std=c99 -c "$ffht/fast_copy.c" -o "$out/fast_copy.o"
g++ -std=c++17 -O3 -pthread -I"$root/csrc/kernels" "$root/bench/ffht/compare.cc" \
  "$root"/csrc/kernels/common/*.cc "$root"/csrc/kernels/jl/*.cc "$out/fht.o" "$out/fast_copy.o" -o "$out/compare"
"$out/compare" "$@"
