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
    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
