#!/usr/bin/env bash
# Builds bench/scatter-probe/probe.cc against embedkit's kernels (the shipped flags: base ISA,
# runtime dispatch, -O2) in a temporary directory and runs it.
#
#   bash bench/scatter-probe/probe.sh [rows=1000000] [n=524288] [dim=128] [reps=7]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d /tmp/embedkit-scatter-probe.XXXXXX)
trap 'rm -rf "$out"' EXIT
g++ -std=c++17 -O2 -pthread ${PROBE_CXXFLAGS:-} -I"$root/csrc/kernels" "$root/bench/scatter-probe/probe.cc" \
  "$root"/csrc/kernels/common/*.cc "$root"/csrc/kernels/gather/*.cc "$root"/csrc/kernels/scatter/*.cc -o "$out/probe"
"$out/probe" "$@"
