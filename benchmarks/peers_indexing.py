"""The cases of bench_indexing.cpp in NumPy and (where it installs) MLX.

Prints one JSON object per case and library: {"case", "lib", "ms"}.
"""
import sys

import numpy as np

from timing import median_ms, report


def main():
    n = 1 << 20
    rng = np.random.default_rng(0)
    x = np.arange(n, dtype=np.float32) / np.float32(n)
    idx = rng.integers(0, n, size=n, dtype=np.int32)
    rows, cols = 1 << 16, 256
    table = (np.arange(rows * cols, dtype=np.float32) / np.float32(1e6)).reshape(rows, cols)
    row_idx = rng.integers(0, rows, size=rows, dtype=np.int32)
    mask = x > 0.5
    small = idx % 1000

    report("take f32 1M random of 1M", "numpy", median_ms(lambda: np.take(x, idx), 21))
    report("gather f32 1M random of 1M", "numpy", median_ms(lambda: x[idx], 21))
    report("take rows 64k x 256 f32", "numpy", median_ms(lambda: np.take(table, row_idx, axis=0), 15))
    report("gather rows 64k x 256 f32", "numpy", median_ms(lambda: table[row_idx], 15))

    def add_at():
        out = np.zeros(n, dtype=np.float32)
        np.add.at(out, idx, x)
        return out

    report("scatter_add f32 1M random into 1M", "numpy", median_ms(add_at, 11))
    report("mask read f32 1M (half true)", "numpy", median_ms(lambda: np.nonzero(mask), 11))
    report("unique int32 1M (1000 values)", "numpy", median_ms(lambda: np.unique(small), 5))

    try:
        import mlx.core as mx
    except ImportError:
        print("mlx not installed; skipping it", file=sys.stderr)
        return
    mx.set_default_device(mx.cpu)
    mxx, midx = mx.array(x), mx.array(idx)
    mtable, mrow = mx.array(table), mx.array(row_idx)
    mzeros = mx.zeros((n,), dtype=mx.float32)
    mx.eval(mxx, midx, mtable, mrow, mzeros)
    report("take f32 1M random of 1M", "mlx", median_ms(lambda: mx.eval(mx.take(mxx, midx)), 21))
    report("gather f32 1M random of 1M", "mlx", median_ms(lambda: mx.eval(mxx[midx]), 21))
    report("take rows 64k x 256 f32", "mlx", median_ms(lambda: mx.eval(mx.take(mtable, mrow, axis=0)), 15))
    report("gather rows 64k x 256 f32", "mlx", median_ms(lambda: mx.eval(mtable[mrow]), 15))
    report("scatter_add f32 1M random into 1M", "mlx", median_ms(lambda: mx.eval(mzeros.at[midx].add(mxx)), 11))


if __name__ == "__main__":
    main()
