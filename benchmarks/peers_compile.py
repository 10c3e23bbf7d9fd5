"""The cases of bench_compile.cpp in NumPy (the chain) and, where installed, MLX: the chain
eager and compiled, and the MLP Adam training step eager and compiled."""
from functools import partial

import numpy as np

from timing import median_ms, report

CHAIN = "chain tanh(x*2+1)*exp(-x)+x 32M f32"
MEAN = "mean of the chain 32M f32"
MLP = "nn mlp adam step 784-512-512-10 b256"


def main():
    x = np.random.default_rng(0).standard_normal(1 << 25, dtype=np.float32)
    report(CHAIN + " compiled", "numpy", median_ms(lambda: np.tanh(x * 2 + 1) * np.exp(-x) + x, 7))
    report(MEAN + " compiled", "numpy", median_ms(lambda: np.mean(np.tanh(x * 2 + 1) * np.exp(-x) + x), 7))
    try:
        import mlx.core as mx
        import mlx.nn as nn
        import mlx.optimizers as optim
    except ImportError:
        return
    mx.set_default_device(mx.cpu)
    y = mx.array(x)

    def chain(v):
        return mx.tanh(v * 2 + 1) * mx.exp(-v) + v

    report(CHAIN + " eager", "mlx", median_ms(lambda: mx.eval(chain(y)), 7))
    compiled = mx.compile(chain)
    report(CHAIN + " compiled", "mlx", median_ms(lambda: mx.eval(compiled(y)), 7))
    compiled_mean = mx.compile(lambda v: mx.mean(chain(v)))
    report(MEAN + " compiled", "mlx", median_ms(lambda: mx.eval(compiled_mean(y)), 7))

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    xs = mx.random.normal((256, 784))
    ys = mx.random.randint(0, 10, (256,))
    adam = optim.Adam(1e-3, bias_correction=True)
    adam.init(model.trainable_parameters())
    mx.eval(model.parameters(), adam.state, xs, ys)
    grad_fn = nn.value_and_grad(model, lambda x, y: nn.losses.cross_entropy(model(x), y, reduction="mean"))

    def step(x, y):
        loss, grads = grad_fn(x, y)
        adam.update(model, grads)
        return loss

    state = [model.state, adam.state]
    compiled_step = partial(mx.compile, inputs=state, outputs=state)(step)
    for case, f in ((MLP, step), (MLP + " compiled", compiled_step)):
        report(case, "mlx", median_ms(lambda: mx.eval(f(xs, ys), state), 21))


if __name__ == "__main__":
    main()
