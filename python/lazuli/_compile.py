"""mx.compile: MLX's compile over pytrees, on the C++ compile of flat array lists.

A call flattens its arguments into arrays (traced inputs) and everything else (constants:
part of the trace's key, so a new value traces again). ``inputs`` and ``outputs`` name state
the function reads and writes besides its arguments (a model's parameters, an optimizer's
state): its arrays are read before each call as extra inputs and written back after it.
"""
import functools
from collections import OrderedDict

from . import core

_MAX_SIGNATURES = 64  # tree structures and constants kept per function; the oldest goes


def _flatten(tree, arrays, as_key=False):
    """Appends tree's arrays to ``arrays``; returns a hashable description of the rest.
    ``as_key``: the description is a trace's key, so it refuses unhashable leaves."""
    if isinstance(tree, core.array):
        arrays.append(tree)
        return "a"
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, tuple(_flatten(t, arrays, as_key) for t in tree))
    if isinstance(tree, dict):
        return ("dict", tuple((k, _flatten(v, arrays, as_key)) for k, v in tree.items()))
    if isinstance(tree, (float, complex)):
        # By repr: -0.0 == 0.0 (yet x / -0.0 is -inf), and a NaN equals no NaN.
        return ("const", type(tree).__name__, repr(tree))
    try:
        hash(tree)
    except TypeError:
        if as_key:  # keyed by id, an object changed in place (a NumPy array) would replay stale
            raise ValueError(f"[compile] Arguments must be trees (lists, tuples, dicts) of arrays and hashable "
                             f"constants; got an unhashable {type(tree).__name__}. Pass it as an array.") from None
        return ("object", id(tree))
    return ("const", type(tree).__name__, tree)


def _unflatten(tree, arrays):
    """tree (as given to _flatten) with its array leaves taken in order from the iterator."""
    if isinstance(tree, core.array):
        return next(arrays)
    if isinstance(tree, list):
        return [_unflatten(t, arrays) for t in tree]
    if isinstance(tree, tuple):
        items = [_unflatten(t, arrays) for t in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    if isinstance(tree, dict):
        return {k: _unflatten(v, arrays) for k, v in tree.items()}
    return tree


def _replace_in_place(tree, new_leaf):
    """Sets each array leaf x of tree's lists and dicts to new_leaf(x) in place."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in list(items):
        if isinstance(value, core.array):
            tree[key] = new_leaf(value)
        elif isinstance(value, (list, dict)):
            _replace_in_place(value, new_leaf)
        elif isinstance(value, tuple) and _state_arrays(value):
            # A tuple without arrays (a layer's stride, say) needs no update.
            raise ValueError("[compile] State given as inputs or outputs must hold its arrays in lists and dicts, "
                             "not tuples (they cannot be updated in place).")


def _state_arrays(state):
    arrays = []
    if state is not None:
        _flatten(state, arrays)
    return arrays


def compile(fun, inputs=None, outputs=None, shapeless=False):
    """Returns a compiled fun: traced once per signature (argument structure, constants,
    array dtypes and shapes, or ranks with ``shapeless``), simplified, fused and replayed."""
    if not callable(fun):
        raise ValueError(f"[compile] Expected a function, got {type(fun).__name__}.")
    signatures = OrderedDict()

    @functools.wraps(fun)
    def compiled(*args, **kwargs):
        if not core._compile_enabled():
            return fun(*args, **kwargs)
        arrays = []
        structure = _flatten((args, kwargs), arrays, as_key=True)
        state = _state_arrays(inputs)
        key = (structure, len(state))
        entry = signatures.get(key)
        if entry is None:
            # What the trace learns; the traced closure holds this dict, not the compiled
            # function (which holds the closure): no reference cycle through C++.
            # "state" is the calling call's: C++ traces again on new shapes, in a later call.
            info = {"result": None, "state_out": 0, "state": state}

            def traced(flat):
                placeholders = flat[len(arrays):]
                originals = {id(p): s for p, s in zip(placeholders, info["state"])}
                leaves = iter(flat[: len(arrays)])
                call_args, call_kwargs = _unflatten((args, kwargs), leaves)
                # Tracing draws from the global key; only a compiled call may advance it.
                global_key = core.random._global_key()
                if inputs is not None:
                    traced_state = iter(placeholders)
                    _replace_in_place(inputs, lambda x: next(traced_state))
                try:
                    result = fun(*call_args, **call_kwargs)
                    out_arrays = []
                    _flatten(result, out_arrays)
                    info["result"] = result
                    state_out = _state_arrays(outputs)
                    info["state_out"] = len(state_out)
                finally:
                    if inputs is not None:
                        _replace_in_place(inputs, lambda x: originals.get(id(x), x))
                    core.random._set_global_key(global_key)
                return out_arrays + state_out

            entry = (core._compile(traced, shapeless), info)
            signatures[key] = entry
            if len(signatures) > _MAX_SIGNATURES:
                signatures.popitem(last=False)
        else:
            signatures.move_to_end(key)
        fn, info = entry
        info["state"] = state
        results = fn(arrays + state)
        info["state"] = None
        n_state = info["state_out"]
        n_out = len(results) - n_state
        if outputs is not None and n_state:
            written = iter(results[n_out:])
            _replace_in_place(outputs, lambda x: next(written))
        return _unflatten(info["result"], iter(results[:n_out]))

    return compiled
