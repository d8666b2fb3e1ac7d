"""The PyTorch peer for `npm run bench:gpu`: the same ops and shapes on the same GPU, timed
with CUDA events. Reads the shapes as JSON on argv[1], prints one JSON object per line:
{"op", "shape", "ms"} (median of the repetitions). Indices are drawn from the same
distribution as the embedkit run (uniform rows), not the same values."""
import json
import sys

import torch
import torch.nn.functional as F


def median_ms(fn, reps, inner):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / inner)
    times.sort()
    return times[len(times) // 2]


def distinct_pairs(nnz, size, draw):
    """nnz distinct (row, col) pairs, the first ones draw() yields (each call: rows, cols of nnz
    ids), in draw order, as bench/scatter.mjs distinctPairs does: coalescing would otherwise
    merge the power-law draw's repeats (20 M Zipf(1.1) pairs over 2 M rows: ~8.7 M distinct)."""
    keys = torch.empty(0, dtype=torch.int64)
    while True:
        rows, cols = draw()
        keys = torch.cat([keys.to(rows.device), rows * size + cols])
        uniq, inverse = torch.unique(keys, return_inverse=True)
        if uniq.numel() >= nnz or keys.numel() > 64 * nnz:
            break
    if uniq.numel() < nnz:
        raise RuntimeError(f"fewer than {nnz} distinct pairs in 64 rounds")
    # The first position of every distinct key; those positions in order, the first nnz kept.
    pos = torch.arange(keys.numel(), device=keys.device)
    first = torch.full((uniq.numel(),), keys.numel(), dtype=torch.int64, device=keys.device)
    first.scatter_reduce_(0, inverse, pos, reduce="amin")
    kept = keys[first.sort().values[:nnz]]
    return kept // size, kept % size


def main():
    cfg = json.loads(sys.argv[1])
    rows, dim = cfg["rows"], cfg["dim"]
    bags, per_bag, gather_rows = cfg["bags"], cfg["perBag"], cfg["gatherRows"]
    reps, inner = cfg.get("reps", 7), cfg.get("inner", 5)
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(1)
    table = torch.rand(rows, dim, device=dev, generator=g) - 0.5
    idx = torch.randint(0, rows, (bags * per_bag,), device=dev, generator=g, dtype=torch.int64)
    offsets = torch.arange(0, bags * per_bag, per_bag, device=dev, dtype=torch.int64)
    gidx = torch.randint(0, rows, (gather_rows,), device=dev, generator=g, dtype=torch.int64)

    def emit(op, shape, ms):
        print(json.dumps({"op": op, "shape": shape, "ms": ms}), flush=True)

    src = torch.empty(cfg["copyFloats"], device=dev)
    dst = torch.empty_like(src)
    emit("copy", f"{cfg['copyFloats']} floats", median_ms(lambda: dst.copy_(src), reps, inner))
    emit("gather", f"{gather_rows} of {rows}x{dim}", median_ms(lambda: F.embedding(gidx, table), reps, inner))
    for mode in ("sum", "mean", "max"):
        emit(f"embeddingBag {mode}", f"{bags}x{per_bag} of {rows}x{dim}",
             median_ms(lambda: F.embedding_bag(idx, table, offsets, mode=mode), reps, inner))
    # The gradient with respect to per-sample weights: ATen's own backward kernel (what
    # autograd runs for embedding_bag's per_sample_weights), one dot product per index.
    grad = torch.rand(bags, dim, device=dev, generator=g) - 0.5
    offset2bag = torch.arange(bags, device=dev).repeat_interleave(per_bag)
    try:
        def weights_backward():
            return torch.ops.aten._embedding_bag_per_sample_weights_backward(grad, table, idx, offsets, offset2bag, 0, -1)
        weights_backward()
        emit("embeddingBag weights backward", f"{bags}x{per_bag} of {rows}x{dim}", median_ms(weights_backward, reps, inner))
    except Exception as e:  # an ATen without this op or signature: say so, keep the other rows
        print(json.dumps({"note": f"per-sample weights backward not measured: {e}"}), flush=True)
    # The table's dense gradient: ATen's dense backward kernel (what autograd runs for a
    # non-sparse embedding_bag), handed the offset2bag and bag sizes its forward would give.
    try:
        bag_size = torch.full((bags,), per_bag, device=dev, dtype=torch.int64)
        no_max = torch.empty(0, device=dev, dtype=torch.int64)
        def dense_backward():
            return torch.ops.aten._embedding_bag_dense_backward(grad, idx, offset2bag, bag_size, no_max, rows, False, 0, None, -1)
        dense_backward()
        emit("embeddingBag backward sum", f"{bags}x{per_bag} of {rows}x{dim}", median_ms(dense_backward, reps, inner))
        del bag_size, no_max
    except Exception as e:
        print(json.dumps({"note": f"dense embedding_bag backward not measured: {e}"}), flush=True)
    del table, idx, offsets, gidx, src, dst, grad, offset2bag
    torch.cuda.empty_cache()

    # RoPE (NeoX) written in PyTorch ops, as model code does it; and torch.compile of it.
    tokens, heads, kv, hd = cfg["ropeTokens"], cfg["heads"], cfg["kvHeads"], cfg["headDim"]
    half = hd // 2
    q = torch.rand(tokens, heads, hd, device=dev, generator=g)
    k = torch.rand(tokens, kv, hd, device=dev, generator=g)
    pos = torch.arange(tokens, device=dev)
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, device=dev, dtype=torch.float32) / hd))

    def rotary(q, k):
        freqs = pos[:, None].float() * inv_freq[None, :]
        cos, sin = freqs.cos()[:, None, :], freqs.sin()[:, None, :]

        def rot(x):
            x1, x2 = x[..., :half], x[..., half:]
            return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

        return rot(q), rot(k)

    shape = f"{tokens}x({heads}+{kv})x{hd}"
    emit("rope neox", shape, median_ms(lambda: rotary(q, k), reps, inner))
    try:
        compiled = torch.compile(rotary)
        compiled(q, k)
        emit("rope neox (torch.compile)", shape, median_ms(lambda: compiled(q, k), reps, inner))
    except Exception as e:  # no compiler toolchain on the machine, or an unsupported op
        print(json.dumps({"note": f"torch.compile failed: {type(e).__name__}: {str(e)[:200]}"}), flush=True)
    del q, k
    torch.cuda.empty_cache()

    # Hadamard by matrix product (Sylvester's construction, normalized), over the same floats.
    x = torch.rand(cfg["fwhtFloats"], device=dev, generator=g)
    for log2n in cfg["fwhtLog2"]:
        n = 1 << log2n
        h = torch.ones(1, 1, device=dev)
        while h.shape[0] < n:
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        h = h / (n ** 0.5)
        rows = x.view(-1, n)
        emit(f"fwht n=2^{log2n}", f"{cfg['fwhtFloats'] // n}x{n}", median_ms(lambda: rows @ h, max(3, reps // 3), 1))
        del h
    del x
    torch.cuda.empty_cache()

    # index_add_ (atomics) and torch.sparse.mm (cuSPARSE) on the same shapes.
    n, into = cfg["scatterRows"], cfg["scatterInto"]
    dst = torch.zeros(into, 128, device=dev)
    src = torch.rand(n, 128, device=dev, generator=g)
    ids = torch.randint(0, into, (n,), device=dev, generator=g)
    emit("scatterAdd uniform", f"{n}x128 into {into}", median_ms(lambda: dst.index_add_(0, ids, src), reps, inner))
    ranks = torch.arange(1, into + 1, device=dev, dtype=torch.float64).pow(-1.1)
    zipf = torch.multinomial(ranks / ranks.sum(), n, replacement=True, generator=g)
    emit("scatterAdd zipf1.1", f"{n}x128 into {into}", median_ms(lambda: dst.index_add_(0, zipf, src), reps, inner))
    del dst, src, ids, zipf, ranks
    torch.cuda.empty_cache()
    size, nnz = cfg["spmmSize"], cfg["spmmNnz"]
    b = torch.rand(size, 128, device=dev, generator=g)
    ranks = torch.arange(1, size + 1, device=dev, dtype=torch.float64).pow(-1.1)
    def uniform():
        return (torch.randint(0, size, (nnz,), device=dev, generator=g),
                torch.randint(0, size, (nnz,), device=dev, generator=g))

    def power_law():
        return (torch.multinomial(ranks / ranks.sum(), nnz, replacement=True, generator=g),
                torch.multinomial(ranks / ranks.sum(), nnz, replacement=True, generator=g))

    for name, draw in (("random", uniform), ("power-law", power_law)):
        rows, cols = distinct_pairs(nnz, size, draw)
        a = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.ones(nnz, device=dev), (size, size)).coalesce().to_sparse_csr()
        emit(f"spmm {name}", f"{size}^2 x128", median_ms(lambda: torch.sparse.mm(a, b), reps, inner))
    del b
    torch.cuda.empty_cache()

    # VQ-Logits the direct way: expand B x K code logits to B x V, then reduce.
    bq, kq, vq = cfg["vqRows"], cfg["vqCodes"], cfg["vqTokens"]
    logits = torch.rand(bq, kq, device=dev, generator=g)
    token_to_code = torch.randint(0, kq, (vq,), device=dev, generator=g)
    shape = f"B {bq}, K {kq}, V {vq}"
    emit("vqLogits", shape, median_ms(lambda: logits[:, token_to_code], reps, inner))
    emit("vqLogSumExp", shape, median_ms(lambda: torch.logsumexp(logits[:, token_to_code], dim=1), reps, inner))
    top_k = cfg["topK"]
    emit(f"vqTopK k={top_k}", shape, median_ms(lambda: torch.topk(logits[:, token_to_code], top_k, dim=1), reps, inner))
    del logits, token_to_code
    torch.cuda.empty_cache()

    # Nearest codeword: ||c||² - 2 x·cᵀ by one matmul, then argmin (FAISS's GPU flat search
    # does the same); the PQ scan as a gather of table entries summed over subspaces, then topk.
    n, k = cfg["assignRows"], cfg["assignCodes"]
    x = torch.rand(n, 128, device=dev, generator=g)
    c = torch.rand(k, 128, device=dev, generator=g)
    norms = (c * c).sum(1)
    emit("codebookAssign", f"{n} x 128, {k} codes", median_ms(lambda: (norms - 2 * x @ c.T).argmin(1), reps, inner))
    del x, c, norms
    torch.cuda.empty_cache()
    nv, m, nq, top = cfg["pqVectors"], cfg["pqM"], cfg["pqQueries"], cfg["pqK"]
    codes = torch.randint(0, 256, (nv, m), device=dev, generator=g)
    tables = torch.rand(nq, m, 256, device=dev, generator=g)
    offsets = torch.arange(m, device=dev) * 256
    flat_codes = codes + offsets

    def pq_scan():
        # nq x nv distances, one query at a time (nq x nv x m at once would not fit).
        out = []
        for q in range(nq):
            out.append(torch.topk(tables[q].reshape(-1)[flat_codes].sum(1), top, largest=False))
        return out

    emit(f"pqScan k={top}", f"{nv} codes x {m}, {nq} queries", median_ms(pq_scan, reps, inner))
    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
