"""Dropout layers: active in training mode only."""
from lazuli.core import _nn

from .base import Module


class _DropoutBase(Module):
    _spatial_dims = 0
    _ndims = None

    def __init__(self, p: float = 0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"The dropout probability {p} is not in [0, 1)")
        self._p_1 = 1 - p

    def _extra_repr(self) -> str:
        return f"p={1 - self._p_1}"

    def __call__(self, x):
        if self._ndims is not None and x.ndim not in self._ndims:
            raise ValueError(
                f"Received input with {x.ndim} dimensions. Expected {self._ndims[0]} or {self._ndims[1]} dimensions."
            )
        if self._p_1 == 1 or not self.training:
            return x
        return _nn.dropout(x, 1 - self._p_1, self._spatial_dims)


class Dropout(_DropoutBase):
    """Zeroes each element with probability ``p`` and scales the rest by 1 / (1 - p)."""


class Dropout2d(_DropoutBase):
    """Zeroes whole channels of (N, H, W, C) or (H, W, C) inputs with probability ``p``."""

    _spatial_dims = 2
    _ndims = (3, 4)


class Dropout3d(_DropoutBase):
    """Zeroes whole channels of (N, D, H, W, C) or (D, H, W, C) inputs with probability ``p``."""

    _spatial_dims = 3
    _ndims = (4, 5)
