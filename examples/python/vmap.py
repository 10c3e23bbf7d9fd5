"""Vectorising with vmap, and per-example gradients, written for MLX's Python API."""
import lazuli.core as mx


def dot(a, b):
    return mx.sum(a * b)


xs = mx.arange(12, dtype=mx.float32).reshape(4, 3)
ys = mx.ones((4, 3))
print("batched dot:", mx.vmap(dot)(xs, ys).tolist())
print("dot against one vector:", mx.vmap(dot, in_axes=(0, None))(xs, mx.array([1.0, 0.0, -1.0])).tolist())


def loss(w, x):
    return mx.sum(mx.tanh(w * x))


w = mx.array([0.1, 0.2, 0.3])
per_example = mx.vmap(mx.grad(loss), in_axes=(None, 0))(w, xs / 10)
print("per-example grads shape:", per_example.shape)
print("first row:", [round(v, 5) for v in per_example[0].tolist()])
