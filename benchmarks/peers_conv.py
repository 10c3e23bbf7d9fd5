"""The convolution cases of bench_conv.cpp in MLX (its CPU build; same layouts as Lazuli).
MLX's CPU convolution is slow (seconds per case), so each case runs 3 times.

Prints one JSON object per case: {"case", "lib": "mlx", "ms"}. Skips quietly without MLX.
"""

import numpy as np

from timing import median_ms, report


def values(shape, phase):
    n = int(np.prod(shape))
    return np.sin(np.arange(n, dtype=np.float32) * np.float32(phase)).reshape(shape)


def main():
    try:
        import mlx.core as mx
    except ImportError:
        return
    mx.set_default_device(mx.cpu)
    x, w = mx.array(values((32, 32, 32, 64), 0.37)), mx.array(values((64, 3, 3, 64), 0.11))
    ct = mx.array(values((32, 32, 32, 64), 0.23))
    mx.eval(x, w, ct)
    report("conv2d 3x3 64->64 32x32 n32 f32", "mlx", median_ms(lambda: mx.eval(mx.conv2d(x, w, padding=1)), 3))

    def step():
        outs, grads = mx.vjp(lambda a, b: mx.conv2d(a, b, padding=1), [x, w], [ct])
        mx.eval(outs, grads)
    report("conv2d 3x3 64->64 32x32 n32 f32 fwd+vjp (input+weight)", "mlx", median_ms(step, 3))

    a, k = mx.array(values((16, 1024, 128), 0.31)), mx.array(values((128, 5, 128), 0.07))
    report("conv1d k5 128->128 L1024 n16 f32", "mlx", median_ms(lambda: mx.eval(mx.conv1d(a, k, padding=2)), 3))

    at, kt = mx.array(values((32, 16, 16, 64), 0.29)), mx.array(values((32, 3, 3, 64), 0.13))
    report("conv_transpose2d 3x3 s2 64->32 16x16 n32 f32", "mlx",
           median_ms(lambda: mx.eval(mx.conv_transpose2d(at, kt, stride=2, padding=1, output_padding=1)), 3))


if __name__ == "__main__":
    main()
