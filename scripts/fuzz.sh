#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/fuzz_<family>.cc, ASan + UBSan, clang) into
# build-native-asan/ (scripts/sanitized-build.sh) and runs each for a bounded time: first
# over its regression inputs (test/fuzz/regressions/<family>/: every crash found so far, kept
# as a test), then fuzzing from a corpus in build-fuzz/corpus-<family>/ that grows across
# runs on one machine. Logs and crashes go to build-fuzz/ too.
#
#   bash scripts/fuzz.sh            # 30 s per family (.ci/run gives 20 s)
#   bash scripts/fuzz.sh 600 rope   # longer, one family
#
# A crash leaves its input in build-fuzz/crashes/; copy it into the family's regressions
# folder once fixed. Exits non-zero on any crash or build failure. FUZZ_JOBS: how many
# families fuzz side by side (2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-30}
only=${2:-}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)" >&2; exit 1; }

# The fuzzers build into build-native-asan/ with the sanitized native tests, from the same
# kernel objects (after scripts/native-tests.sh, nothing is left to compile).
bash scripts/sanitized-build.sh >/dev/null
mkdir -p build-fuzz/crashes

# fuzz_family <family>: its regression inputs, then fuzzing for $seconds; prints one
# "fuzz: <family>: ..." line (and a crash's log tail) and fails on a crash.
fuzz_family() {
  local family=$1
  local regressions=test/fuzz/regressions/$family
  local corpus=build-fuzz/corpus-$family
  local binary=build-native-asan/fuzz_$family
  local log=build-fuzz/$family.log
  mkdir -p "$corpus"
  if compgen -G "$regressions/*" >/dev/null; then
    if ! "$binary" "$regressions"/* >"build-fuzz/$family-regressions.log" 2>&1; then
      echo "fuzz: $family: a regression input fails (build-fuzz/$family-regressions.log)"
      return 1
    fi
  fi
  if "$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/crashes/"$family"- "$corpus" >"$log" 2>&1; then
    local runs cov
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    echo "fuzz: $family: ok, $runs inputs in ${seconds} s, coverage $cov edges, corpus $(ls "$corpus" | wc -l)"
  else
    echo "fuzz: $family: CRASH (log $log; input in build-fuzz/crashes/)"
    tail -n 30 "$log"
    return 1
  fi
}

# Two families at a time: a fuzzer runs one input at a time (most inputs pick 1-3 kernel
# threads but are too small to split), so on a 2-core machine two of them side by side
# halve the wall time. Each family's report goes to build-fuzz/<family>.result and is
# printed in family order once all are done.
families=()
for source in test/fuzz/fuzz_*.cc; do
  family=$(basename "$source" .cc)
  family=${family#fuzz_}
  [ -n "$only" ] && [ "$family" != "$only" ] && continue
  families+=("$family")
done
readonly parallel=${FUZZ_JOBS:-2}
status=0
running=0
for family in "${families[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  fuzz_family "$family" >"build-fuzz/$family.result" 2>&1 &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
for family in "${families[@]}"; do cat "build-fuzz/$family.result"; done
exit $status
