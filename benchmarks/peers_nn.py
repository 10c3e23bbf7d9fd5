"""The cases of bench_nn.cpp in MLX's CPU build (mlx.nn), where it is installed."""

from timing import median_ms, report


def main():
    try:
        import mlx.core as mx
        import mlx.nn as nn
    except ImportError:
        return
    mx.set_default_device(mx.cpu)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    x = mx.random.normal((256, 784))
    y = mx.random.randint(0, 10, (256,))
    mx.eval(model.parameters(), x, y)

    def loss_fn(x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    grad_fn = nn.value_and_grad(model, loss_fn)

    def step():
        _, grads = grad_fn(x, y)
        from mlx.utils import tree_map

        model.update(tree_map(lambda p, g: p - 0.1 * g, model.trainable_parameters(), grads))
        mx.eval(model.parameters())

    report("nn mlp sgd step 784-512-512-10 b256", "mlx", median_ms(step, 21))
    a = mx.random.normal((1024, 1024))
    ln = nn.LayerNorm(1024)
    mx.eval(a, ln.parameters())
    report("nn layer_norm 1024x1024", "mlx", median_ms(lambda: mx.eval(ln(a)), 21))
    g = mx.random.normal((1 << 22,))
    mx.eval(g)
    report("nn gelu 4M", "mlx", median_ms(lambda: mx.eval(nn.gelu(g)), 21))
    logits = mx.random.normal((4096, 1000))
    t = mx.random.randint(0, 1000, (4096,))
    mx.eval(logits, t)
    report("nn cross_entropy 4096x1000", "mlx",
           median_ms(lambda: mx.eval(nn.losses.cross_entropy(logits, t, reduction="mean")), 21))


if __name__ == "__main__":
    main()
