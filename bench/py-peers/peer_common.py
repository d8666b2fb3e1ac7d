"""What the Python peers of compare.sh share: their command line (<data dir> <threads, e.g.
1,2> <repetitions>), loading data.mjs's raw files, the timing (a warm-up call, then the median
of single calls, as ours.mjs times embedkit; calls under a few ms repeat for 20 ms) and the
result check both sides print."""
import json
import os
import sys
import time

import numpy as np


class Peer:
    def __init__(self):
        self.data = sys.argv[1]
        self.threads = [int(t) for t in sys.argv[2].split(",")]
        self.reps = int(sys.argv[3])
        with open(os.path.join(self.data, "shapes.json")) as f:
            self.shapes = json.load(f)

    def load(self, name, dtype, shape=None):
        a = np.fromfile(os.path.join(self.data, name), dtype=dtype)
        return a.reshape(shape) if shape else a

    @staticmethod
    def sample(fn, calls):
        """The times (ms) of at least `calls` single calls; short ones repeat until 20 ms are
        spent (at most 2,000 calls), as ours.mjs's sample."""
        times = []
        spent = 0.0
        while len(times) < calls or (spent < 20 and len(times) < 2000):
            t0 = time.perf_counter()
            fn()
            ms = (time.perf_counter() - t0) * 1e3
            times.append(ms)
            spent += ms
        return times

    def timed(self, fn, reps=None):
        """The median of `reps` samples (the command line's unless given) after a warm-up of
        one call, or 20 ms of them for short calls, as ours.mjs's timed."""
        self.sample(fn, 1)
        times = sorted(self.sample(fn, reps or self.reps))
        return times[len(times) // 2]

    @staticmethod
    def emit(op, impl, threads, ms, check, **extra):
        print(json.dumps({"op": op, "impl": impl, "threads": threads, "ms": ms, "check": check, **extra}), flush=True)


def check_of(x):
    """[sum, sum of every 5th element] in float64 (ours.mjs's checkOf)."""
    if hasattr(x, "detach"):
        x = x.detach().numpy()
    flat = np.asarray(x).reshape(-1)
    return [float(flat.sum(dtype=np.float64)), float(flat[::5].sum(dtype=np.float64))]
