"""Recurrent layers: RNN, GRU, LSTM.

Inputs are sequences of shape ``(N, L, D)`` or ``(L, D)``; each layer returns its hidden state
after every step, ``(N, L, H)`` or ``(L, H)``. The math is lazuli::nn::rnn / gru / lstm.
"""
import math
from typing import Callable, Optional

import lazuli.core as mx
from lazuli.core import _nn

from .activations import tanh
from .base import Module

__all__ = ["RNN", "GRU", "LSTM"]


def _uniform(scale, *shape):
    return mx.random.uniform(low=-scale, high=scale, shape=shape)


class RNN(Module):
    """An Elman recurrent layer: ``h_t = nonlinearity(x_t Wxh^T + h_{t-1} Whh^T + bias)``.

    Args:
        input_size: the input's feature dimension ``D``.
        hidden_size: the hidden state's dimension ``H``.
        bias: whether to add a bias. Default: ``True``.
        nonlinearity: a callable applied to the pre-activation; ``tanh`` when ``None``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: Optional[Callable] = None):
        super().__init__()
        self.nonlinearity = nonlinearity or tanh
        if not callable(self.nonlinearity):
            raise ValueError(f"[RNN] nonlinearity must be callable, got {nonlinearity!r}.")
        self.hidden_size = hidden_size
        scale = 1.0 / math.sqrt(hidden_size)
        self.Wxh = _uniform(scale, hidden_size, input_size)
        self.Whh = _uniform(scale, hidden_size, hidden_size)
        self.bias = _uniform(scale, hidden_size) if bias else None

    def _extra_repr(self):
        return (
            f"input_dims={self.Wxh.shape[1]}, hidden_size={self.hidden_size}, "
            f"nonlinearity={self.nonlinearity}, bias={self.bias is not None}"
        )

    def __call__(self, x, hidden=None):
        # The default tanh runs in C++ rather than through a Python call per step.
        nonlinearity = None if self.nonlinearity is tanh else self.nonlinearity
        return _nn.rnn(x, self.Wxh, self.Whh, self.bias, hidden, nonlinearity)


class GRU(Module):
    """A gated recurrent unit with reset, update and new gates (rows r, z, n of ``Wx``, ``Wh``
    and ``b``); ``bhn`` is the bias of the hidden projection inside the new gate.

    Args:
        input_size: the input's feature dimension ``D``.
        hidden_size: the hidden state's dimension ``H``.
        bias: whether to use the biases ``b`` and ``bhn``. Default: ``True``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.hidden_size = hidden_size
        scale = 1.0 / math.sqrt(hidden_size)
        self.Wx = _uniform(scale, 3 * hidden_size, input_size)
        self.Wh = _uniform(scale, 3 * hidden_size, hidden_size)
        self.b = _uniform(scale, 3 * hidden_size) if bias else None
        self.bhn = _uniform(scale, hidden_size) if bias else None

    def _extra_repr(self):
        return f"input_dims={self.Wx.shape[1]}, hidden_size={self.hidden_size}, bias={self.b is not None}"

    def __call__(self, x, hidden=None):
        return _nn.gru(x, self.Wx, self.Wh, self.b, self.bhn, hidden)


class LSTM(Module):
    """A long short-term memory layer with input, forget, cell and output gates (rows i, f,
    g, o of ``Wx``, ``Wh`` and ``bias``). Returns ``(hidden, cell)`` at every step.

    Args:
        input_size: the input's feature dimension ``D``.
        hidden_size: the hidden and cell states' dimension ``H``.
        bias: whether to add a bias. Default: ``True``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.hidden_size = hidden_size
        scale = 1.0 / math.sqrt(hidden_size)
        self.Wx = _uniform(scale, 4 * hidden_size, input_size)
        self.Wh = _uniform(scale, 4 * hidden_size, hidden_size)
        self.bias = _uniform(scale, 4 * hidden_size) if bias else None

    def _extra_repr(self):
        return f"input_dims={self.Wx.shape[1]}, hidden_size={self.hidden_size}, bias={self.bias is not None}"

    def __call__(self, x, hidden=None, cell=None):
        return _nn.lstm(x, self.Wx, self.Wh, self.bias, hidden, cell)
