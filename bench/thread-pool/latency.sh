#!/usr/bin/env bash
# Builds bench/thread-pool/latency.cc against embedkit's thread pool (-O2) in a temporary
# directory and runs it. Run it on a checkout to compare pools: `git worktree add /tmp/old
# <commit>` and `bash /tmp/old/bench/thread-pool/latency.sh` (the harness needs only
# common/parallel.{h,cc}, so it may be copied into an older checkout).
#
#   bash bench/thread-pool/latency.sh [calls=2000]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d /tmp/embedkit-pool-latency.XXXXXX)
trap 'rm -rf "$out"' EXIT
g++ -std=c++17 -O2 -pthread -I"$root/csrc/kernels" "$root/bench/thread-pool/latency.cc" \
  "$root/csrc/kernels/common/parallel.cc" -o "$out/latency"
"$out/latency" "$@"
