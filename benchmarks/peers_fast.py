"""The cases of bench_fast.cpp in MLX's CPU build (mlx.core.fast), where it is installed."""

from timing import median_ms, report


def main():
    try:
        import mlx.core as mx
    except ImportError:
        return
    mx.set_default_device(mx.cpu)
    q, k, v = (mx.random.normal((4, 8, 256, 64)) for _ in range(3))
    mx.eval(q, k, v)
    report("fast sdpa b4 h8 s256 d64 causal", "mlx",
           median_ms(lambda: mx.eval(mx.fast.scaled_dot_product_attention(q, k, v, scale=0.125, mask="causal")), 11))
    x, w, b = mx.random.normal((4096, 4096)), mx.random.normal((4096,)), mx.random.normal((4096,))
    mx.eval(x, w, b)
    report("fast rms_norm 4096x4096", "mlx", median_ms(lambda: mx.eval(mx.fast.rms_norm(x, w, 1e-5)), 11))
    report("fast layer_norm 4096x4096", "mlx", median_ms(lambda: mx.eval(mx.fast.layer_norm(x, w, b, 1e-5)), 11))
    r = mx.random.normal((4, 8, 256, 64))
    mx.eval(r)
    report("fast rope b4 h8 s256 d64", "mlx",
           median_ms(lambda: mx.eval(mx.fast.rope(r, 64, traditional=False, base=10000.0, scale=1.0, offset=0)), 11))


if __name__ == "__main__":
    main()
