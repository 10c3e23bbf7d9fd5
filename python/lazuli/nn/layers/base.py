"""``Module``: the base of every layer, a dict of its parameters and sub-modules (as MLX)."""
from __future__ import annotations

import textwrap
from typing import Any, Callable, List, Optional, Union

import lazuli.core as mx
from lazuli.utils import tree_flatten, tree_unflatten


def _is_tree_node(value):
    return isinstance(value, (Module, dict, list))


class Module(dict):
    """Base class of layers and models.

    A module is a ``dict``: attributes that are arrays, lists, tuples or dicts (of arrays or
    modules) are stored as its items and form the parameter tree; other attributes are plain
    Python attributes. Names starting with ``_`` are not parameters. ``freeze`` marks
    parameters as not trainable; ``train``/``eval`` set the ``training`` flag used by
    layers such as Dropout and BatchNorm.
    """

    __call__: Callable

    def __init__(self):
        self._no_grad = set()
        self._training = True

    @property
    def training(self) -> bool:
        """Whether the module is in training mode (see ``train`` and ``eval``)."""
        return self._training

    @property
    def state(self):
        """The module's whole state (parameters, frozen or not, and sub-modules): itself."""
        return self

    def _extra_repr(self) -> str:
        return ""

    def __repr__(self):
        children = tree_flatten(self.children(), is_leaf=self.is_module)
        text = f"{type(self).__name__}({self._extra_repr()}"
        for key, child in children:
            text += "\n" + textwrap.indent(f"({key}): {child!r}", prefix="  ")
        if children:
            text += "\n"
        return text + ")"

    # Tree-valued attributes live in the dict; everything else is an ordinary attribute.
    def __getattr__(self, key: str):
        if key in self:
            return self[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key: str, value: Any):
        if isinstance(value, (mx.array, dict, list, tuple)):
            if key not in self and key in self.__dict__:
                object.__delattr__(self, key)
            self[key] = value
        else:
            object.__setattr__(self, key, value)
            self.pop(key, None)

    def __delattr__(self, key):
        if key in self:
            del self[key]
        else:
            object.__delattr__(self, key)

    # ---- filters used to walk the tree ----
    @staticmethod
    def is_module(value) -> bool:
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module, key, value) -> bool:
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value) -> bool:
        return isinstance(value, (dict, list, mx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value) -> bool:
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    def filter_and_map(
        self,
        filter_fn: Callable[["Module", str, Any], bool],
        map_fn: Optional[Callable] = None,
        is_leaf_fn: Optional[Callable[["Module", str, Any], bool]] = None,
    ) -> dict:
        """The sub-tree of items that ``filter_fn(module, key, value)`` keeps, with
        ``map_fn`` applied to its leaves (``is_leaf_fn`` says what a leaf is; by default
        anything that is not a module, dict or list)."""
        map_fn = map_fn or (lambda v: v)
        is_leaf_fn = is_leaf_fn or (lambda m, k, v: not _is_tree_node(v))
        return {
            k: _unwrap(self, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in self.items()
            if filter_fn(self, k, v)
        }

    def parameters(self) -> dict:
        """All parameters (arrays) as a tree of dicts and lists."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self) -> dict:
        """The parameters that are not frozen."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self) -> dict:
        """The direct sub-modules (inside dicts and lists too)."""
        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module))

    def leaf_modules(self) -> dict:
        """The sub-modules that have no sub-modules of their own."""

        def is_leaf_module(m, k, v):
            return isinstance(v, Module) and len(tree_flatten(v.children())) == 0

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    def update(self, parameters: dict, strict: bool = True) -> "Module":
        """Replaces parameters with those of the (partial) tree ``parameters``. With
        ``strict``, unknown names and non-array values raise ValueError."""

        def assign(dst, src):
            if isinstance(src, dict):
                items = src.items()
            elif isinstance(src, list):
                items = enumerate(src)
            else:
                if strict:
                    raise ValueError(f"Received invalid type: {type(src).__name__}.")
                return
            for k, new in items:
                if isinstance(src, dict) and k not in dst:
                    if strict:
                        raise ValueError(f'Module does not have parameter named "{k}".')
                    continue
                current = dst[k]
                if isinstance(current, mx.array):
                    if strict and not isinstance(new, mx.array):
                        raise ValueError(f"Received invalid type: {type(new).__name__}.")
                    dst[k] = new
                else:
                    assign(current, new)

        assign(self, parameters)
        return self

    def save_weights(self, file: str):
        """Saves the parameters, by dotted name, to ``file`` (``.npz`` or ``.safetensors``)."""
        weights = dict(tree_flatten(self.parameters()))
        if file.endswith(".npz"):
            mx.savez(file, **weights)
        elif file.endswith(".safetensors"):
            mx.save_safetensors(file, weights)
        else:
            raise ValueError(f"[save_weights] Unsupported file extension of {file!r}: use '.npz' or '.safetensors'.")

    def load_weights(self, file_or_weights: Union[str, List[tuple]], strict: bool = True) -> "Module":
        """Loads parameters from a ``.npz`` / ``.safetensors`` file or a list of
        ``(dotted name, array)`` pairs. With ``strict``, the names must be exactly the
        model's and every shape must match; otherwise only the given names are replaced."""
        weights = file_or_weights
        if isinstance(weights, str):
            weights = list(mx.load(weights).items())
        weights = list(weights)
        if strict:
            new = dict(weights)
            current = dict(tree_flatten(self.parameters()))
            extra = sorted(new.keys() - current.keys())
            if extra:
                raise ValueError(f"Received {len(extra)} parameters not in model: \n" + ",\n".join(extra) + ".")
            missing = sorted(current.keys() - new.keys())
            if missing:
                raise ValueError(f"Missing {len(missing)} parameters: \n" + ",\n".join(missing) + ".")
            for name, value in current.items():
                given = new[name]
                if not isinstance(given, mx.array):
                    raise ValueError(f"Expected mx.array but received {type(given)} for parameter {name}")
                if given.shape != value.shape:
                    raise ValueError(f"Expected shape {value.shape} but received shape {given.shape} for parameter {name}")
        if weights:
            self.update(tree_unflatten(weights), strict=False)
        return self

    def apply(self, map_fn: Callable[[mx.array], mx.array], filter_fn: Optional[Callable] = None) -> "Module":
        """Replaces each parameter ``p`` (those ``filter_fn`` keeps) by ``map_fn(p)``."""
        filter_fn = filter_fn or Module.valid_parameter_filter
        return self.update(self.filter_and_map(filter_fn, map_fn))

    def update_modules(self, modules: dict, strict: bool = True) -> "Module":
        """Replaces sub-modules with those of the (partial) tree ``modules``."""
        _update_modules(self, modules, strict)
        return self

    def apply_to_modules(self, apply_fn: Callable[[str, "Module"], Any]) -> "Module":
        """Calls ``apply_fn(name, module)`` on this module (name "") and every sub-module
        (dotted names such as "layers.0")."""
        stack = [("", self)]
        while stack:
            prefix, module = stack.pop()
            apply_fn(prefix, module)
            prefix = "." + prefix if prefix else ""
            stack.extend(tree_flatten(module.children(), prefix=prefix, is_leaf=self.is_module))
        return self

    def modules(self) -> List["Module"]:
        """This module and all its sub-modules."""
        found = []
        self.apply_to_modules(lambda name, m: found.append(m))
        return found

    def named_modules(self):
        """``(name, module)`` for this module and all its sub-modules."""
        found = []
        self.apply_to_modules(lambda name, m: found.append((name, m)))
        return found

    def _validate_keys(self, keys, strict):
        keys = keys if isinstance(keys, list) else [keys]
        if strict:
            for k in keys:
                if k not in self:
                    raise KeyError(f"Module doesn't contain member {k}.")
        return keys

    def freeze(
        self, *, recurse: bool = True, keys: Optional[Union[str, List[str]]] = None, strict: bool = False
    ) -> "Module":
        """Marks parameters (all, or the names ``keys``) as not trainable, in sub-modules
        too unless ``recurse`` is False."""

        def freeze_one(_, m):
            names = keys
            if names is None:
                own = m.filter_and_map(lambda mm, k, v: not isinstance(v, Module) and mm.valid_parameter_filter(mm, k, v))
                names = [k for k, _ in tree_flatten(own)]
            m._no_grad.update(m._validate_keys(names, strict))

        if recurse:
            self.apply_to_modules(freeze_one)
        else:
            freeze_one("", self)
        return self

    def unfreeze(
        self, *, recurse: bool = True, keys: Optional[Union[str, List[str]]] = None, strict: bool = False
    ) -> "Module":
        """Makes parameters (all, or the names ``keys``) trainable again."""

        def unfreeze_one(_, m):
            if keys is None:
                m._no_grad.clear()
            else:
                m._no_grad.difference_update(m._validate_keys(keys, strict))

        if recurse:
            self.apply_to_modules(unfreeze_one)
        else:
            unfreeze_one("", self)
        return self

    def train(self, mode: bool = True) -> "Module":
        """Sets training mode (``mode=False``: evaluation mode) here and in sub-modules."""

        def set_mode(_, m):
            m._set_training_mode(mode)

        return self.apply_to_modules(set_mode)

    def _set_training_mode(self, mode: bool):
        """Sets this module's own mode; layers whose parameters depend on it (QQLinear) extend it."""
        self._training = mode

    def eval(self) -> "Module":
        """Sets evaluation mode: ``train(False)``."""
        return self.train(False)

    def set_dtype(
        self, dtype: mx.Dtype, predicate: Optional[Callable[[mx.Dtype], bool]] = lambda t: mx.issubdtype(t, mx.floating)
    ):
        """Casts the parameters whose dtype ``predicate`` accepts (default: floating) to ``dtype``."""
        predicate = predicate or (lambda _: True)
        self.apply(lambda p: p.astype(dtype) if predicate(p.dtype) else p)


def _update_modules(dst, modules, strict):
    if isinstance(modules, dict):
        items = modules.items()
    elif isinstance(modules, list):
        items = enumerate(modules)
    else:
        if strict:
            raise ValueError(f"Received invalid type: {type(modules).__name__}.")
        return
    for k, new in items:
        if isinstance(modules, dict) and k not in dst:
            if strict:
                raise ValueError(f'Module does not have sub-module named "{k}".')
            continue
        current = dst[k]
        if isinstance(current, Module) and isinstance(new, Module):
            dst[k] = new
        elif isinstance(current, (dict, list)):
            _update_modules(current, new, strict)
        elif strict and new != {}:
            raise ValueError(f"Received invalid type: {type(new).__name__}.")


def _unwrap(module, key, value, filter_fn, map_fn, is_leaf_fn):
    """The filtered, mapped sub-tree under ``module[key] = value``. Inside plain dicts and
    lists the filter sees dotted keys ("layers.0") with the owning module."""
    if is_leaf_fn(module, key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {
            k: _unwrap(value, k, v, filter_fn, map_fn, is_leaf_fn) for k, v in value.items() if filter_fn(value, k, v)
        }
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            path = f"{key}.{k}"
            out[k] = _unwrap(module, path, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(module, path, v) else {}
        return out
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            path = f"{key}.{i}"
            out.append(_unwrap(module, path, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(module, path, v) else {})
        return out
    raise RuntimeError("Unexpected leaf found while traversing the module")
