"""The CPU benchmark cases of bench_fft.cpp, in NumPy and (where it installs) MLX.

Prints one JSON object per case and library: {"case", "lib", "ms"}. NumPy's FFT (pocketfft)
computes in float64 on one thread; MLX's CPU FFT computes in float32.
"""
import sys

import numpy as np

from timing import median_ms, report


def complex_signal(shape):
    t = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    return (np.sin(t * np.float32(0.37)) + 1j * np.cos(t * np.float32(1.618))).astype(np.complex64)


def real_signal(shape):
    return np.sin(np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * np.float32(0.37))


def cases(lib, xp, fft, ev):
    x = xp.array(complex_signal((1 << 20,)))
    report("fft c64 1M (2^20)", lib, median_ms(lambda: ev(fft.fft(x)), 11))
    x = xp.array(complex_signal((1024, 1024)))
    report("fft c64 1024x1024 axis=-1", lib, median_ms(lambda: ev(fft.fft(x)), 11))
    report("fft c64 1024x1024 axis=0", lib, median_ms(lambda: ev(fft.fft(x, axis=0)), 11))
    report("fft2 c64 1024x1024", lib, median_ms(lambda: ev(fft.fft2(x)), 11))
    r = xp.array(real_signal((1 << 20,)))
    report("rfft f32 1M (2^20)", lib, median_ms(lambda: ev(fft.rfft(r)), 11))
    c = fft.rfft(r)
    ev(c)
    report("irfft c64 1M (2^20)", lib, median_ms(lambda: ev(fft.irfft(c)), 11))
    x = xp.array(complex_signal((1000, 1000)))
    report("fft c64 1000x1000 axis=-1", lib, median_ms(lambda: ev(fft.fft(x)), 11))
    x = xp.array(complex_signal((64, 10007)))
    report("fft c64 64x10007 (prime)", lib, median_ms(lambda: ev(fft.fft(x)), 11))


def main():
    cases("numpy", np, np.fft, lambda r: r)
    try:
        import mlx.core as mx
    except ImportError:
        print("mlx not installed; skipping it", file=sys.stderr)
        return
    mx.set_default_device(mx.cpu)
    cases("mlx", mx, mx.fft, mx.eval)


if __name__ == "__main__":
    main()
