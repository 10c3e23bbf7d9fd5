"""Convolution layers Conv1d/2d/3d and ConvTranspose1d/2d/3d (channels-last, MLX's API).

Weights are (out_channels, *kernel_size, in_channels [/ groups]), drawn uniformly from
[-s, s] with s = sqrt(1 / (in_channels * prod(kernel_size))); the bias starts at zero.
"""
import math
from typing import Tuple, Union

import lazuli.core as mx

from .base import Module


def _expand(value, n: int):
    """An int repeated n times, or the given tuple/list as a tuple."""
    return (value,) * n if isinstance(value, int) else tuple(value)


def _uniform_weight(in_channels: int, out_channels: int, kernel_size: Tuple[int, ...], in_per_group: int):
    scale = math.sqrt(1.0 / (in_channels * math.prod(kernel_size)))
    return mx.random.uniform(low=-scale, high=scale, shape=(out_channels, *kernel_size, in_per_group))


def _check_groups(name: str, in_channels: int, out_channels: int, groups: int) -> None:
    if groups < 1 or in_channels % groups != 0:
        raise ValueError(
            f"[{name}] The number of input channels ({in_channels}) must be divisible by the number of groups ({groups})"
        )
    if out_channels % groups != 0:
        raise ValueError(
            f"[{name}] The number of output channels ({out_channels}) must be divisible by the number of groups ({groups})"
        )


class _ConvBase(Module):
    """Holds the weight (out_channels, *kernel_size, in_per_group), the optional zero bias and
    the layer's settings (stride, padding, ...) as attributes."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Tuple[int, ...], in_per_group: int,
                 bias: bool, **settings) -> None:
        super().__init__()
        self.weight = _uniform_weight(in_channels, out_channels, kernel_size, in_per_group)
        if bias:
            self.bias = mx.zeros((out_channels,))
        for name, value in settings.items():
            setattr(self, name, value)

    def _extra_repr(self) -> str:
        groups = f"groups={self.groups}, " if hasattr(self, "groups") else ""
        out_pad = f"output_padding={self.output_padding}, " if hasattr(self, "output_padding") else ""
        kernel = self.weight.shape[1:-1]
        kernel = kernel[0] if len(kernel) == 1 else kernel
        return (
            f"{self.weight.shape[-1] * getattr(self, 'groups', 1)}, {self.weight.shape[0]}, kernel_size={kernel}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, {out_pad}{groups}"
            f"bias={'bias' in self}"
        )

    def _add_bias(self, y):
        return y + self["bias"] if "bias" in self else y


class Conv1d(_ConvBase):
    """1-D convolution over (N, L, C_in) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True) -> None:
        _check_groups("Conv1d", in_channels, out_channels, groups)
        super().__init__(in_channels, out_channels, (kernel_size,), in_channels // groups, bias,
                         stride=stride, padding=padding, dilation=dilation, groups=groups)

    def __call__(self, x):
        y = mx.conv1d(x, self["weight"], self.stride, self.padding, self.dilation, self.groups)
        return self._add_bias(y)


class Conv2d(_ConvBase):
    """2-D convolution over (N, H, W, C_in) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1, groups: int = 1, bias: bool = True) -> None:
        _check_groups("Conv2d", in_channels, out_channels, groups)
        kernel_size, stride, padding = (_expand(v, 2) for v in (kernel_size, stride, padding))
        super().__init__(in_channels, out_channels, kernel_size, in_channels // groups, bias,
                         stride=stride, padding=padding, dilation=dilation, groups=groups)

    def __call__(self, x):
        y = mx.conv2d(x, self["weight"], self.stride, self.padding, self.dilation, self.groups)
        return self._add_bias(y)


class Conv3d(_ConvBase):
    """3-D convolution over (N, D, H, W, C_in) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1, bias: bool = True) -> None:
        kernel_size, stride, padding = (_expand(v, 3) for v in (kernel_size, stride, padding))
        super().__init__(in_channels, out_channels, kernel_size, in_channels, bias,
                         stride=stride, padding=padding, dilation=dilation)

    def __call__(self, x):
        y = mx.conv3d(x, self["weight"], self.stride, self.padding, self.dilation)
        return self._add_bias(y)


class ConvTranspose1d(_ConvBase):
    """1-D transposed convolution over (N, L, C_in) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, output_padding: int = 0, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, (kernel_size,), in_channels, bias,
                         stride=stride, padding=padding, dilation=dilation, output_padding=output_padding)

    def __call__(self, x):
        y = mx.conv_transpose1d(x, self["weight"], self.stride, self.padding, self.dilation, self.output_padding)
        return self._add_bias(y)


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution over (N, H, W, C_in) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1, output_padding: Union[int, tuple] = 0,
                 bias: bool = True) -> None:
        kernel_size, stride, padding, output_padding = (
            _expand(v, 2) for v in (kernel_size, stride, padding, output_padding))
        super().__init__(in_channels, out_channels, kernel_size, in_channels, bias,
                         stride=stride, padding=padding, dilation=dilation, output_padding=output_padding)

    def __call__(self, x):
        y = mx.conv_transpose2d(x, self["weight"], self.stride, self.padding, self.dilation, self.output_padding)
        return self._add_bias(y)


class ConvTranspose3d(_ConvBase):
    """3-D transposed convolution over (N, D, H, W, C_in) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1, output_padding: Union[int, tuple] = 0,
                 bias: bool = True) -> None:
        kernel_size, stride, padding, output_padding = (
            _expand(v, 3) for v in (kernel_size, stride, padding, output_padding))
        super().__init__(in_channels, out_channels, kernel_size, in_channels, bias,
                         stride=stride, padding=padding, dilation=dilation, output_padding=output_padding)

    def __call__(self, x):
        y = mx.conv_transpose3d(x, self["weight"], self.stride, self.padding, self.dilation, self.output_padding)
        return self._add_bias(y)
