"""compare.sh's `jl` family: the Johnson-Lindenstrauss projections users reach for in Python,
on the rows data.mjs wrote: a dense Gaussian projection through PyTorch's matmul (MKL sgemm,
what scikit-learn's GaussianRandomProjection computes) and a very sparse one (Li, Hastie and
Church: density 1 / sqrt(d), scikit-learn's SparseRandomProjection default) through SciPy.
Each draws its own random matrix, so the results are other projections than embedkit's:
these rows compare time only (no check)."""
import numpy as np
import scipy.sparse as sp
import torch

from peer_common import Peer


def main(p):
    S = p.shapes
    rows = S["rows"]
    gen = np.random.default_rng(7)
    xs = {d: p.load(f"x_{d}.f32", np.float32, (rows, d)) for d in {d for d, _ in S["projections"]}}
    for t in p.threads:
        torch.set_num_threads(t)
        for d, k in S["projections"]:
            op = f"project {rows}x{d}->{k}"
            x = torch.from_numpy(xs[d])
            gauss = torch.from_numpy((gen.standard_normal((d, k)) / np.sqrt(k)).astype(np.float32))
            p.emit(op, "torch dense Gaussian x @ R (MKL)", t, p.timed(lambda: x @ gauss), None)
            if t == 1:  # SciPy's sparse-dense product runs on one thread
                s = np.sqrt(d)
                r = sp.random(d, k, density=1 / s, format="csr", dtype=np.float32, random_state=gen,
                              data_rvs=lambda n: np.where(gen.random(n) < 0.5, -1.0, 1.0) * np.sqrt(s / k))
                xn = xs[d]
                p.emit(op, "scipy very sparse x @ R (Li)", 1, p.timed(lambda: xn @ r), None)


if __name__ == "__main__":
    with torch.no_grad():
        main(Peer())
