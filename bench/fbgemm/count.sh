#!/usr/bin/env bash
# Instructions per pooled row of FBGEMM's fp32 EmbeddingSpMDM and embedkit's embedding_bag
# (bench/fbgemm/count.cc under callgrind; needs valgrind). Same FBGEMM build as compare.sh.
#
#   bash bench/fbgemm/count.sh /path/to/FBGEMM /path/to/FBGEMM/build [dims=64 128]
set -euo pipefail
src=${1:?usage: count.sh /path/to/FBGEMM /path/to/FBGEMM/build [dims...]}
build=${2:?usage: count.sh /path/to/FBGEMM /path/to/FBGEMM/build [dims...]}
shift 2
dims=("$@")
[ ${#dims[@]} -gt 0 ] || dims=(64 128)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d /tmp/embedkit-fbgemm-count.XXXXXX)
trap 'rm -rf "$out"' EXIT
g++ -std=c++17 -O3 -g -pthread -I"$root/csrc/kernels" -I"$src/include" "$root/bench/fbgemm/count.cc" \
  "$root"/csrc/kernels/common/*.cc "$root"/csrc/kernels/gather/*.cc \
  "$build/libfbgemm.a" "$build/asmjit/libasmjit.a" "$build/cpuinfo/libcpuinfo.a" -fopenmp -lrt -ldl -o "$out/count"
for dim in "${dims[@]}"; do
  rows=$("$out/count" "$dim" | sed -n 's/rows pooled per kernel: //p')
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$dim" "$out/count" "$dim" >/dev/null 2>&1
  callgrind_annotate --inclusive=yes "$out/cg.$dim" 2>/dev/null |
    awk -v dim="$dim" -v rows="$rows" '/count.cc:.*run_(fbgemm|embedkit)\(\) \[/ {
      gsub(",", "", $1); name = $0; sub(/.*run_/, "", name); sub(/\(.*/, "", name);
      printf "dim %-4s %-9s %6.1f instructions per row\n", dim, name, $1 / rows }'
done
