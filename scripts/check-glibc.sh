#!/usr/bin/env bash
# The glibc floor of every prebuilt binary: the newest GLIBC_x.y symbol version each one
# imports (objdump -T), checked against the floor the README promises. Also checks that no
# prebuild needs libstdc++ / libgcc_s (the C++ runtime is linked in statically).
#   bash scripts/check-glibc.sh [floor]      (default 2.28, Node 20's own)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
floor=${1:-2.28}
shopt -s nullglob
files=(prebuilds/linux-*/*.node)
[ ${#files[@]} -gt 0 ] || { echo "check-glibc: no prebuilds/linux-*/*.node (run npm run prebuild)" >&2; exit 1; }
status=0
for f in "${files[@]}"; do
  case "$f" in
    *arm64*) objdump=aarch64-linux-gnu-objdump ;;
    *) objdump=objdump ;;
  esac
  newest=$("$objdump" -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  needed=$("$objdump" -p "$f" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')
  verdict=ok
  if [ "$(printf '%s\n%s\n' "$newest" "$floor" | sort -V | tail -n 1)" != "$floor" ]; then
    verdict="FAIL: needs glibc $newest > $floor"
    status=1
  fi
  if grep -qE 'libstdc\+\+|libgcc_s|libc\+\+' <<<"$needed"; then
    verdict="FAIL: links a shared C++ runtime ($needed)"
    status=1
  fi
  echo "check-glibc: $f: glibc >= $newest, needs: $needed($(stat -c %s "$f") bytes) $verdict"
done
exit $status
