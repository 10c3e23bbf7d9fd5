"""NumPy-style indexing and in-place updates, written for MLX's Python API."""
import lazuli.core as mx

x = mx.arange(24).reshape(2, 3, 4)
print("x[1]:", x[1].tolist())
print("x[:, 1:, ::2]:", x[:, 1:, ::2].tolist())
print("x[..., -1]:", x[..., -1].tolist())
print("x[0, None].shape:", x[0, None].shape)
print("reversed:", x[0, 0, ::-1].tolist())

y = mx.zeros((3, 3))
y[1] = 1.0
y[:, 2] = mx.array([7.0, 8.0, 9.0])
print("y after assignment:", y.tolist())
y[y > 5] = -1.0
print("y after mask assignment:", y.tolist())
z = mx.array([1.0, 2.0, 3.0, 4.0])
print("z.at[1:3].add(10):", z.at[1:3].add(10.0).tolist())
