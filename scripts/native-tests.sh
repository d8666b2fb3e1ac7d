#!/usr/bin/env bash
# Native C++ tests of csrc/kernels (test/native/): every ISA this machine can run against the
# scalar reference, three times over:
#   1. x86-64 (or the host), build-native/
#   2. the same under AddressSanitizer + UBSan, build-native-asan/ (scripts/sanitized-build.sh;
#      clang++ where found, so that the fuzzers share its objects)
#   3. arm64 cross-compiled (cmake/aarch64-linux-gnu.cmake), build-arm64/, run under
#      qemu-aarch64 so the NEON path runs; the log must say "tested neon".
# Exits non-zero if any step fails. Environment passed through to the tests:
# EMBEDKIT_TEST_SEED (replay a run), EMBEDKIT_TEST_QUICK=1 (smaller shapes; the full set takes
# ~10 s under qemu, so it is not needed by default).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly JOBS=2
readonly TEST_BIN=embedkit_native_tests
readonly QEMU_SYSROOT=/usr/aarch64-linux-gnu
readonly start_time=$(date +%s)
# One seed for all three runs, so a failure in any of them replays with the same data.
export EMBEDKIT_TEST_SEED="${EMBEDKIT_TEST_SEED:-$(( ($(od -An -N6 -tu8 /dev/urandom | tr -d ' ') ) ))}"
export EMBEDKIT_TEST_TIMEOUT="${EMBEDKIT_TEST_TIMEOUT:-300}"

declare -a summaries=()
failed=0
step_start=$start_time

log() { printf '\n==== %s\n' "$*"; }
fail() {
  printf 'native-tests: FAILED: %s\n' "$*" >&2
  summaries+=("FAILED: $1")
  failed=1
}

# run_tests <label> <build dir> <command...>: runs the test binary, tees its log into the
# build dir, and records the summary line ("N passed, N failed").
run_tests() {
  local label=$1 dir=$2
  shift 2
  local logfile="$dir/native-tests.log"
  "$@" 2>&1 | tee "$logfile"
  local rc=${PIPESTATUS[0]}
  local summary
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logfile" | tail -n 1)
  if [[ $rc -ne 0 || -z $summary ]]; then
    fail "$label (exit code $rc${summary:+, $summary}; log: $logfile)"
    return 1
  fi
  summaries+=("$label: $summary ($(( $(date +%s) - step_start )) s with build)")
  return 0
}

# configure_and_build <label> <build dir> [cmake args...]
configure_and_build() {
  local label=$1 dir=$2
  shift 2
  step_start=$(date +%s)
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@"; then
    fail "$label (cmake configure)"
    return 1
  fi
  if ! cmake --build "$dir" -j "$JOBS"; then
    fail "$label (build)"
    return 1
  fi
}

# ---- 1. host -------------------------------------------------------------------------
log "host ($(uname -m)): build-native/"
if configure_and_build host build-native; then
  run_tests "host $(uname -m)" build-native "build-native/$TEST_BIN"
fi

# ---- 2. sanitizers -------------------------------------------------------------------
log "host ($(uname -m)) with AddressSanitizer + UBSan: build-native-asan/"
# scripts/sanitized-build.sh: with clang++ the same build holds scripts/fuzz.sh's fuzzers.
step_start=$(date +%s)
if ! bash scripts/sanitized-build.sh; then
  fail "asan (build)"
else
  ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    run_tests "asan+ubsan $(uname -m)" build-native-asan "build-native-asan/$TEST_BIN"
fi

# ---- 3. arm64 under qemu -------------------------------------------------------------
log "arm64 cross build under qemu: build-arm64/"
find_qemu() { command -v qemu-aarch64 || command -v qemu-aarch64-static; }
ensure_cross_tools() {
  local missing=()
  command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
  find_qemu >/dev/null || missing+=(qemu-user)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "native-tests: missing ${missing[*]}; install them as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "native-tests: installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}
if ! ensure_cross_tools; then
  fail "arm64 (cross compiler or qemu missing)"
elif configure_and_build arm64 build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake; then
  qemu=$(find_qemu)
  if run_tests "arm64 (qemu)" build-arm64 "$qemu" -L "$QEMU_SYSROOT" "build-arm64/$TEST_BIN"; then
    if ! grep -q '^  tested neon:' build-arm64/native-tests.log; then
      fail "arm64 (qemu): the log does not say neon was tested"
    fi
  fi
fi

# ---- summary -------------------------------------------------------------------------
log "summary (seed $EMBEDKIT_TEST_SEED, $(( $(date +%s) - start_time )) s)"
printf '  %s\n' "${summaries[@]}"
if [[ $failed -ne 0 ]]; then
  echo "native-tests: FAILED (replay with EMBEDKIT_TEST_SEED=$EMBEDKIT_TEST_SEED)" >&2
  exit 1
fi
echo "native-tests: all passed"
