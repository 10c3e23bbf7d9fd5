"""lazuli.nn: neural-network layers, losses and initialisers with MLX's ``mlx.nn`` API.

The math of each layer, activation and loss is C++ (lazuli::nn); these classes hold
parameters in a tree (``Module`` is a dict) and call it.
"""
from . import init, losses  # noqa: F401
from .layers import *  # noqa: F401,F403
from .utils import checkpoint, value_and_grad  # noqa: F401
