"""lazuli.utils: tree_map, tree_map_with_path, tree_flatten, tree_unflatten, tree_reduce,
tree_merge (mlx.utils semantics)."""

from collections import namedtuple

import pytest

import lazuli.core as mx
from lazuli.utils import (
    tree_flatten,
    tree_map,
    tree_map_with_path,
    tree_merge,
    tree_reduce,
    tree_unflatten,
)

Pair = namedtuple("Pair", "first second")

MODEL = {
    "layers": [{"weight": 1, "bias": (2, 3)}, {"weight": 4, "bias": None}],
    "head": {"scale": 5},
}


# ---- tree_flatten ----------------------------------------------------------------------------


def test_flatten_paths():
    assert tree_flatten(MODEL) == [
        ("layers.0.weight", 1),
        ("layers.0.bias.0", 2),
        ("layers.0.bias.1", 3),
        ("layers.1.weight", 4),
        ("layers.1.bias", None),
        ("head.scale", 5),
    ]


def test_flatten_prefix_drops_first_character():
    assert tree_flatten([[[0]]], prefix=".hello") == [("hello.0.0.0", 0)]
    assert tree_flatten({"a": 1}, prefix="m") == [(".a", 1)]
    assert tree_flatten({"a": {"b": 1}}, prefix=".model") == [("model.a.b", 1)]


def test_flatten_leaf_root_and_empty_containers():
    assert tree_flatten(5) == [("", 5)]
    assert tree_flatten(5, prefix=".x") == [("x", 5)]
    assert tree_flatten({"a": [], "b": {}, "c": ()}) == []


def test_flatten_is_leaf():
    flat = tree_flatten(MODEL, is_leaf=lambda x: isinstance(x, tuple))
    assert ("layers.0.bias", (2, 3)) in flat
    flat = tree_flatten(MODEL, is_leaf=lambda x: isinstance(x, dict) and "scale" in x)
    assert flat[-1] == ("head", {"scale": 5})
    assert tree_flatten(MODEL, is_leaf=lambda x: x is MODEL) == [("", MODEL)]


def test_flatten_destination():
    d = tree_flatten({"a": {"b": 1}, "c": [2]}, destination={})
    assert d == {"a.b": 1, "c.0": 2}
    existing = [("z", 0)]
    out = tree_flatten([1, 2], destination=existing)
    assert out is existing and out == [("z", 0), ("0", 1), ("1", 2)]


def test_flatten_arrays_and_namedtuples():
    w = mx.ones((2, 2))
    flat = tree_flatten({"p": Pair(w, [w])})
    assert [k for k, _ in flat] == ["p.0", "p.1.0"]
    assert all(v is w for _, v in flat)


# ---- tree_unflatten --------------------------------------------------------------------------


def test_unflatten_round_trip():
    tree = {"layers": [{"weight": 1, "bias": [2, 3]}, {"weight": 4, "bias": None}], "x": 5}
    assert tree_unflatten(tree_flatten(tree)) == tree
    tree = [{"a": 1, "b": 2}, "c"]
    assert tree_unflatten(tree_flatten(tree)) == tree


def test_unflatten_tuples_come_back_as_lists():
    assert tree_unflatten(tree_flatten(MODEL))["layers"][0]["bias"] == [2, 3]


def test_unflatten_from_dict_and_lists():
    assert tree_unflatten({"a.0": 1, "a.1": 2, "b.c": 3}) == {"a": [1, 2], "b": {"c": 3}}
    assert tree_unflatten([("0", "x"), ("1", "y")]) == ["x", "y"]
    assert tree_unflatten([("hello.world", 42)]) == {"hello": {"world": 42}}


def test_unflatten_list_order_and_gaps():
    assert tree_unflatten([("a.1", "one"), ("a.0", "zero")]) == {"a": ["zero", "one"]}
    assert tree_unflatten([("a.0", 1), ("a.2", 2)]) == {"a": [1, {}, 2]}
    many = [(f"l.{i}", i) for i in range(12)]
    assert tree_unflatten(many) == {"l": list(range(12))}  # numeric, not lexicographic


def test_unflatten_special_cases():
    assert tree_unflatten([]) == []
    assert tree_unflatten([("", 7)]) == 7
    assert tree_unflatten([("0", 1), ("a", 2)]) == {"0": 1, "a": 2}
    with pytest.raises(ValueError):
        tree_unflatten([("a", 1), ("a", 2)])


def test_unflatten_arrays_by_parameter_name():
    w, b = mx.ones((3, 2)), mx.zeros((3,))
    tree = tree_unflatten([("layers.0.weight", w), ("layers.0.bias", b)])
    assert tree["layers"][0]["weight"] is w and tree["layers"][0]["bias"] is b


# ---- tree_map and tree_map_with_path -----------------------------------------------------------


def test_map_basic_and_types():
    assert tree_map(lambda x: x + 1, {"a": 0, "b": 1, "c": 2}) == {"a": 1, "b": 2, "c": 3}
    out = tree_map(lambda x: x * 10, {"t": (1, 2), "l": [3], "n": Pair(4, (5,))})
    assert out == {"t": (10, 20), "l": [30], "n": Pair(40, (50,))}
    assert isinstance(out["t"], tuple) and isinstance(out["n"], Pair)


def test_map_container_subclasses():
    class MyList(list):
        pass

    class MyDict(dict):
        pass

    assert type(tree_map(lambda x: x, MyList([1, 2]))) is MyList
    assert type(tree_map(lambda x: x, MyDict(a=1))) is dict


def test_map_leaves_include_none():
    assert tree_map(lambda x: x is None, [None, 1]) == [True, False]
    assert tree_map(lambda x: 1, None) == 1


def test_map_with_rest_trees():
    out = tree_map(lambda x, y: x + y, [1, {"a": 2}], [10, {"a": 20, "extra": 5}])
    assert out == [11, {"a": 22}]
    # A leaf of `tree` receives the whole subtree of the other trees.
    assert tree_map(lambda x, y: (x, y), [1, 2], [[3], 4]) == [(1, [3]), (2, 4)]
    with pytest.raises(KeyError):
        tree_map(lambda x, y: x + y, {"a": 1}, {"b": 2})


def test_map_is_leaf():
    out = tree_map(len, [(1, 2), [(3,)]], is_leaf=lambda x: isinstance(x, tuple))
    assert out == [2, [1]]


def test_map_arrays():
    params = {"w": mx.ones((2, 3)), "b": [mx.zeros((3,))]}
    doubled = tree_map(lambda p: 2 * p, params)
    assert doubled["w"].tolist() == [[2.0] * 3] * 2
    assert doubled["b"][0].shape == (3,)
    summed = tree_map(lambda a, b: a + b, params, doubled)
    assert summed["w"].tolist() == [[3.0] * 3] * 2


def test_map_with_path():
    paths = tree_map_with_path(lambda p, _: p, MODEL)
    assert paths["layers"][0] == {"weight": "layers.0.weight", "bias": ("layers.0.bias.0", "layers.0.bias.1")}
    assert paths["head"]["scale"] == "head.scale"
    prefixed = tree_map_with_path(lambda p, _: p, {"w": [0]}, path="model")
    assert prefixed == {"w": ["model.w.0"]}
    assert tree_map_with_path(lambda p, x: (p, x), 5) == (None, 5)


def test_map_with_path_rest_and_is_leaf():
    out = tree_map_with_path(lambda p, x, y: (p, x + y), [1, {"a": 2}], [3, {"a": 4}])
    assert out == [("0", 4), {"a": ("1.a", 6)}]
    out = tree_map_with_path(lambda p, x: p, {"a": (1, 2)}, is_leaf=lambda x: isinstance(x, tuple))
    assert out == {"a": "a"}


# ---- tree_reduce -----------------------------------------------------------------------------


def test_reduce():
    tree = {"a": [1, 2, 3], "b": (4, {"c": 5})}
    assert tree_reduce(lambda acc, x: acc + x, tree, 0) == 15
    assert tree_reduce(lambda acc, x: acc + x, tree) == 15  # first leaf starts
    assert tree_reduce(lambda acc, x: acc * x, tree, 1) == 120
    assert tree_reduce(lambda acc, x: acc + x, {"a": []}) is None
    assert tree_reduce(lambda acc, x: acc + x, 5, 1) == 6
    assert tree_reduce(lambda acc, x: acc + x, 5) == 5


def test_reduce_is_leaf_and_arrays():
    out = tree_reduce(lambda acc, x: acc + [x], {"a": [(1, 2)], "b": 3}, [], is_leaf=lambda x: isinstance(x, tuple))
    assert out == [(1, 2), 3]
    params = {"w": mx.ones((2, 3)), "b": [mx.ones((3,))]}
    assert tree_reduce(lambda acc, p: acc + p.size, params, 0) == 9
    total = tree_reduce(lambda acc, p: acc + p.sum(), params, mx.array(0.0))
    assert total.item() == 9.0


# ---- tree_merge ------------------------------------------------------------------------------


def test_merge_dicts():
    assert tree_merge({"a": 0}, {"b": 1}) == {"a": 0, "b": 1}
    merged = tree_merge({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}, "e": 4})
    assert merged == {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    with pytest.raises(ValueError):
        tree_merge({"a": 0}, {"a": 0})
    with pytest.raises(ValueError):
        tree_merge({"a": 0, "b": 1}, {"a": 0})


def test_merge_sequences_and_none():
    assert tree_merge([1, None, {"a": 1}], [None, 2, {"b": 2}]) == [1, 2, {"a": 1, "b": 2}]
    assert tree_merge([1], [None, 2]) == [1, 2]
    assert tree_merge((1, None), (None, 2)) == (1, 2)
    assert tree_merge([1, None], (None, 2)) == [1, 2]
    assert tree_merge(None, {"a": 2}) == {"a": 2}
    assert tree_merge({"a": 2}, None) == {"a": 2}
    assert tree_merge({}, {"a": 1}) == {"a": 1}
    assert tree_merge(1, None) == 1


def test_merge_conflicts():
    with pytest.raises(ValueError):
        tree_merge(1, 2)
    with pytest.raises(ValueError):
        tree_merge([1], {"a": 2})
    assert tree_merge({"a": 1}, {"a": 2}, merge_fn=lambda a, b: a + b) == {"a": 3}
    # merge_fn is only asked where both trees have something.
    calls = []
    out = tree_merge({"a": 1, "b": None}, {"a": None, "b": 3}, merge_fn=lambda a, b: calls.append((a, b)))
    assert out == {"a": 1, "b": 3} and calls == []


def test_merge_parameter_trees():
    first = {"weight": mx.ones((2, 2)), "bias": mx.zeros((2,))}
    second = {"weight": 2 * mx.ones((2, 2)), "bias": mx.ones((2,))}
    merged = tree_merge({"layers": [first]}, {"layers": [None, second]})
    flat = tree_flatten(merged)
    assert [k for k, _ in flat] == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert flat[0][1] is first["weight"] and flat[3][1] is second["bias"]


# ---- agreement with mlx.utils, where installed -------------------------------------------------

TREES = [
    MODEL,
    [{"a": 1, "b": 2}, "c"],
    {"x": [[], [1, (2, None)]], "y": {"z": {}}},
    [[[0]]],
    7,
]


@pytest.mark.parametrize("tree", TREES)
def test_agrees_with_mlx(tree):
    mlx_utils = pytest.importorskip("mlx.utils")
    assert tree_flatten(tree) == mlx_utils.tree_flatten(tree)
    assert tree_flatten(tree, prefix=".p") == mlx_utils.tree_flatten(tree, prefix=".p")
    flat = tree_flatten(tree)
    assert tree_unflatten(flat) == mlx_utils.tree_unflatten(flat)
    f = lambda x: None if x is None else str(x)  # noqa: E731
    assert tree_map(f, tree) == mlx_utils.tree_map(f, tree)
    g = lambda p, x: (p, x)  # noqa: E731
    assert tree_map_with_path(g, tree) == mlx_utils.tree_map_with_path(g, tree)
    h = lambda acc, x: acc + [x]  # noqa: E731
    assert tree_reduce(h, tree, []) == mlx_utils.tree_reduce(h, tree, [])
