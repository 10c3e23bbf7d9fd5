"""Quantized layers and nn.quantize.

The weights are packed by ``mx.quantize`` (see its modes: "affine", "mxfp4", "mxfp8",
"nvfp4"); as in MLX the packed weights, scales and biases are frozen, so only a bias taken
over from a float layer trains. The math is lazuli::nn::quantized_linear / _embedding.
"""
import math
from typing import Callable, Optional, Union

import lazuli.core as mx
from lazuli.core import _nn
from lazuli.utils import tree_map_with_path

from .base import Module

__all__ = ["QQLinear", "QuantizedEmbedding", "QuantizedLinear", "quantize"]


def quantize(
    model: Module,
    group_size: int = 64,
    bits: int = 4,
    *,
    mode: str = "affine",
    quantize_input: bool = False,
    class_predicate: Optional[Callable[[str, Module], Union[bool, dict]]] = None,
):
    """Replaces, in place, the leaf modules of ``model`` that ``class_predicate(path, module)``
    selects by their ``to_quantized(group_size, bits, mode=mode)`` (with
    ``quantize_input=True`` too when it is set: Linear layers then become QQLinear, and
    only they support it).

    The predicate returns ``False`` (keep the module), ``True`` (quantize with the arguments
    given here) or a dict of keyword arguments for that module's ``to_quantized``. By default
    every leaf with a ``to_quantized`` method (Linear, Embedding) is quantized.
    """
    class_predicate = class_predicate or (lambda _, m: hasattr(m, "to_quantized"))

    def maybe_quantize(path, m):
        choice = class_predicate(path, m)
        if not choice:
            return m
        if not hasattr(m, "to_quantized"):
            raise ValueError(f"[quantize] Unable to quantize module {path!r} of type {type(m).__name__}.")
        if isinstance(choice, bool):
            kwargs = dict(group_size=group_size, bits=bits, mode=mode)
            if quantize_input:
                from .linear import Linear  # (linear.py imports this module)

                if not isinstance(m, Linear):
                    raise ValueError(
                        f"[quantize] quantize_input is only supported for Linear layers, not the "
                        f"{type(m).__name__} at {path!r}."
                    )
                kwargs["quantize_input"] = True
            return m.to_quantized(**kwargs)
        if isinstance(choice, dict):
            return m.to_quantized(**choice)
        raise ValueError(
            f"[quantize] class_predicate must return a bool or a dict of parameters for to_quantized, "
            f"got {choice!r} for {path!r}."
        )

    leaves = tree_map_with_path(maybe_quantize, model.leaf_modules(), is_leaf=Module.is_module)
    model.update_modules(leaves)


class _Quantized(Module):
    """Holds a weight packed by mx.quantize (``weight``, ``scales`` and, for "affine",
    ``biases``) and its settings."""

    def __init__(self, group_size: int, bits: int, mode: str):
        super().__init__()
        self.group_size = group_size
        self.bits = bits
        self.mode = mode

    def _set_weight(self, weight):
        self.weight, self.scales, *biases = mx.quantize(weight, self.group_size, self.bits, mode=self.mode)
        self.biases = biases[0] if biases else None

    @classmethod
    def _packing(cls, weight, group_size: int, bits: int, mode: str):
        """A frozen layer of this class holding ``weight`` quantized (without first drawing
        and quantizing a random weight, as calling the constructor would)."""
        layer = cls.__new__(cls)
        _Quantized.__init__(layer, group_size, bits, mode)
        layer._set_weight(weight)
        layer.freeze()
        return layer

    def _settings_repr(self):
        return f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}"


class QuantizedEmbedding(_Quantized):
    """Embedding with a quantized (num_embeddings, dims) table: looked-up rows are dequantized.

    Args:
        num_embeddings: the number of rows (vocabulary size).
        dims: the size of each row.
        group_size, bits, mode: as in ``mx.quantize``. Defaults: 64, 4, ``"affine"``.
    """

    def __init__(self, num_embeddings: int, dims: int, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        super().__init__(group_size, bits, mode)
        self.num_embeddings = num_embeddings
        self.dims = dims
        self._set_weight(mx.random.normal(shape=(num_embeddings, dims), scale=math.sqrt(1 / dims)))
        self.freeze()

    def __call__(self, x):
        return _nn.quantized_embedding(
            x, self["weight"], self["scales"], self.get("biases"), self.group_size, self.bits, self.mode
        )

    def as_linear(self, x):
        """x @ dequantized weight.T: the embedding used as an output projection (tied weights)."""
        return _nn.quantized_linear(
            x, self["weight"], self["scales"], self.get("biases"), None, self.group_size, self.bits, self.mode
        )

    def _extra_repr(self):
        return f"{self.num_embeddings}, {self.dims}, {self._settings_repr()}"

    @classmethod
    def from_embedding(cls, embedding_layer: Module, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        """A QuantizedEmbedding approximating ``embedding_layer``."""
        layer = cls._packing(embedding_layer.weight, group_size, bits, mode)
        layer.num_embeddings, layer.dims = embedding_layer.weight.shape
        return layer


class QuantizedLinear(_Quantized):
    """Linear with a quantized (output_dims, input_dims) weight: ``x W^T + bias``.

    Args:
        input_dims, output_dims: the input and output feature sizes.
        bias: whether to add a bias (zeros; frozen, as the weight). Default: ``True``.
        group_size, bits, mode: as in ``mx.quantize``. Defaults: 64, 4, ``"affine"``.
    """

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        bias: bool = True,
        group_size: int = 64,
        bits: int = 4,
        mode: str = "affine",
    ):
        super().__init__(group_size, bits, mode)
        scale = math.sqrt(1 / input_dims)
        self._set_weight(mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims)))
        if bias:
            self.bias = mx.zeros((output_dims,))
        self.freeze()

    def _extra_repr(self):
        output_dims, words = self.weight.shape
        input_dims = words * 32 // self.bits
        return f"input_dims={input_dims}, output_dims={output_dims}, bias={'bias' in self}, {self._settings_repr()}"

    def __call__(self, x):
        return _nn.quantized_linear(
            x, self["weight"], self["scales"], self.get("biases"), self.get("bias"), self.group_size, self.bits,
            self.mode,
        )

    @classmethod
    def from_linear(cls, linear_layer: Module, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        """A QuantizedLinear approximating ``linear_layer``; its bias (if any) stays trainable."""
        layer = cls._packing(linear_layer.weight, group_size, bits, mode)
        if "bias" in linear_layer:
            layer.bias = linear_layer.bias
        return layer


class QQLinear(Module):
    """Linear on quantized inputs and weights: ``mx.qqmm(x, weight)`` (modes ``"nvfp4"`` and
    ``"mxfp8"``).

    In training mode ``weight`` is a float (output_dims, input_dims) matrix, quantized on the
    fly with straight-through gradients, so it trains; ``eval()`` (or ``quantize()``) packs it
    into ``weight`` (uint32) and ``scales``, and ``train()`` (or ``dequantize()``) unpacks it
    (into bfloat16, the floating modes' dequantize dtype, as in MLX). As in MLX there is no
    bias argument; ``from_linear`` keeps a linear layer's bias.

    Args:
        input_dims, output_dims: the input and output feature sizes.
        group_size, bits: default to the mode's (16, 4 for nvfp4; 32, 8 for mxfp8).
        mode: ``"nvfp4"`` (default) or ``"mxfp8"``.
    """

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        group_size: Optional[int] = None,
        bits: Optional[int] = None,
        mode: str = "nvfp4",
    ):
        scale = math.sqrt(1 / input_dims)
        self._hold(mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims)), group_size, bits, mode)

    def _hold(self, weight, group_size, bits, mode):
        """Sets up the module around a float weight (mode and sizes checked by the C++)."""
        Module.__init__(self)
        self.group_size, self.bits = _nn.qq_config(mode, group_size, bits)
        self.mode = mode
        self.weight = weight

    @property
    def quantized(self) -> bool:
        """Whether ``weight`` is packed (with ``scales``)."""
        return "scales" in self

    def quantize(self):
        """Packs the float weight into ``weight`` and ``scales`` (a no-op if already packed)."""
        if not self.quantized:
            self.weight, self.scales = mx.quantize(self.weight, self.group_size, self.bits, mode=self.mode)

    def dequantize(self):
        """Unpacks ``weight`` and ``scales`` into a float weight (a no-op if not packed)."""
        if self.quantized:
            self.weight = mx.dequantize(
                self.weight, self.scales, group_size=self.group_size, bits=self.bits, mode=self.mode
            )
            del self.scales

    def _set_training_mode(self, mode: bool):
        super()._set_training_mode(mode)
        if mode:
            self.dequantize()
        else:
            self.quantize()

    def _extra_repr(self):
        output_dims, input_dims = self.weight.shape
        if self.quantized:
            input_dims = input_dims * 32 // self.bits
        return (
            f"input_dims={input_dims}, output_dims={output_dims}, bias={'bias' in self}, "
            f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}"
        )

    def __call__(self, x):
        return _nn.qq_linear(
            x, self["weight"], self.get("scales"), self.get("bias"), self.group_size, self.bits, self.mode
        )

    @classmethod
    def from_linear(
        cls, linear_layer: Module, group_size: Optional[int] = None, bits: Optional[int] = None, mode: str = "nvfp4"
    ):
        """A QQLinear with ``linear_layer``'s weight (and bias), in its training mode."""
        layer = cls.__new__(cls)
        layer._hold(linear_layer.weight, group_size, bits, mode)
        if "bias" in linear_layer:
            layer.bias = linear_layer.bias
        layer.train(linear_layer.training)
        return layer
