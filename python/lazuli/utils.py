"""Utilities for Python trees: nested lists, tuples and dicts whose other objects are leaves.

The same functions and semantics as ``mlx.utils``: paths are dotted strings of dict keys and
sequence positions ("layers.0.weight"); lists and tuples (namedtuples included) keep their
type when rebuilt, dicts are rebuilt as plain dicts.
"""

from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = [
    "tree_map",
    "tree_map_with_path",
    "tree_flatten",
    "tree_unflatten",
    "tree_reduce",
    "tree_merge",
]


def _is_sequence(tree):
    return isinstance(tree, (list, tuple))


def _rebuild_sequence(tree, children):
    """A list or tuple of ``tree``'s type holding ``children``."""
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):  # namedtuple
        return type(tree)(*children)
    return type(tree)(children)


def _join(path, key):
    return str(key) if path is None else f"{path}.{key}"


def tree_map(
    fn: Callable, tree: Any, *rest: Any, is_leaf: Optional[Callable] = None
) -> Any:
    """Applies ``fn`` to the leaves of ``tree`` and returns a tree of the results.

    ``rest`` are trees with (at least) the structure of ``tree``: their matching nodes are
    passed to ``fn`` as extra arguments, so ``fn`` is called as ``fn(leaf, *rest_nodes)``.
    ``is_leaf``, when given, marks objects to treat as leaves even if they are containers.

    Example:
        >>> tree_map(lambda x: x * 2, {"a": [1, 2], "b": 3})
        {'a': [2, 4], 'b': 6}
    """
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if _is_sequence(tree):
        children = [
            tree_map(fn, child, *(r[i] for r in rest), is_leaf=is_leaf)
            for i, child in enumerate(tree)
        ]
        return _rebuild_sequence(tree, children)
    if isinstance(tree, dict):
        return {
            k: tree_map(fn, child, *(r[k] for r in rest), is_leaf=is_leaf)
            for k, child in tree.items()
        }
    return fn(tree, *rest)


def tree_map_with_path(
    fn: Callable,
    tree: Any,
    *rest: Any,
    is_leaf: Optional[Callable] = None,
    path: Optional[Any] = None,
) -> Any:
    """Like :func:`tree_map`, with the leaf's dotted path as ``fn``'s first argument.

    ``path`` prefixes every path; a leaf at the root gets ``path`` itself (None by default).

    Example:
        >>> tree_map_with_path(lambda p, x: p, {"model": [{"w": 0}]})
        {'model': [{'w': 'model.0.w'}]}
    """
    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    if _is_sequence(tree):
        children = [
            tree_map_with_path(
                fn, child, *(r[i] for r in rest), is_leaf=is_leaf, path=_join(path, i)
            )
            for i, child in enumerate(tree)
        ]
        return _rebuild_sequence(tree, children)
    if isinstance(tree, dict):
        return {
            k: tree_map_with_path(
                fn, child, *(r[k] for r in rest), is_leaf=is_leaf, path=_join(path, k)
            )
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(
    tree: Any,
    prefix: str = "",
    is_leaf: Optional[Callable] = None,
    destination: Optional[Union[List[Tuple[str, Any]], Dict[str, Any]]] = None,
) -> Union[List[Tuple[str, Any]], Dict[str, Any]]:
    """Flattens ``tree`` to ``(path, leaf)`` pairs with dotted paths.

    The first character of ``prefix`` is dropped (paths are built as ``prefix + "." + key``
    and then lose their first character), so ``prefix=".model"`` gives "model.layers.0".
    ``is_leaf`` marks objects to keep whole. The pairs are appended to ``destination`` when
    it is a list, stored in it when it is a dict, and returned.

    Example:
        >>> tree_flatten({"a": [1, {"b": 2}]})
        [('a.0', 1), ('a.1.b', 2)]
        >>> tree_flatten([[[0]]], prefix=".hello")
        [('hello.0.0.0', 0)]
    """
    if destination is None:
        destination = []
    add = destination.__setitem__ if isinstance(destination, dict) else (
        lambda key, value: destination.append((key, value))
    )

    def visit(node, path):
        if is_leaf is None or not is_leaf(node):
            if _is_sequence(node):
                for i, child in enumerate(node):
                    visit(child, f"{path}.{i}")
                return
            if isinstance(node, dict):
                for k, child in node.items():
                    visit(child, f"{path}.{k}")
                return
        add(path[1:], node)

    visit(tree, prefix)
    return destination


def tree_unflatten(tree: Union[List[Tuple[str, Any]], Dict[str, Any]]) -> Any:
    """Rebuilds a tree from ``(path, leaf)`` pairs (a list of them, or a dict).

    A level whose keys are all non-negative integers becomes a list (missing positions are
    filled with empty dicts); any other level becomes a dict.

    Example:
        >>> tree_unflatten([("layers.0.w", 1), ("layers.1.w", 2)])
        {'layers': [{'w': 1}, {'w': 2}]}
    """
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    if not items:
        return []
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]

    children = {}  # first path component -> [(rest of path, leaf)]
    for path, value in items:
        key, _, rest = path.partition(".")
        children.setdefault(key, []).append((rest, value))

    def build(entries):
        if len(entries) > 1 and all(rest == "" for rest, _ in entries):
            raise ValueError(
                "[tree_unflatten] The same path appears more than once in the tree."
            )
        return tree_unflatten(entries)

    if all(k.isdigit() for k in children):
        out = [{} for _ in range(max(int(k) for k in children) + 1)]
        for k, entries in children.items():
            out[int(k)] = build(entries)
        return out
    return {k: build(entries) for k, entries in children.items()}


def tree_reduce(fn, tree, initializer=None, is_leaf=None):
    """Reduces the leaves of ``tree`` with ``fn(accumulator, leaf)``.

    Without an ``initializer`` the first leaf starts the accumulation; an empty tree then
    gives None.

    Example:
        >>> tree_reduce(lambda acc, x: acc + x, {"a": [1, 2, 3], "b": [4, 5]}, 0)
        15
    """
    if (is_leaf is None or not is_leaf(tree)) and (
        _is_sequence(tree) or isinstance(tree, dict)
    ):
        accumulator = initializer
        for child in tree.values() if isinstance(tree, dict) else tree:
            accumulator = tree_reduce(fn, child, accumulator, is_leaf)
        return accumulator
    return tree if initializer is None else fn(initializer, tree)


def tree_merge(tree_a, tree_b, merge_fn=None):
    """Merges two trees into one holding the leaves of both, like a deep ``dict.update``.

    None and empty containers give way to the other tree. Lists and tuples merge position by
    position (the result has ``tree_a``'s type), dicts key by key. Where both trees have a
    leaf (or containers of different kinds) at the same place, ``merge_fn(a, b)`` decides;
    without it that is a ValueError.

    Example:
        >>> tree_merge({"layers": [{"w": 1}]}, {"layers": [None, {"w": 2}]})
        {'layers': [{'w': 1}, {'w': 2}]}
    """

    def empty(t):
        return t is None or (
            (_is_sequence(t) or isinstance(t, dict)) and len(t) == 0
        )

    if empty(tree_a):
        return tree_b if not empty(tree_b) else tree_a
    if empty(tree_b):
        return tree_a
    if _is_sequence(tree_a) and _is_sequence(tree_b):
        n = max(len(tree_a), len(tree_b))
        children = [
            tree_merge(
                tree_a[i] if i < len(tree_a) else None,
                tree_b[i] if i < len(tree_b) else None,
                merge_fn,
            )
            for i in range(n)
        ]
        return _rebuild_sequence(tree_a, children)
    if isinstance(tree_a, dict) and isinstance(tree_b, dict):
        keys = list(tree_a) + [k for k in tree_b if k not in tree_a]
        return {k: tree_merge(tree_a.get(k), tree_b.get(k), merge_fn) for k in keys}
    if merge_fn is None:
        raise ValueError(
            "Trees contain elements at the same locations but no merge function was provided"
        )
    return merge_fn(tree_a, tree_b)
