"""Max and average pooling over the spatial axes of channels-last inputs (MLX's API).

Inputs are (N, *spatial, C). Each spatial axis is padded on both sides by ``padding``
(with -inf for max pooling, zeros for average pooling, so padded zeros count in the
mean), then windows of ``kernel_size`` taken every ``stride`` (default: kernel_size)
are reduced. The math is C++ (lazuli.core._nn.max_pool / avg_pool).
"""
from typing import Optional, Tuple, Union

from lazuli.core import _nn

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


class _Pool(Module):
    def __init__(self, pool, ndim: int, kernel_size: IntOrTuple,
                 stride: Optional[IntOrTuple], padding: IntOrTuple) -> None:
        super().__init__()
        name = type(self).__name__
        self._pool = pool
        self._kernel_size = _per_axis(name, "kernel_size", kernel_size, ndim)
        self._stride = self._kernel_size if stride is None else _per_axis(name, "stride", stride, ndim)
        self._padding = _per_axis(name, "padding", padding, ndim)
        if any(k < 1 for k in self._kernel_size) or any(s < 1 for s in self._stride):
            raise ValueError(f"[{name}] kernel_size and stride must be positive, got "
                             f"{tuple(self._kernel_size)} and {tuple(self._stride)}")
        if any(p < 0 for p in self._padding):
            raise ValueError(f"[{name}] padding must be non-negative, got {tuple(self._padding)}")

    def _extra_repr(self) -> str:
        return (f"kernel_size={tuple(self._kernel_size)}, stride={tuple(self._stride)}, "
                f"padding={tuple(self._padding)}")

    def __call__(self, x):
        return self._pool(x, self._kernel_size, self._stride, self._padding)


class MaxPool1d(_Pool):
    """Max over windows of the length axis of (N, L, C) inputs; padding is -inf."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(_nn.max_pool, 1, kernel_size, stride, padding)


class MaxPool2d(_Pool):
    """Max over windows of (N, H, W, C) inputs; padding is -inf."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(_nn.max_pool, 2, kernel_size, stride, padding)


class MaxPool3d(_Pool):
    """Max over windows of (N, D, H, W, C) inputs; padding is -inf."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(_nn.max_pool, 3, kernel_size, stride, padding)


class AvgPool1d(_Pool):
    """Mean over windows of (N, L, C) inputs; padding is zeros (counted in the mean)."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(_nn.avg_pool, 1, kernel_size, stride, padding)


class AvgPool2d(_Pool):
    """Mean over windows of (N, H, W, C) inputs; padding is zeros (counted in the mean)."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(_nn.avg_pool, 2, kernel_size, stride, padding)


class AvgPool3d(_Pool):
    """Mean over windows of (N, D, H, W, C) inputs; padding is zeros (counted in the mean)."""

    def __init__(self, kernel_size: IntOrTuple, stride: Optional[IntOrTuple] = None, padding: IntOrTuple = 0) -> None:
        super().__init__(_nn.avg_pool, 3, kernel_size, stride, padding)
