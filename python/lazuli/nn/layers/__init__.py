"""lazuli.nn's layer classes."""
from .activations import *  # noqa: F401,F403
from .base import Module  # noqa: F401
from .containers import Sequential  # noqa: F401
from .convolution import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
from .dropout import Dropout, Dropout2d, Dropout3d  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .linear import Bilinear, Identity, Linear  # noqa: F401
from .normalization import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, RMSNorm  # noqa: F401
from .pooling import AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d  # noqa: F401
from .positional import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
from .quantized import *  # noqa: F401,F403
