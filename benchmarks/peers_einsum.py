"""The cases of bench_einsum.cpp in NumPy (np.einsum(optimize=True); a vectorised fast
Walsh-Hadamard transform) and, where it installs, MLX. Lines: {"case", "lib", "ms"}."""
import sys

import numpy as np

from timing import median_ms, report

CHAIN = "einsum ij,jk,kl->il 256x1024,1024x1024,1024x32 f32"
HADAMARD = "hadamard_transform f32 4096x4096"
GATHER = "gather_mm 1024x(1x512) @ 8x(512x512) f32"
ATTENTION = "einsum bhqd,bhkd->bhqk 8x16x256x64 f32"
UNSORTED = "gather_mm unsorted 1024x(1x512) @ 8x(512x512) f32"


def values(*shape):
    return np.sin(np.arange(np.prod(shape), dtype=np.float32) * np.float32(0.618)).reshape(shape)


def fwht(x):
    """Fast Walsh-Hadamard transform along the last axis, one butterfly stage per pass,
    scaled by 1/sqrt(n) (NumPy's best: whole-array operations)."""
    rows, n = x.shape
    y = x.copy()
    h = 1
    while h < n:
        v = y.reshape(rows, n // (2 * h), 2, h)
        a, b = v[:, :, 0, :], v[:, :, 1, :]
        y = np.stack((a + b, a - b), axis=2).reshape(rows, n)
        h *= 2
    return y * np.float32(1 / np.sqrt(n))


def main():
    a, b, c = values(256, 1024), values(1024, 1024), values(1024, 32)
    report(CHAIN, "numpy", median_ms(lambda: np.einsum("ij,jk,kl->il", a, b, c, optimize=True), 21))
    q, k = values(8, 16, 256, 64), values(8, 16, 256, 64)
    report(ATTENTION, "numpy", median_ms(lambda: np.einsum("bhqd,bhkd->bhqk", q, k, optimize=True), 5))
    tokens, experts = values(1024, 1, 512), values(8, 512, 512)
    expert = (np.arange(1024) // 128) % 8
    scattered = (np.arange(1024) * 5) % 8
    # NumPy's best: one matmul per expert over the rows routed to it.
    def moe(route):
        out = np.empty((1024, 1, 512), np.float32)
        for e in range(8):
            rows = route == e
            out[rows, 0] = tokens[rows, 0] @ experts[e]
        return out
    report(GATHER, "numpy", median_ms(lambda: moe(expert), 11))
    report(UNSORTED, "numpy", median_ms(lambda: moe(scattered), 11))
    x = values(4096, 4096)
    report(HADAMARD, "numpy", median_ms(lambda: fwht(x), 5))
    try:
        import mlx.core as mx
    except ImportError:
        print("mlx not installed; skipping it", file=sys.stderr)
        return
    mx.set_default_device(mx.cpu)
    ma, mb, mc, mxx = mx.array(a), mx.array(b), mx.array(c), mx.array(x)
    report(CHAIN, "mlx", median_ms(lambda: mx.eval(mx.einsum("ij,jk,kl->il", ma, mb, mc)), 21))
    mq, mk = mx.array(q), mx.array(k)
    report(ATTENTION, "mlx", median_ms(lambda: mx.eval(mx.einsum("bhqd,bhkd->bhqk", mq, mk)), 11))
    report(HADAMARD, "mlx", median_ms(lambda: mx.eval(mx.hadamard_transform(mxx)), 11))
    mt, mw, me = mx.array(tokens), mx.array(experts), mx.array(expert.astype(np.uint32))
    report(GATHER, "mlx", median_ms(lambda: mx.eval(mx.gather_mm(mt, mw, None, me, sorted_indices=True)), 11))
    ms = mx.array(scattered.astype(np.uint32))
    report(UNSORTED, "mlx", median_ms(lambda: mx.eval(mx.gather_mm(mt, mw, None, ms)), 11))


if __name__ == "__main__":
    main()
