"""Helpers shared by the test files."""
import numpy as np


def numerical_grad(f, x, eps=1e-3):
    """Central differences of the scalar function f (NumPy float64 array in, float out) at x."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g
