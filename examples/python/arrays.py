"""Arrays, broadcasting, reductions and dtypes, written for MLX's Python API."""
import lazuli.core as mx

a = mx.arange(12).reshape(3, 4)
b = mx.array([1.0, 2.0, 3.0, 4.0])
c = a * b + 0.5  # broadcasting; a Python float is weakly typed
print("c.shape:", c.shape, "dtype float32:", c.dtype == mx.float32)
print("row sums:", c.sum(axis=1).tolist())
print("column max:", mx.max(c, axis=0).tolist())
print("mean, std:", round(c.mean().item(), 4), round(c.std().item(), 4))

h = mx.ones((2, 2), dtype=mx.float16)
print("float16 stays float16:", (h * 2.5).dtype == mx.float16)
print("matmul:", (a[:, :2].astype(mx.float32) @ mx.array([[1.0], [2.0]])).tolist())
print("where:", mx.where(b > 2, b, -b).tolist())
print("concatenate:", mx.concatenate([b, b * 10]).tolist())
print("lazy until needed:", mx.exp(mx.array(0.0)).item())
