"""Initialisers (MLX's nn.init): each returns a function that takes an array and returns a
new one of its shape. The sampling is C++ (lazuli.core._nn)."""
from typing import Callable

import lazuli.core as mx
from lazuli.core import _nn


def constant(value: float, dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """Arrays filled with ``value``."""
    return lambda a: _nn.init_constant(a.shape, value, dtype)


def normal(mean: float = 0.0, std: float = 1.0, dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """Samples of N(mean, std^2)."""
    return lambda a: _nn.init_normal(a.shape, mean, std, dtype)


def uniform(low: float = 0.0, high: float = 1.0, dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """Samples uniform in [low, high)."""
    return lambda a: _nn.init_uniform(a.shape, low, high, dtype)


def identity(dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """The identity matrix (square 2-d arrays only)."""
    return lambda a: _nn.init_identity(a.shape, dtype)


def glorot_normal(dtype: mx.Dtype = mx.float32) -> Callable[[mx.array, float], mx.array]:
    """N(0, gain^2 * 2 / (fan_in + fan_out)) samples."""
    return lambda a, gain=1.0: _nn.init_glorot_normal(a.shape, gain, dtype)


def glorot_uniform(dtype: mx.Dtype = mx.float32) -> Callable[[mx.array, float], mx.array]:
    """Uniform samples in +-gain * sqrt(6 / (fan_in + fan_out))."""
    return lambda a, gain=1.0: _nn.init_glorot_uniform(a.shape, gain, dtype)


def he_normal(dtype: mx.Dtype = mx.float32) -> Callable[[mx.array, str, float], mx.array]:
    """N(0, gain^2 / fan) samples, fan being fan_in or fan_out (``mode``)."""
    return lambda a, mode="fan_in", gain=1.0: _nn.init_he_normal(a.shape, mode, gain, dtype)


def he_uniform(dtype: mx.Dtype = mx.float32) -> Callable[[mx.array, str, float], mx.array]:
    """Uniform samples in +-gain * sqrt(3 / fan), fan being fan_in or fan_out (``mode``)."""
    return lambda a, mode="fan_in", gain=1.0: _nn.init_he_uniform(a.shape, mode, gain, dtype)


def sparse(sparsity: float, mean: float = 0.0, std: float = 1.0,
           dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """N(mean, std^2) samples with ceil(sparsity * columns) zeros per row (2-d only)."""
    return lambda a: _nn.init_sparse(a.shape, sparsity, mean, std, dtype)


def orthogonal(gain: float = 1.0, dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """A (semi-)orthogonal matrix times ``gain`` (2-d only)."""
    return lambda a: _nn.init_orthogonal(a.shape, gain, dtype)
