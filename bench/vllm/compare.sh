#!/usr/bin/env bash
# Builds bench/vllm/compare.cc against embedkit's RoPE kernels and vLLM's CPU RoPE kernels
# from a vLLM checkout the caller names (https://github.com/vllm-project/vllm; its
# csrc/cpu/pos_encoding.cpp and the cpu_types headers it includes, which include PyTorch's
# headers; never copied into this repo), in a temporary directory, and runs it: both sides
# on the same q, k and position table, alternated, at 1 and 2 threads.
#
#   bash bench/vllm/compare.sh /path/to/vllm /path/to/python-with-torch [reps=9] [shape filter]
#
# vLLM's side is compiled -O3 -march=native -fopenmp (its CPU build picks the host's AVX2 /
# AVX-512 flags the same way) and -std=c++20 (PyTorch 2.13's headers want it) against the
# PyTorch the python has, and linked with it; embedkit's with the flags of the shipped addon
# (base ISA, runtime dispatch).
set -euo pipefail
usage='usage: compare.sh /path/to/vllm /path/to/python [reps] [shape filter]'
vllm=${1:?$usage}
py=${2:?$usage}
shift 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -f "$vllm/csrc/cpu/pos_encoding.cpp" ] || { echo "no csrc/cpu/pos_encoding.cpp under $vllm" >&2; exit 1; }
out=$(mktemp -d /tmp/embedkit-vllm.XXXXXX)
trap 'rm -rf "$out"' EXIT
# PyTorch's include and library folders and its C++ ABI, as torch.utils.cpp_extension reports.
read -r abi torch_lib includes < <("$py" -c '
import torch
from torch.utils.cpp_extension import include_paths, library_paths
print(int(torch._C._GLIBCXX_USE_CXX11_ABI), library_paths()[0], " ".join("-I" + p for p in include_paths()))')
# shellcheck disable=SC2086  # $includes is a list of -I flags
g++ -std=c++20 -O3 -march=native -fopenmp -D_GLIBCXX_USE_CXX11_ABI="$abi" $includes -I"$vllm/csrc/cpu" \
  -DVLLM_POS_ENCODING="\"$vllm/csrc/cpu/pos_encoding.cpp\"" -c "$root/bench/vllm/vllm_rope.cc" -o "$out/vllm_rope.o"
g++ -std=c++17 -O3 -pthread -D_GLIBCXX_USE_CXX11_ABI="$abi" -I"$root/csrc/kernels" "$root/bench/vllm/compare.cc" \
  "$root"/csrc/kernels/common/*.cc "$root"/csrc/kernels/rope/*.cc "$out/vllm_rope.o" \
  -fopenmp -L"$torch_lib" -Wl,-rpath,"$torch_lib" -ltorch_cpu -lc10 -o "$out/compare"
"$out/compare" "$@"
