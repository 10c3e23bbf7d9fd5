"""Upsample and the upsample_nearest, upsample_linear, upsample_cubic functions.

Inputs are channels last, ``(N, *spatial, C)`` with any number of spatial axes; each spatial
axis of size ``n`` becomes ``int(scale * n)`` long. The math is lazuli::nn::upsample_*.
"""
import math
from typing import Literal, Tuple, Union

from lazuli.core._nn import upsample_cubic, upsample_linear, upsample_nearest  # noqa: F401

from .base import Module

__all__ = ["Upsample"]

_MODES = ("nearest", "linear", "cubic")


class Upsample(Module):
    """Upsamples the spatial axes (1 to ``ndim - 2``) of channels-last inputs.

    Args:
        scale_factor: one factor for every spatial axis, or a tuple with one per axis.
        mode: ``"nearest"``, ``"linear"`` (bi-, trilinear, ... on several axes) or
            ``"cubic"`` (Keys' kernel with a = -0.75). Default: ``"nearest"``.
        align_corners: for ``"linear"`` and ``"cubic"``, map the first and last samples of
            input and output onto each other instead of the sample centres. Default: ``False``.
    """

    def __init__(
        self,
        scale_factor: Union[float, Tuple],
        mode: Literal["nearest", "linear", "cubic"] = "nearest",
        align_corners: bool = False,
    ):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"[Upsample] Got unsupported upsampling algorithm: {mode!r}; use one of {_MODES}.")
        if isinstance(scale_factor, (list, tuple)):
            self.scale_factor = tuple(map(float, scale_factor))
        else:
            self.scale_factor = float(scale_factor)
        factors = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,)
        if not all(0 < f < math.inf for f in factors):
            raise ValueError(f"[Upsample] scale factors must be positive and finite, got {scale_factor}.")
        self.mode = mode
        self.align_corners = align_corners

    def _extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, mode={self.mode!r}, align_corners={self.align_corners}"

    def __call__(self, x):
        spatial = x.ndim - 2
        if spatial <= 0:
            raise ValueError(
                f"[Upsample] The input should have at least 1 spatial dimension, so at least 3 axes "
                f"(N, *spatial, C), but its shape is {x.shape}."
            )
        scale_factor = self.scale_factor
        if isinstance(scale_factor, tuple):
            if len(scale_factor) != spatial:
                raise ValueError(
                    f"[Upsample] One scale per spatial dimension is required but scale_factor={scale_factor} "
                    f"and the input of shape {x.shape} has {spatial} spatial dimensions."
                )
        else:
            scale_factor = (scale_factor,) * spatial
        if self.mode == "nearest":
            return upsample_nearest(x, scale_factor)
        interpolate = upsample_linear if self.mode == "linear" else upsample_cubic
        return interpolate(x, scale_factor, self.align_corners)
