"""The chain case of bench_compile.cpp in NumPy and, where installed, MLX (compiled)."""
import numpy as np

from timing import median_ms, report

CHAIN = "chain tanh(x*2+1)*exp(-x)+x 32M f32"


def main():
    x = np.random.default_rng(0).standard_normal(1 << 25, dtype=np.float32)
    report(CHAIN + " compiled", "numpy", median_ms(lambda: np.tanh(x * 2 + 1) * np.exp(-x) + x, 7))
    try:
        import mlx.core as mx
    except ImportError:
        return
    mx.set_default_device(mx.cpu)
    y = mx.array(x)

    def chain(v):
        return mx.tanh(v * 2 + 1) * mx.exp(-v) + v

    report(CHAIN + " eager", "mlx", median_ms(lambda: mx.eval(chain(y)), 7))
    compiled = mx.compile(chain)
    report(CHAIN + " compiled", "mlx", median_ms(lambda: mx.eval(compiled(y)), 7))


if __name__ == "__main__":
    main()
