"""Activation functions (their math is C++, in lazuli.core._nn) and their Module classes."""
import lazuli.core as mx
from lazuli.core._nn import (  # noqa: F401
    celu,
    elu,
    gelu,
    gelu_approx,
    gelu_fast_approx,
    glu,
    hard_shrink,
    hard_tanh,
    hardswish,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    mish,
    prelu,
    relu,
    relu2,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    step,
    tanh,
)

from .base import Module


def _stateless(name, fn, doc):
    """A Module class with no parameters whose call is ``fn(x)``."""
    return type(name, (Module,), {"__call__": lambda self, x: fn(x), "__doc__": doc})


Sigmoid = _stateless("Sigmoid", sigmoid, "Applies the logistic sigmoid.")
Mish = _stateless("Mish", mish, "Applies x * tanh(softplus(x)).")
ReLU = _stateless("ReLU", relu, "Applies max(x, 0).")
ReLU2 = _stateless("ReLU2", relu2, "Applies max(x, 0)^2.")
ReLU6 = _stateless("ReLU6", relu6, "Applies min(max(x, 0), 6).")
Softplus = _stateless("Softplus", softplus, "Applies log(1 + exp(x)).")
Softsign = _stateless("Softsign", softsign, "Applies x / (1 + |x|).")
SiLU = _stateless("SiLU", silu, "Applies x * sigmoid(x).")
LogSigmoid = _stateless("LogSigmoid", log_sigmoid, "Applies log(sigmoid(x)).")
Tanh = _stateless("Tanh", tanh, "Applies tanh.")
Hardswish = _stateless("Hardswish", hardswish, "Applies x * min(max(x + 3, 0), 6) / 6.")
SELU = _stateless("SELU", selu, "Applies the scaled exponential linear unit.")
HardTanh = _stateless("HardTanh", hard_tanh, "Applies min(max(x, -1), 1).")
HardShrink = _stateless("HardShrink", hard_shrink, "Applies x where |x| > 0.5, else 0.")
Softmax = _stateless("Softmax", softmax, "Applies softmax over the last axis.")
Softmin = _stateless("Softmin", softmin, "Applies softmin over the last axis.")
LogSoftmax = _stateless("LogSoftmax", log_softmax, "Applies log-softmax over the last axis.")


class GLU(Module):
    """Gated linear unit: a * sigmoid(b), where a and b are the halves of x along ``axis``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def __call__(self, x):
        return glu(x, self.axis)


class LeakyReLU(Module):
    """Applies max(negative_slope * x, x)."""

    def __init__(self, negative_slope=1e-2):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    """Applies x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    """Applies max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class Softshrink(Module):
    """Applies x - lambd * sign(x) where |x| > lambd, else 0."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return softshrink(x, self.lambd)


class PReLU(Module):
    """Applies max(x, 0) + a * min(x, 0) with a learned ``a`` (``num_parameters`` values)."""

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x):
        return prelu(x, self.weight)


class GELU(Module):
    """Gaussian error linear unit; ``approx`` is "none" (exact), "precise"/"tanh" (tanh
    approximation) or "fast" (x * sigmoid(1.702 x))."""

    def __init__(self, approx="none"):
        super().__init__()
        if approx not in ("none", "precise", "tanh", "fast"):
            raise ValueError(f"The approximation should be in ['none', 'precise', 'tanh', 'fast'] but '{approx}' was given")
        self._approx = approx

    def __call__(self, x):
        if self._approx == "none":
            return gelu(x)
        if self._approx in ("precise", "tanh"):
            return gelu_approx(x)
        return gelu_fast_approx(x)


class Step(Module):
    """Applies 1 where x > threshold, else 0."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x):
        return step(x, self.threshold)
