#!/usr/bin/env bash
# embedkit next to Python's reference libraries on this CPU, on the very same inputs, the two
# sides alternated for `rounds` rounds, each at every thread count; prints a markdown table
# of the medians over rounds and whether both sides' results agree.
#   scatter:  PyTorch (and SciPy): index_add_, ATen's embedding_bag backward kernels, CSR @
#             dense; F.embedding and F.embedding_bag (FBGEMM's kernel on the CPU)
#   codebook: FAISS: IndexFlatL2 nearest codeword, ProductQuantizer encode / decode / tables,
#             IndexPQ search
#   jl:       a dense Gaussian projection (PyTorch matmul, MKL) and a very sparse one (SciPy)
#             against srht, fjlt and sparseProjection (other random matrices: time only)
#
# Usage: bash bench/py-peers/compare.sh <scatter | codebook | jl> <python> [rounds=3] [reps=7]
# The python needs torch and scipy (scatter, jl) or faiss-cpu (codebook), e.g. a venv:
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install torch scipy faiss-cpu
# Needs the built addon and dist/ (npm run compile). Data: $PEER_DATA/<family> (default
# /tmp/embedkit-peers), written once, and again when data.mjs or the suites it draws from
# change (scatter ~0.9 GB, codebook ~0.6 GB, jl ~0.5 GB). Threads: $PEER_THREADS (default 1,2).
set -euo pipefail
cd "$(dirname "$0")/../.."
usage='usage: compare.sh <scatter | codebook | jl> <python> [rounds] [reps]'
family=${1:?$usage}
py=${2:?$usage}
rounds=${3:-3}
reps=${4:-7}
case "$family" in
  scatter) peer=torch_peer.py; version='import torch; print("peer: torch", torch.__version__, "with MKL" if torch.backends.mkl.is_available() else "without MKL")' ;;
  codebook) peer=faiss_peer.py; version='import faiss; print("peer: faiss", faiss.__version__)' ;;
  jl) peer=jl_peer.py; version='import torch, scipy; print("peer: torch", torch.__version__, "scipy", scipy.__version__)' ;;
  *) echo "unknown family $family (scatter | codebook | jl)" >&2; exit 2 ;;
esac
data=$(realpath -m "${PEER_DATA:-/tmp/embedkit-peers}/$family")  # absolute: the peer runs in its own folder
threads=${PEER_THREADS:-1,2}
# The data is rewritten when the scripts that make it change (a stamp of their text).
stamp=$(cat bench/py-peers/data.mjs bench/scatter.mjs bench/common.mjs | sha256sum | cut -c1-16)
if [ ! -f "$data/shapes.json" ] || [ "$(cat "$data/stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$data"
  node bench/py-peers/data.mjs "$family" "$data"
  echo "$stamp" >"$data/stamp"
fi
out=$(mktemp "/tmp/peers-$family-XXXX.jsonl")
"$py" -c "$version"
node -e 'const c = require("./dist/cjs/index.js").capabilities(); console.log("embedkit:", c.isa, "path,", c.threads, "threads at most")'
for ((r = 1; r <= rounds; r++)); do
  echo "round $r of $rounds" >&2
  (cd bench/py-peers && "$py" -W ignore "$peer" "$data" "$threads" "$reps") >>"$out"
  node --expose-gc bench/py-peers/ours.mjs "$family" "$data" "$threads" "$reps" >>"$out"
done
node bench/py-peers/table.mjs "$out"
echo "records: $out"
