"""Identity, Linear and Bilinear layers."""
import math
from typing import Any

import lazuli.core as mx
from lazuli.core import _nn

from .base import Module
from .quantized import QQLinear, QuantizedLinear


class Identity(Module):
    """Returns its input; takes and ignores any arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __call__(self, x):
        return x


class Linear(Module):
    """y = x W^T + b, with W (output_dims, input_dims) and b initialised uniformly in
    [-1/sqrt(input_dims), 1/sqrt(input_dims)]."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self) -> str:
        return f"input_dims={self.weight.shape[1]}, output_dims={self.weight.shape[0]}, bias={'bias' in self}"

    def __call__(self, x):
        return _nn.linear(x, self["weight"], self.get("bias"))

    def to_quantized(self, group_size: int = 64, bits: int = 4, mode: str = "affine", quantize_input: bool = False):
        """A QuantizedLinear approximating this layer, or with ``quantize_input`` a QQLinear
        (inputs quantized too)."""
        if quantize_input:
            return QQLinear.from_linear(self, group_size, bits, mode)
        return QuantizedLinear.from_linear(self, group_size, bits, mode)


class Bilinear(Module):
    """y[o] = x1^T W[o] x2 + b[o], W of shape (output_dims, input2_dims, input1_dims)."""

    def __init__(self, input1_dims: int, input2_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input1_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input2_dims, input1_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self) -> str:
        out, in2, in1 = self.weight.shape
        return f"input1_dims={in1}, input2_dims={in2}, output_dims={out}, bias={'bias' in self}"

    def __call__(self, x1, x2):
        return _nn.bilinear(x1, x2, self["weight"], self.get("bias"))
