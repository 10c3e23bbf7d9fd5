"""Transforms of functions of a model's parameters."""
from functools import wraps
from typing import Callable

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
