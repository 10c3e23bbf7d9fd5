"""The CPU benchmark cases of bench_linalg.cpp, in NumPy and (where it installs) MLX.

Prints one JSON object per case and library: {"case", "lib", "ms"}.
"""

import numpy as np

from timing import median_ms, report


def sample(shape):
    n = int(np.prod(shape))
    return np.sin(np.arange(n, dtype=np.float64) * 1.618).reshape(shape).astype(np.float32)


def well_conditioned(n, batch=None):
    shape = (batch, n, n) if batch else (n, n)
    return (sample(shape) + np.eye(n, dtype=np.float32) * np.float32(n / 4)).astype(np.float32)


def inputs():
    x = sample((1024, 1024))
    s = sample((256, 256))
    return {
        "inv": well_conditioned(512),
        "solve": (well_conditioned(64, 64), sample((64, 64, 1))),
        "cholesky": (x @ x.T + np.eye(1024, dtype=np.float32) * 1024).astype(np.float32),
        "qr": sample((512, 512)),
        "svd": s,
        "eigh": s + s.T,
    }


def cases(lib, la, xp, ev):
    d = {k: (tuple(xp(v) for v in val) if isinstance(val, tuple) else xp(val)) for k, val in inputs().items()}
    report("inv f32 512", lib, median_ms(lambda: ev(la.inv(d["inv"])), 11))
    report("solve f32 64x(64x64)", lib, median_ms(lambda: ev(la.solve(*d["solve"])), 21))
    report("cholesky f32 1024", lib, median_ms(lambda: ev(la.cholesky(d["cholesky"])), 11))
    report("qr f32 512", lib, median_ms(lambda: ev(la.qr(d["qr"])), 9))
    report("svd f32 256", lib, median_ms(lambda: ev(la.svd(d["svd"])), 9))
    report("eigh f32 256", lib, median_ms(lambda: ev(la.eigh(d["eigh"])), 9))


def main():
    cases("numpy", np.linalg, np.asarray, lambda r: r)
    try:
        import mlx.core as mx
    except ImportError:
        return

    class CpuLinalg:  # MLX's factorizations run on its CPU stream only
        def __getattr__(self, name):
            f = getattr(mx.linalg, name)
            return lambda *a: f(*a, stream=mx.cpu)

    def ev(r):
        mx.eval(r)

    cases("mlx", CpuLinalg(), mx.array, ev)


if __name__ == "__main__":
    main()
