"""The cases of bench_nn_layers.cpp in MLX (CPU): nn.LSTM, nn.Upsample and QuantizedLinear
against Linear at batch 1."""
import sys

import numpy as np

from timing import median_ms, report


def main():
    try:
        import mlx.core as mx
        import mlx.nn as nn
    except ImportError:
        print("mlx not installed; skipping it", file=sys.stderr)
        return
    mx.set_default_device(mx.cpu)
    rng = np.random.default_rng(0)
    lstm = nn.LSTM(256, 256)
    x = mx.array(rng.standard_normal((32, 64, 256)).astype(np.float32))
    mx.eval(lstm.parameters(), x)
    report("lstm forward b32 seq64 256-256", "mlx", median_ms(lambda: mx.eval(*lstm(x)), 11))
    img = mx.array(rng.standard_normal((8, 64, 64, 32)).astype(np.float32))
    for mode, name in (("linear", "bilinear"), ("nearest", "nearest")):
        up = nn.Upsample(2.0, mode=mode)
        report(f"upsample {name} x2 8x64x64x32", "mlx", median_ms(lambda: mx.eval(up(img)), 21))
    linear = nn.Linear(4096, 4096)
    q = linear.to_quantized(64, 4)
    v = mx.array(rng.standard_normal((1, 4096)).astype(np.float32))
    mx.eval(linear.parameters(), q.parameters(), v)
    report("qlinear 4-bit g64 batch 1 4096x4096", "mlx", median_ms(lambda: mx.eval(q(v)), 21))
    report("linear f32 batch 1 4096x4096", "mlx", median_ms(lambda: mx.eval(linear(v)), 21))


if __name__ == "__main__":
    main()
