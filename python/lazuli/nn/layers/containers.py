"""Sequential: modules (or callables) applied one after another."""
from .base import Module


class Sequential(Module):
    """Calls each of ``modules`` on the output of the previous one."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
