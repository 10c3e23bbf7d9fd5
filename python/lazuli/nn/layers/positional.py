"""Positional encodings: RoPE, SinusoidalPositionalEncoding, ALiBi; the math is C++
(lazuli.core.fast.rope and lazuli.core._nn)."""
import math
from typing import Optional

import lazuli.core as mx
from lazuli.core import _nn

from .base import Module

__all__ = ["RoPE", "SinusoidalPositionalEncoding", "ALiBi"]


class RoPE(Module):
    """Rotary positional encoding of the first ``dims`` features (the rest pass unchanged).
    ``traditional`` rotates consecutive pairs of features, otherwise pairs half the
    features apart; the angles are position * scale * base^(-2i / dims)."""

    def __init__(self, dims: int, traditional: bool = False, base: float = 10000, scale: float = 1.0):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset: int = 0):
        return mx.fast.rope(x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale,
                            offset=offset)


class SinusoidalPositionalEncoding(Module):
    """[sin(x sigma), cos(x sigma)] (or cos first) of positions x, with dims // 2
    frequencies sigma geometric from max_freq down to min_freq (times 2 pi with
    ``full_turns``), scaled by ``scale`` (default sqrt(2 / dims))."""

    def __init__(self, dims: int, min_freq: float = 0.0001, max_freq: float = 1, scale: Optional[float] = None,
                 cos_first: bool = False, full_turns: bool = False):
        super().__init__()
        # The leading underscore keeps the frequencies out of the parameters.
        self._sigmas = _nn.sinusoidal_frequencies(dims, min_freq, max_freq, full_turns)
        self.scale = scale or math.sqrt(2 / dims)
        self.cos_first = cos_first

    def __call__(self, x):
        return _nn.sinusoidal_positional_encoding(x, self._sigmas, self.scale, self.cos_first)


class ALiBi(Module):
    """Adds the linear attention biases -|i - j| * slope(head) (and ``mask``) to attention
    scores (batch, heads, queries, keys) whose queries start at position ``offset``."""

    @staticmethod
    def create_alibi_matrix(q_sequence_length: int, k_sequence_length: int, num_heads: int, offset: int,
                            dtype=mx.float32):
        return _nn.alibi_matrix(q_sequence_length, k_sequence_length, num_heads, offset, dtype)

    @staticmethod
    def create_alibi_slope(num_heads):
        return _nn.alibi_slope(num_heads)

    def __call__(self, attention_scores, offset=0, mask=None):
        return _nn.alibi(attention_scores, offset, mask)
