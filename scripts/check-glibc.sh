#!/usr/bin/env bash
# The glibc floor of every prebuilt binary: the newest GLIBC_x.y symbol version each one
# imports (objdump -T), checked against the floor the README promises, and every symbol it
# imports bound to a version (an unversioned one other than Node-API's would be looked up in
# whatever the target system has, so a symbol this machine's headers asked for and the stubs
# lack would only fail there). The CPU addons link their C++ runtime statically and may need
# no libstdc++ / libgcc_s; the CUDA addon (embedkit_cuda.node, scripts/prebuild.mjs says why)
# may, but no newer than GCC 5's (GLIBCXX_3.4.21, CXXABI_1.3.9).
#   bash scripts/check-glibc.sh [floor]      (default 2.28, Node 20's own)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
floor=${1:-2.28}
readonly GLIBCXX_FLOOR=3.4.21 CXXABI_FLOOR=1.3.9
shopt -s nullglob
files=(prebuilds/linux-*/*.node)
[ ${#files[@]} -gt 0 ] || { echo "check-glibc: no prebuilds/linux-*/*.node (run npm run prebuild)" >&2; exit 1; }

# newest <prefix> <objdump -T output>: the newest version of that prefix, or 0 when none.
newest() { grep -o "$1_[0-9][0-9.]*" <<<"$2" | sed "s/$1_//" | sort -V | tail -n 1 || true; }
# above <version> <limit>: whether version is newer than limit.
above() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" != "$2" ]; }

status=0
for f in "${files[@]}"; do
  case "$f" in
    *arm64*) objdump=aarch64-linux-gnu-objdump ;;
    *) objdump=objdump ;;
  esac
  symbols=$("$objdump" -T "$f")
  glibc=$(newest GLIBC "$symbols")
  glibcxx=$(newest GLIBCXX "$symbols")
  cxxabi=$(newest CXXABI "$symbols")
  needed=$("$objdump" -p "$f" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')
  # Undefined (*UND*), not weak, and without a version (objdump prints "Base" there).
  unversioned=$(awk '/\*UND\*/ && $2 != "w" && $(NF - 1) == "Base" {print $NF}' <<<"$symbols" |
                grep -v -E '^(napi_|node_api_)' | tr '\n' ' ' || true)
  verdict=ok
  if above "$glibc" "$floor"; then
    verdict="FAIL: needs glibc $glibc > $floor"
  elif [ -n "$unversioned" ]; then
    verdict="FAIL: imports unversioned symbols: $unversioned"
  elif grep -q 'libc++' <<<"$needed"; then
    verdict="FAIL: links a shared libc++ ($needed)"
  elif [[ "$f" == */embedkit_cuda.node ]]; then
    if above "$glibcxx" "$GLIBCXX_FLOOR" || above "$cxxabi" "$CXXABI_FLOOR"; then
      verdict="FAIL: needs libstdc++ GLIBCXX_$glibcxx / CXXABI_$cxxabi > GLIBCXX_$GLIBCXX_FLOOR / CXXABI_$CXXABI_FLOOR"
    fi
  elif grep -qE 'libstdc\+\+|libgcc_s' <<<"$needed"; then
    verdict="FAIL: links a shared C++ runtime ($needed)"
  fi
  [ "$verdict" = ok ] || status=1
  runtime=""
  [ -n "$glibcxx" ] && runtime=", GLIBCXX_$glibcxx"
  echo "check-glibc: $f: glibc >= $glibc$runtime, needs: $needed($(stat -c %s "$f") bytes) $verdict"
done
exit $status
