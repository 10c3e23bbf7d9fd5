"""The CPU benchmark cases of bench_core.cpp, in NumPy and (where it installs) MLX.

Prints one JSON object per case and library: {"case", "lib", "ms"}.
"""
import json
import sys

import numpy as np

from timing import median_ms, report


def cases(lib, xp, ev):
    n = 1 << 25
    x = xp.array(np.arange(n, dtype=np.float32) / np.float32(n))
    report("exp f32 32M", lib, median_ms(lambda: ev(xp.exp(x)), 15))
    del x
    a = xp.array(np.arange(n, dtype=np.float32).reshape(4096, 8192))
    row = xp.array(np.arange(8192, dtype=np.float32))
    report("broadcast add f32 (4096x8192)+(8192)", lib, median_ms(lambda: ev(a + row), 15))
    del a
    m = xp.array((np.arange(4096 * 4096, dtype=np.float32) / np.float32(1e6)).reshape(4096, 4096))
    report("sum axis=0 f32 4096x4096", lib, median_ms(lambda: ev(m.sum(axis=0)), 21))
    report("sum axis=1 f32 4096x4096", lib, median_ms(lambda: ev(m.sum(axis=1)), 21))
    report("sum all f32 4096x4096", lib, median_ms(lambda: ev(m.sum()), 21))
    s = xp.array((np.sin(np.arange(1 << 20, dtype=np.float64) * 1.618) * 1000.0).astype(np.float32))
    report("sort f32 1M", lib, median_ms(lambda: ev(xp.sort(s)), 11))
    report("argsort f32 1M", lib, median_ms(lambda: ev(xp.argsort(s)), 11))
    g = np.arange(2048 * 2048, dtype=np.float32).reshape(2048, 2048) / np.float32(4e6)
    ga, gb = xp.array(g), xp.array(np.ascontiguousarray(g.T))
    report("sgemm 2048", lib, median_ms(lambda: ev(ga @ gb), 9))


def bandwidth():
    """The machine's memory bandwidth as one NumPy core sees it: copying 128 MB."""
    src = np.ones(1 << 25, dtype=np.float32)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), 15)
    print(json.dumps({"case": "copy 128MB", "lib": "numpy", "ms": round(ms, 4)}), flush=True)


def main():
    bandwidth()
    cases("numpy", np, lambda r: r)
    try:
        import mlx.core as mx
    except ImportError:
        print("mlx not installed; skipping it", file=sys.stderr)
        return
    mx.set_default_device(mx.cpu)
    cases("mlx", mx, mx.eval)


if __name__ == "__main__":
    main()
