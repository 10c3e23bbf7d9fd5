"""Gradients of a small regression, written for MLX's Python API."""
import lazuli.core as mx


def loss(w, x, y):
    return mx.mean(mx.square(x @ w - y))


x = mx.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
y = mx.array([1.0, 2.0, 3.0])
w = mx.zeros((2,))

value_and_grad = mx.value_and_grad(loss)
for step in range(50):
    value, g = value_and_grad(w, x, y)
    w = w - 0.02 * g
    mx.eval(w)
print("final loss:", round(value.item(), 5))
print("w:", [round(v, 4) for v in w.tolist()])

# Second derivative of tanh at 0.5 through grad of grad.
d2 = mx.grad(mx.grad(mx.tanh))
print("tanh''(0.5):", round(d2(mx.array(0.5)).item(), 6))
