"""PyTorch (and SciPy) on the CPU for compare.sh's `scatter` family: index_add_, ATen's
embedding_bag backward kernels, CSR @ dense, and the gather family's F.embedding and
F.embedding_bag (FBGEMM's kernel on the CPU), on the inputs data.mjs wrote."""
import numpy as np
import torch
import torch.nn.functional as F

from peer_common import Peer, check_of

try:
    import scipy.sparse as sp
except ImportError:  # SciPy is a second peer for spmm only
    sp = None


def main(p):
    S = p.shapes
    rows, dim, n_scatter = S["rows"], S["dim"], S["scatterN"]
    bags, per_bag, size = S["bags"], S["perBag"], S["spmmSize"]
    table = torch.from_numpy(p.load("table.f32", np.float32, (rows, dim)))
    src = torch.from_numpy(p.load("src.f32", np.float32, (n_scatter, dim)))
    scatter_idx = {k: torch.from_numpy(p.load(f"idx_{k}.i32", np.int32).astype(np.int64)) for k in ("uniform", "zipf")}
    bag_idx = torch.from_numpy(p.load("bag_idx.i32", np.int32).astype(np.int64))
    offsets = torch.arange(0, bags * per_bag, per_bag, dtype=torch.int64)
    offset2bag = torch.arange(bags, dtype=torch.int64).repeat_interleave(per_bag)
    bag_size = torch.full((bags,), per_bag, dtype=torch.int64)
    grad = torch.from_numpy(p.load("grad.f32", np.float32, (bags, dim)))
    argmax = torch.from_numpy(p.load("argmax.i32", np.int32, (bags, dim)).astype(np.int64))
    no_max = torch.zeros(bags, dtype=torch.int64)  # sum mode: the forward's unused max indices
    b = torch.from_numpy(p.load("b.f32", np.float32, (size, dim)))
    csr = {k: (p.load(f"csr_{k}_rowptr.i32", np.int32), p.load(f"csr_{k}_colidx.i32", np.int32),
               p.load(f"csr_{k}_values.f32", np.float32)) for k in ("uniform", "powerlaw")}
    dense_backward = torch.ops.aten._embedding_bag_dense_backward
    sparse_backward = torch.ops.aten._embedding_bag_sparse_backward

    for t in p.threads:
        torch.set_num_threads(t)
        # index_add_ in place (the values drift over the repetitions, as ours do); the check
        # is one call into zeros.
        for kind, idx in scatter_idx.items():
            dst = torch.zeros(rows, dim)
            dst.index_add_(0, idx, src)
            check = check_of(dst)
            p.emit(f"scatterAdd {kind}", "torch index_add_", t, p.timed(lambda: dst.index_add_(0, idx, src)), check)
            del dst

        # The sum backward: ATen's dense kernel (a fresh zeroed numRows x dim per call, as
        # autograd runs it) and the sparse one, raw (one gradient row per index, unsorted,
        # duplicates kept: not the same result, so not in the ratio) and coalesced (unique
        # sorted rows, summed: what ours returns).
        def dense_sum():
            return dense_backward(grad, bag_idx, offset2bag, bag_size, no_max, rows, False, 0, None, -1)
        p.emit("bagBackward sum dense", "torch _embedding_bag_dense_backward", t, p.timed(dense_sum), check_of(dense_sum()))

        def sparse_sum():
            return sparse_backward(grad, bag_idx, offsets, offset2bag, bag_size, rows, False, 0, None, -1)
        p.emit("bagBackward sum sparse", "torch _embedding_bag_sparse_backward (uncoalesced)", t, p.timed(sparse_sum), None)
        p.emit("bagBackward sum sparse", "torch _embedding_bag_sparse_backward + coalesce", t,
               p.timed(lambda: sparse_sum().coalesce()), check_of(sparse_sum().coalesce().values()))

        def dense_max():
            return dense_backward(grad, bag_idx, offset2bag, bag_size, argmax, rows, False, 2, None, -1)
        p.emit("bagBackward max dense", "torch _embedding_bag_dense_backward", t, p.timed(dense_max), check_of(dense_max()))

        def weights_backward():
            return torch.ops.aten._embedding_bag_per_sample_weights_backward(grad, table, bag_idx, offsets, offset2bag, 0, -1)
        p.emit("bagBackward weights", "torch _embedding_bag_per_sample_weights_backward", t, p.timed(weights_backward),
               check_of(weights_backward()))

        for kind, (rp, ci, va) in csr.items():
            a = torch.sparse_csr_tensor(torch.from_numpy(rp.astype(np.int64)), torch.from_numpy(ci.astype(np.int64)),
                                        torch.from_numpy(va), (size, size))
            p.emit(f"spmm {kind}", "torch csr @ dense", t, p.timed(lambda: a @ b), check_of(a @ b))
            # aᵀ·b: a CSC view of the same arrays (ours transposes per call with transpose: true).
            at = a.t()
            p.emit(f"spmm {kind} transposed", "torch csr.t() @ dense", t, p.timed(lambda: at @ b), check_of(at @ b))
            if sp is not None and t == 1:  # SciPy's sparse product runs on one thread
                m = sp.csr_matrix((va, ci, rp), shape=(size, size))
                bn = b.numpy()
                p.emit(f"spmm {kind}", "scipy csr @ dense", 1, p.timed(lambda: m @ bn), check_of(m @ bn))
                p.emit(f"spmm {kind} transposed", "scipy csr.T @ dense", 1, p.timed(lambda: m.T @ bn), check_of(m.T @ bn))
            del a, at

        p.emit("gather", "torch F.embedding", t, p.timed(lambda: F.embedding(bag_idx, table)),
               check_of(F.embedding(bag_idx, table)))
        for mode in ("sum", "max"):
            def bag():
                return F.embedding_bag(bag_idx, table, offsets, mode=mode)
            p.emit(f"embeddingBag {mode}", "torch F.embedding_bag", t, p.timed(bag), check_of(bag()))


if __name__ == "__main__":
    with torch.no_grad():
        main(Peer())
