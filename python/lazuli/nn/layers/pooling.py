"""Max and average pooling over the spatial axes of channels-last inputs (MLX's API).

Inputs are (N, *spatial, C). Each spatial axis is padded on both sides by ``padding``
(with -inf for max pooling, zeros for average pooling, so padded zeros count in the
mean), then windows of ``kernel_size`` taken every ``stride`` (default: kernel_size)
are reduced. The windows are a strided view of the padded input, so no copy is made
before the reduction and gradients flow back through as_strided.
"""
from typing import Optional, Sequence, Tuple, Union

import lazuli.core as mx

from .base import Module

IntOrTuple = Union[int, Tuple[int, ...]]


def _per_axis(name: str, what: str, value, n: int) -> list:
    """``value`` as a list of n ints, or ValueError naming the layer and argument."""
    noun = "integer" if n == 1 else "integers"
    msg = f"[{name}] '{what}' must be an integer or a tuple containing {n} {noun}"
    if isinstance(value, (list, tuple)):
        if len(value) != n or not all(isinstance(v, int) for v in value):
            raise ValueError(msg)
        return list(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(msg)
    return [value] * n


def _windows(x, kernel: Sequence[int], stride: Sequence[int]):
    """A view of x (N, *spatial, C) with shape (N, *out_spatial, *kernel, C)."""
    spatial = x.shape[1:-1]
    if len(spatial) != len(kernel):
        raise ValueError(
            f"[pooling] expected an input of {len(kernel) + 2} dimensions (N, *spatial, C) "
            f"for {len(kernel)} spatial axes, got shape {tuple(x.shape)}")
    for size, k in zip(spatial, kernel):
        if size < k:
            raise ValueError(
                f"[pooling] window {tuple(kernel)} is larger than the (padded) spatial shape {tuple(spatial)}")
    # Row-major element strides of x.
    strides = [1] * x.ndim
    for axis in range(x.ndim - 2, -1, -1):
        strides[axis] = strides[axis + 1] * x.shape[axis + 1]
    out_spatial = [(size - k) // s + 1 for size, k, s in zip(spatial, kernel, stride)]
    inner = strides[1:-1]
    shape = [x.shape[0], *out_spatial, *kernel, x.shape[-1]]
    view_strides = [strides[0], *(st * s for st, s in zip(inner, stride)), *inner, 1]
    return mx.as_strided(x, shape, view_strides)


class _Pool(Module):
    def __init__(self, reduce, padding_value: float, ndim: int, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple], padding: IntOrTuple) -> None:
        super().__init__()
        name = type(self).__name__
        self._reduce = reduce
        self._padding_value = padding_value
        self._kernel_size = _per_axis(name, "kernel_size", kernel_size, ndim)
        self._stride = self._kernel_size if stride is None else _per_axis(name, "stride", stride, ndim)
        self._padding = _per_axis(name, "padding", padding, ndim)
        if any(k < 1 for k in self._kernel_size) or any(s < 1 for s in self._stride):
            raise ValueError(f"[{name}] kernel_size and stride must be positive, got "
                             f"{tuple(self._kernel_size)} and {tuple(self._stride)}")
        if any(p < 0 for p in self._padding):
            raise ValueError(f"[{name}] padding must be non-negative, got {tuple(self._padding)}")
        # The window axes of the (N, *out_spatial, *kernel, C) view.
        self._axes = tuple(range(-ndim - 1, -1))

    def _extra_repr(self) -> str:
        return (f"kernel_size={tuple(self._kernel_size)}, stride={tuple(self._stride)}, "
                f"padding={tuple(self._padding)}")

    def __call__(self, x):
        if any(p > 0 for p in self._padding):
            x = mx.pad(x, [(0, 0)] + [(p, p) for p in self._padding] + [(0, 0)],
                       constant_values=self._padding_value)
        return self._reduce(_windows(x, self._kernel_size, self._stride), axis=self._axes)


class MaxPool1d(_Pool):
    """Max over windows of the length axis of (N, L, C) inputs; padding is -inf."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(mx.max, float("-inf"), 1, kernel_size, stride, padding)


class MaxPool2d(_Pool):
    """Max over windows of (N, H, W, C) inputs; padding is -inf."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(mx.max, float("-inf"), 2, kernel_size, stride, padding)


class MaxPool3d(_Pool):
    """Max over windows of (N, D, H, W, C) inputs; padding is -inf."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(mx.max, float("-inf"), 3, kernel_size, stride, padding)


class AvgPool1d(_Pool):
    """Mean over windows of (N, L, C) inputs; padding is zeros (counted in the mean)."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(mx.mean, 0.0, 1, kernel_size, stride, padding)


class AvgPool2d(_Pool):
    """Mean over windows of (N, H, W, C) inputs; padding is zeros (counted in the mean)."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(mx.mean, 0.0, 2, kernel_size, stride, padding)


class AvgPool3d(_Pool):
    """Mean over windows of (N, D, H, W, C) inputs; padding is zeros (counted in the mean)."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(mx.mean, 0.0, 3, kernel_size, stride, padding)
