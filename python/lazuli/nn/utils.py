"""Transforms of functions of a model's parameters."""
from functools import wraps
from typing import Callable, Optional

import lazuli.core as mx

from .layers.base import Module


def value_and_grad(model: Module, fn: Callable):
    """``fn``'s value and its gradient with respect to ``model``'s trainable parameters.

    Returns a function taking ``fn``'s arguments and giving ``(value, grads)``, grads being
    a tree shaped like ``model.trainable_parameters()``.
    """

    def with_params(params, *args, **kwargs):
        model.update(params)
        return fn(*args, **kwargs)

    value_and_grad_fn = mx.value_and_grad(with_params)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return value_and_grad_fn(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module: Module, fn: Optional[Callable] = None):
    """``fn`` (default: the module's own call) with gradient checkpointing: its
    intermediate values are recomputed in the backward pass instead of being kept. The
    module's trainable parameters are inputs of the checkpointed function, so gradients
    with respect to them flow through it."""
    fn = fn or module

    def with_params(params, *args, **kwargs):
        module.update(params)
        return fn(*args, **kwargs)

    checkpointed = mx.checkpoint(with_params)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return checkpointed(module.trainable_parameters(), *args, **kwargs)

    return wrapped
