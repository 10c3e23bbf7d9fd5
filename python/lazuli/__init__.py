"""Lazuli: lazy NumPy-like arrays for machine learning, with MLX's Python API.

`import lazuli.core as mx` gives the array type, ops and transforms under MLX's names.
"""
from . import core  # noqa: F401

__version__ = core.__version__
