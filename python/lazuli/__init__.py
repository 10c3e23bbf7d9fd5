"""Lazuli: lazy NumPy-like arrays for machine learning, with MLX's Python API.

`import lazuli.core as mx` gives the array type, ops and transforms under MLX's names.
"""
from . import core  # noqa: F401
from ._compile import compile as _compile

__version__ = core.__version__


class _RandomState(list):
    """mx.random.state: a one-element list whose item is the global key. Assigning to it
    replaces the key, so compile can pass the key in and out of a compiled function."""

    def __len__(self):
        return 1

    def __iter__(self):
        return iter([core.random._global_key()])

    def __getitem__(self, i):
        return [core.random._global_key()][i]

    def __setitem__(self, i, key):
        [None][i]  # IndexError past the one item
        core.random._set_global_key(key)

    def __repr__(self):
        return repr(list(self))


core.compile = _compile
core.random.state = _RandomState()
