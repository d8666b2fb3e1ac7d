#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/fuzz_<family>.cc, ASan + UBSan, clang) into
# build-fuzz/ and runs each for a bounded time: first over its regression inputs
# (test/fuzz/regressions/<family>/: every crash found so far, kept as a test), then fuzzing
# from a corpus in build-fuzz/corpus-<family>/ that grows across runs on one machine.
#
#   bash scripts/fuzz.sh            # 30 s per family (what .ci/run does)
#   bash scripts/fuzz.sh 600 rope   # longer, one family
#
# A crash leaves its input in build-fuzz/crashes/; copy it into the family's regressions
# folder once fixed. Exits non-zero on any crash or build failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-30}
only=${2:-}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)" >&2; exit 1; }

cmake -S . -B build-fuzz -DEMBEDKIT_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-fuzz -j 2 >/dev/null
mkdir -p build-fuzz/crashes

status=0
for source in test/fuzz/fuzz_*.cc; do
  family=$(basename "$source" .cc)
  family=${family#fuzz_}
  [ -n "$only" ] && [ "$family" != "$only" ] && continue
  regressions=test/fuzz/regressions/$family
  corpus=build-fuzz/corpus-$family
  mkdir -p "$corpus"
  binary=build-fuzz/fuzz_$family
  if compgen -G "$regressions/*" >/dev/null; then
    if ! "$binary" "$regressions"/* >"build-fuzz/$family-regressions.log" 2>&1; then
      echo "fuzz: $family: a regression input fails (build-fuzz/$family-regressions.log)"
      status=1
      continue
    fi
  fi
  log=build-fuzz/$family.log
  if "$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/crashes/"$family"- "$corpus" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    echo "fuzz: $family: ok, $runs inputs in ${seconds} s, coverage $cov edges, corpus $(ls "$corpus" | wc -l)"
  else
    echo "fuzz: $family: CRASH (log $log; input in build-fuzz/crashes/)"
    tail -n 30 "$log"
    status=1
  fi
done
exit $status
