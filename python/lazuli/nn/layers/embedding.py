"""Embedding: a lookup table of vectors."""
import math

import lazuli.core as mx
from lazuli.core import _nn

from .base import Module
from .quantized import QuantizedEmbedding


class Embedding(Module):
    """Maps integer indices to rows of a (num_embeddings, dims) table initialised from
    N(0, 1/dims)."""

    def __init__(self, num_embeddings: int, dims: int):
        super().__init__()
        scale = math.sqrt(1 / dims)
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=scale)

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        return _nn.embedding(x, self.weight)

    def as_linear(self, x):
        """x @ weight.T: the embedding used as an output projection (tied weights)."""
        return x @ self.weight.T

    def to_quantized(self, group_size: int = 64, bits: int = 4, mode: str = "affine"):
        """A QuantizedEmbedding approximating this layer."""
        return QuantizedEmbedding.from_embedding(self, group_size, bits, mode)
