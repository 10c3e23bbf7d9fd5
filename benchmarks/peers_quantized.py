"""The cases of bench_quantized.cpp in MLX (CPU): quantized_matmul 4-bit against float32 matmul,
quantize and dequantize. NumPy has no quantized matmul; its float32 matmul is the baseline.

Prints one JSON object per case and library: {"case", "lib", "ms"}.
"""
import sys

import numpy as np

from timing import median_ms, report


def main():
    n = k = 4096
    w = np.random.default_rng(1).normal(0, 0.02, (n, k)).astype(np.float32)
    for m in (1, 32):
        x = np.random.default_rng(2).normal(0, 1, (m, k)).astype(np.float32)
        report(f"matmul f32 batch {m} 4096x4096", "numpy", median_ms(lambda: x @ w.T, 21))
    try:
        import mlx.core as mx
    except ImportError:
        print("mlx not installed; skipping it", file=sys.stderr)
        return
    mx.set_default_device(mx.cpu)
    wm = mx.array(w)
    q = mx.quantize(wm, 64, 4)
    mx.eval(wm, *q)
    for m in (1, 32):
        x = mx.array(np.random.default_rng(2).normal(0, 1, (m, k)).astype(np.float32))
        b = f" batch {m} 4096x4096"
        report("qmm 4-bit g64" + b, "mlx", median_ms(lambda: mx.eval(mx.quantized_matmul(x, *q)), 21))
        report("matmul f32" + b, "mlx", median_ms(lambda: mx.eval(x @ wm.T), 21))
    x = mx.array(np.random.default_rng(3).normal(0, 1, (1, k)).astype(np.float32))
    for bits in (8, 3):
        qb = mx.quantize(wm, 64, bits)
        mx.eval(*qb)
        report(f"qmm {bits}-bit g64 batch 1 4096x4096", "mlx",
               median_ms(lambda: mx.eval(mx.quantized_matmul(x, *qb, group_size=64, bits=bits)), 21))
    f4 = mx.quantize(wm, 32, 4, "mxfp4")
    mx.eval(*f4)
    report("qmm mxfp4 batch 1 4096x4096", "mlx",
           median_ms(lambda: mx.eval(mx.quantized_matmul(x, *f4, group_size=32, bits=4, mode="mxfp4")), 21))
    report("quantize 4-bit g64 4096x4096", "mlx", median_ms(lambda: mx.eval(*mx.quantize(wm, 64, 4)), 7))
    report("dequantize 4-bit g64 4096x4096", "mlx", median_ms(lambda: mx.eval(mx.dequantize(*q)), 7))


if __name__ == "__main__":
    main()
