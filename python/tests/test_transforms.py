"""Function transforms of lazuli.core over pytrees: grad, value_and_grad, vjp, jvp, vmap,
stop_gradient, custom_function, checkpoint, eval and async_eval (MLX semantics)."""

import gc
import time
import weakref
from collections import namedtuple

import numpy as np
import pytest

import lazuli.core as mx
from numeric import numerical_grad

F64 = mx.float64
RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def arr(x, dtype=F64):
    return mx.array(np.asarray(x), dtype=dtype)


def close(a, b, rtol=1e-6, atol=1e-8):
    return np.allclose(np.array(a), np.array(b), rtol=rtol, atol=atol)


# ---- grad and value_and_grad -----------------------------------------------------------------


def test_grad_analytic():
    x = randn(5)
    g = mx.grad(lambda a: (mx.sin(a) * a * a).sum())(arr(x))
    assert g.dtype == F64
    assert close(g, np.cos(x) * x**2 + 2 * x * np.sin(x))


def test_grad_matches_finite_differences():
    x, w = randn(3, 4), randn(4, 2)

    def loss(a, b):
        return mx.tanh(a @ b).sum() + (a * a).mean()

    gx, gw = mx.grad(loss, argnums=(0, 1))(arr(x), arr(w))
    fx = numerical_grad(lambda v: loss(arr(v), arr(w)).item(), x, 1e-6)
    fw = numerical_grad(lambda v: loss(arr(x), arr(v)).item(), w, 1e-6)
    assert close(gx, fx, rtol=1e-5, atol=1e-7)
    assert close(gw, fw, rtol=1e-5, atol=1e-7)


def test_value_and_grad_scalar_and_aux():
    x = arr([1.0, 2.0, 3.0])

    def fun(a):
        loss = (a * a).sum()
        return loss, {"double": 2 * a, "tag": "aux", "items": [1, 2]}

    (loss, aux), g = mx.value_and_grad(fun)(x)
    assert loss.item() == 14.0
    assert aux["tag"] == "aux" and aux["items"] == [1, 2]
    assert close(aux["double"], [2, 4, 6])
    assert close(g, [2, 4, 6])

    value, g = mx.value_and_grad(lambda a: a * a)(arr(0.5))
    assert value.item() == 0.25 and g.item() == 1.0


def test_argnums():
    fun = lambda x, y: (x * y * y).sum()  # noqa: E731
    x, y = arr([1.0, 2.0]), arr([3.0, 4.0])
    assert close(mx.grad(fun)(x, y), y * y)
    assert close(mx.grad(fun, argnums=1)(x, y), 2 * x * y)
    gx, gy = mx.grad(fun, argnums=(0, 1))(x, y)
    assert close(gx, y * y) and close(gy, 2 * x * y)
    grads = mx.grad(fun, argnums=[1, 0])(x, y)  # sorted, like MLX
    assert isinstance(grads, tuple) and close(grads[0], y * y) and close(grads[1], 2 * x * y)
    assert close(mx.grad(fun, argnums=(1,))(x, y), 2 * x * y)  # one index: not a tuple
    value, (gx, gy) = mx.value_and_grad(fun, (0, 1))(x, y)
    assert value.item() == 9 + 32


def test_argnames():
    fun = lambda x, y, z=None: (x * y * z).sum()  # noqa: E731
    a, b, c = arr(0.5), arr(2.0), arr(4.0)

    grads = mx.grad(fun, argnames="z")(a, b, z=c)
    assert grads[0] is None and list(grads[1]) == ["z"] and grads[1]["z"].item() == 1.0

    grads = mx.grad(fun, argnums=[0, 1], argnames=["z"])(a, b, z=c)
    assert isinstance(grads[0], tuple)
    assert grads[0][0].item() == 8.0 and grads[0][1].item() == 2.0 and grads[1]["z"].item() == 1.0

    value, (pos, kw) = mx.value_and_grad(fun, argnums=0, argnames=["y", "z"])(a, y=b, z=c)
    assert value.item() == 4.0 and pos.item() == 8.0
    assert list(kw) == ["y", "z"] and kw["y"].item() == 2.0 and kw["z"].item() == 1.0

    with pytest.raises(ValueError):
        mx.grad(fun, argnames=["z"])(a, b, c)  # z not passed by keyword
    with pytest.raises(ValueError):
        mx.grad(fun)(x=a, y=b, z=c)  # argnums 0 needs a positional argument


def test_keyword_and_constant_arguments_pass_through():
    fun = lambda x, label, scale=1.0: (x * scale).sum() if label == "hello" else None  # noqa: E731
    g = mx.grad(fun)(arr([1.0, 2.0]), "hello", scale=3.0)
    assert close(g, [3.0, 3.0])
    value, g = mx.value_and_grad(lambda x, y: x)(arr(2.0), "hello")
    assert value.item() == 2.0 and g.item() == 1.0


def test_pytree_dict_argument():
    w, b, x = randn(3, 2), randn(2), randn(4, 3)

    def loss(params, inputs):
        return ((inputs @ params["w"] + params["b"]) ** 2).sum()

    params = {"w": arr(w), "b": arr(b)}
    g = mx.grad(loss)(params, arr(x))
    assert isinstance(g, dict) and list(g) == ["w", "b"]
    r = x @ w + b
    assert close(g["w"], 2 * x.T @ r)
    assert close(g["b"], 2 * r.sum(0))


def test_pytree_list_of_tuples_and_none_leaves():
    layers = [(arr(randn(2, 2)), arr(randn(2))), (arr(randn(2, 2)), None)]
    x = arr(randn(2))

    def loss(ls, v):
        for w, b in ls:
            v = mx.tanh(w @ v + (b if b is not None else 0.0))
        return v.sum()

    g = mx.grad(loss)(layers, x)
    assert isinstance(g, list) and all(isinstance(t, tuple) for t in g)
    assert g[1][1] is None and g[0][0].shape == (2, 2)
    # Check one gradient against finite differences.
    w0 = np.array(layers[0][0])
    fd = numerical_grad(lambda v: loss([(arr(v), layers[0][1]), layers[1]], x).item(), w0, 1e-6)
    assert close(g[0][0], fd, rtol=1e-5, atol=1e-7)


def test_pytree_nested_with_empty_containers():
    fun = lambda p, b: mx.square(p[0]["foo"][2]) * b  # noqa: E731
    value, g = mx.value_and_grad(fun)([{"foo": [[], [], arr(2.0)]}], arr(0.5))
    assert value.item() == 2.0
    assert g[0]["foo"][:2] == [[], []] and g[0]["foo"][2].item() == 2.0


def test_namedtuple_argument():
    Params = namedtuple("Params", "w b")
    g = mx.grad(lambda p: (p.w * p.b).sum())(Params(arr([1.0, 2.0]), arr([3.0, 4.0])))
    assert isinstance(g, Params) and close(g.w, [3, 4]) and close(g.b, [1, 2])


def test_container_subclass_is_seen_by_the_function():
    class Model(dict):
        def __call__(self, x):
            return (self["w"] * x).sum()

    model = Model(w=arr([1.0, 2.0]))
    original = model["w"]
    seen = []

    def loss(m, x):
        seen.append(type(m))
        return m(x)

    g = mx.grad(loss)(model, arr([3.0, 4.0]))
    assert seen == [Model]
    assert type(g) is dict and close(g["w"], [3, 4])
    assert model["w"] is original  # the caller's objects are put back


def test_caller_containers_restored_unless_changed():
    arrs = [arr(1.0)]
    before = id(arrs[0])
    mx.grad(lambda a: a[0])(arrs)
    assert id(arrs[0]) == before

    def loss(model):
        model[1] = arr(2.0)  # the function's own update stays
        return model[0]

    model = [arr(0.0), arr(1.0)]
    mx.grad(loss)(model)
    assert model[1].item() == 2.0


def test_caller_containers_restored_when_the_function_raises():
    params = {"w": arr([1.0, 2.0])}
    original = params["w"]

    def loss(p):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        mx.grad(loss)(params)
    assert params["w"] is original


def test_argument_without_arrays():
    value, g = mx.value_and_grad(lambda p, x: (x * x).sum())({}, arr([1.0, 2.0]))
    assert value.item() == 5.0 and g == {}


def test_same_array_twice_gets_separate_gradients():
    a = arr(2.0)
    g = mx.grad(lambda xs: xs[0] + xs[2])([a, a, a])
    assert g[0].item() == 1.0 and g[1].item() == 0.0 and g[2].item() == 1.0


def test_grad_keeps_dtype():
    for t in [mx.float16, mx.bfloat16, mx.float32, mx.float64]:
        g = mx.grad(lambda x: (x * x).sum())(mx.array([1.0, 2.0], dtype=t))
        assert g.dtype == t


def test_grad_of_grad():
    f = lambda x: x * x * x  # noqa: E731
    x = arr(2.0)
    assert mx.grad(f)(x).item() == pytest.approx(12.0)
    assert mx.grad(mx.grad(f))(x).item() == pytest.approx(12.0)
    assert mx.grad(mx.grad(mx.grad(f)))(x).item() == pytest.approx(6.0)
    # Captured arrays are constants.
    a = arr(5.0)
    assert mx.grad(lambda x: a + x)(a).item() == 1.0
    assert mx.grad(mx.grad(lambda x: a * x * x))(a).item() == 10.0


def test_grad_with_respect_to_grad_inputs():
    # d/dy of (d/dx x^2 y^3) = d/dy (2 x y^3) = 6 x y^2
    f = lambda x, y: x * x * y * y * y  # noqa: E731
    dfdx = mx.grad(f, argnums=0)
    d2 = mx.grad(lambda x, y: dfdx(x, y), argnums=1)(arr(2.0), arr(3.0))
    assert d2.item() == pytest.approx(6 * 2 * 9)


def test_grad_errors():
    with pytest.raises(ValueError):  # non-scalar loss
        mx.grad(lambda x: x * x)(arr([1.0, 2.0]))
    with pytest.raises(ValueError):  # one element is not 0-d
        mx.grad(lambda x: x.sum(keepdims=True))(mx.ones((2, 2)))
    with pytest.raises(ValueError):  # integer input
        mx.grad(lambda x: (x * x).sum())(mx.array([1, 2]))
    with pytest.raises(ValueError):  # not an array
        mx.grad(lambda x: "hello")(arr(2.0))
    with pytest.raises(ValueError):  # grad needs a bare scalar, value_and_grad accepts a tuple
        mx.grad(lambda x: (x.sum(), x))(arr([1.0]))
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda x: [x.sum()])(arr([1.0]))
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda x: ())(arr([1.0]))
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda x: (1.0, x))(arr([1.0]))
    with pytest.raises(ValueError):  # differentiated arguments hold arrays only
        mx.grad(lambda x: x)("hello")
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda p: p["x"] * p["y"])({"x": 0.5, "y": arr(2.0)})
    with pytest.raises(ValueError):
        mx.grad(lambda x: x, argnums=2)(arr(2.0))
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda p: p, (0, 1))({"x": arr(0.5)})
    with pytest.raises(ValueError):
        mx.grad(lambda x: x, argnums=-2)
    with pytest.raises(ValueError):
        mx.grad(lambda x: x, argnums=(0, 0))
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda x: x, tuple())
    with pytest.raises(TypeError):
        mx.value_and_grad(lambda x: x, (None, None))
    with pytest.raises(TypeError):
        mx.grad(42)


def test_function_that_evaluates_intermediates():
    y = arr([2.0, 2.0])

    def fun(x):
        h = x * y
        mx.eval(h)
        if h.sum().item() > 0:  # reads a value while being differentiated
            h = h * h
        mx.async_eval(h)
        return h.sum()

    g = mx.grad(fun)(arr([1.0, 3.0]))
    assert close(g, 2 * np.array([1.0, 3.0]) * 4)

    def fun2(x):
        x = x + arr([1.0, 1.0])
        mx.eval(x)
        return x**2

    _, vjps = mx.vjp(fun2, [arr([1.0])], [arr([1.0, 1.0])])
    assert vjps[0].item() == 8.0


def test_state_updated_inside_grad():
    state = {"total": mx.zeros((2,))}

    def fn(y, x):
        x = y * x
        state["total"] = state["total"] + x
        return x.sum()

    mx.grad(fn)(arr([1.0]), mx.ones((2,), dtype=F64))
    mx.eval(state)
    assert close(state["total"], [1.0, 1.0])


# ---- vjp and jvp -----------------------------------------------------------------------------


def test_vjp():
    out, dout = mx.vjp(lambda x: 2 * x, [arr(1.0)], [arr(2.0)])
    assert out[0].item() == 2.0 and dout[0].item() == 4.0
    _, dout = mx.vjp(lambda x, y: x * y, [arr(4.0), arr(2.0)], [arr(3.0)])
    assert dout[0].item() == 6.0 and dout[1].item() == 12.0
    out, dout = mx.vjp(lambda x, y, z: (x * y, y * z), (arr(2.0), arr(4.0), arr(6.0)), (arr(1.0), arr(3.0)))
    assert isinstance(out, list) and isinstance(dout, list) and len(dout) == 3
    assert [d.item() for d in dout] == [4.0, 2.0 + 18.0, 12.0]


def test_jvp():
    out, dout = mx.jvp(lambda x: 2 * x, [arr(1.0)], [arr(2.0)])
    assert out[0].item() == 2.0 and dout[0].item() == 4.0
    _, dout = mx.jvp(lambda x, y, z: [x * y, y * z], [arr(2.0), arr(4.0), arr(6.0)], [arr(1.0), arr(3.0), arr(1.0)])
    assert [d.item() for d in dout] == [4.0 + 6.0, 4.0 + 18.0]


def test_vjp_jvp_dot_product():
    x, w = randn(3, 4), randn(4, 5)
    f = lambda a, b: mx.exp(mx.tanh(a @ b))  # noqa: E731
    u, vx, vw = randn(3, 5), randn(3, 4), randn(4, 5)
    _, (gx, gw) = mx.vjp(f, [arr(x), arr(w)], [arr(u)])
    _, (t,) = mx.jvp(f, [arr(x), arr(w)], [arr(vx), arr(vw)])
    lhs = (np.array(gx) * vx).sum() + (np.array(gw) * vw).sum()
    assert lhs == pytest.approx((u * np.array(t)).sum(), rel=1e-10)


def test_vjp_jvp_errors():
    x = arr([1.0, 2.0])
    with pytest.raises(ValueError):
        mx.vjp(lambda a: a * 2, [x], [])
    with pytest.raises(ValueError):
        mx.vjp(lambda a: a * 2, [x], [arr([1.0, 2.0, 3.0])])
    with pytest.raises(ValueError):
        mx.jvp(lambda a, b: a * b, [x, x], [x])
    with pytest.raises(TypeError):
        mx.vjp(lambda a: {"y": a}, [x], [x])
    with pytest.raises(TypeError):
        mx.jvp(lambda a: a, x, x)


def test_stop_gradient():
    w, x, cotan = mx.ones((4, 4), dtype=F64), mx.ones((4, 4), dtype=F64), mx.ones((4, 4), dtype=F64)

    def h(w, x):
        y = mx.stop_gradient(2 * x)
        return w @ (3 * y)

    _, (gw, gx) = mx.vjp(h, [w, x], [cotan])
    assert close(gw, 24 * np.ones((4, 4))) and close(gx, np.zeros((4, 4)))
    assert mx.grad(lambda a: (mx.stop_gradient(a) * a).sum())(arr([10.0, 20.0])).tolist() == [10.0, 20.0]
    assert mx.stop_gradient(arr([1.0, 2.0])).tolist() == [1.0, 2.0]


# ---- vmap ------------------------------------------------------------------------------------


def test_vmap_basic_axes():
    x = mx.arange(6, dtype=mx.float32).reshape(3, 2)
    v = mx.array([10.0, 20.0])
    assert mx.vmap(lambda a: a * 2)(x).tolist() == (x * 2).tolist()
    assert mx.vmap(lambda a, b: a + b, in_axes=(0, None))(x, v).tolist() == (x + v).tolist()
    assert mx.vmap(lambda a, b: a + b, in_axes=(1, 0))(x, v).tolist() == (x.T + v[:, None]).tolist()
    assert mx.vmap(lambda a: a.sum(), in_axes=1)(x).tolist() == x.sum(0).tolist()
    assert mx.vmap(lambda a: a.sum(), in_axes=(1,))(x).tolist() == x.sum(0).tolist()
    assert mx.vmap(lambda a: a.sum(), in_axes=-1)(x).tolist() == x.sum(0).tolist()


def test_vmap_in_axes_pytrees():
    tree = {"a": mx.ones((2, 4)), "b": (2 * mx.ones((2, 4)), 3 * mx.ones((4, 2)))}
    fun = lambda t: (t["a"] + t["b"][0]) * t["b"][1].T  # noqa: E731
    out = mx.vmap(fun, in_axes={"a": 0, "b": (0, 1)})(tree)  # a lone argument is matched directly
    assert out.shape == (2, 4) and out.tolist() == [[9.0] * 4] * 2
    out = mx.vmap(fun, in_axes=({"a": 0, "b": (0, 1)},))(tree)  # or as the tuple of arguments
    assert out.tolist() == [[9.0] * 4] * 2
    # None inside a tree: not mapped.
    out = mx.vmap(lambda t: t["x"] + t["c"], in_axes={"x": 0, "c": None})({"x": mx.ones((3, 2)), "c": mx.array([1.0, 2.0])})
    assert out.tolist() == [[2.0, 3.0]] * 3
    # A list argument with per-element axes, next to another argument.
    out = mx.vmap(lambda xs, s: xs[0] * xs[1] + s, in_axes=([0, 1], None))([mx.ones((3, 2)), mx.ones((2, 3)), ], mx.array(1.0))
    assert out.shape == (3, 2)
    with pytest.raises(ValueError):
        mx.vmap(fun, in_axes={"a": 0, "b": ((0, 0), 0)})(tree)
    with pytest.raises(ValueError):
        mx.vmap(fun, in_axes={"a": 0, "c": 0})(tree)


def test_vmap_constants_pass_through():
    x = mx.ones((3, 2))
    out = mx.vmap(lambda a, k, name: a * k if name == "scale" else a, in_axes=(0, None, None))(x, 3.0, "scale")
    assert out.tolist() == [[3.0, 3.0]] * 3
    aux, y = mx.vmap(lambda a: ("label", a.sum()))(x)
    assert aux == "label" and y.tolist() == [2.0] * 3


def test_vmap_out_axes():
    x = mx.arange(6, dtype=mx.float32).reshape(3, 2)
    assert mx.vmap(lambda a: a * 2, out_axes=1)(x).tolist() == (x * 2).T.tolist()
    assert mx.vmap(lambda a: a * 2, out_axes=-1)(x).tolist() == (x * 2).T.tolist()
    y, s = mx.vmap(lambda a: (a * 2, a.sum()), out_axes=(1, 0))(x)
    assert y.shape == (2, 3) and s.tolist() == x.sum(1).tolist()
    d = mx.vmap(lambda a: {"y": a * 2, "z": a}, out_axes={"y": 1, "z": 0})(x)
    assert d["y"].shape == (2, 3) and d["z"].shape == (3, 2)
    # An output that does not depend on the mapped inputs: repeated, or kept whole with None.
    c = mx.array([5.0, 6.0])
    rep = mx.vmap(lambda a: c)(x)
    assert rep.tolist() == [[5.0, 6.0]] * 3
    kept, mapped = mx.vmap(lambda a: (c * 2, a), out_axes=(None, 0))(x)
    assert kept.tolist() == [10.0, 12.0] and mapped.shape == (3, 2)
    with pytest.raises(ValueError):
        mx.vmap(lambda a: a * 2, out_axes=(None,))(x)
    with pytest.raises(ValueError):
        mx.vmap(lambda a: a, out_axes=2)(mx.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        mx.vmap(lambda a: {"y": a, "z": a}, out_axes={"y": 0, "w": 1})(x)
    with pytest.raises(ValueError):
        mx.vmap(lambda a: {"y": a, "z": a}, out_axes=(0, 1))(x)


def test_vmap_errors():
    with pytest.raises(ValueError):
        mx.vmap(mx.exp)(mx.array(1.0))  # 0-d
    with pytest.raises(ValueError):
        mx.vmap(mx.exp)("hello")
    with pytest.raises(ValueError):
        mx.vmap(mx.exp, in_axes="hello")(mx.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        mx.vmap(mx.exp, in_axes=2)(mx.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        mx.vmap(mx.exp, out_axes="hello")(mx.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        mx.vmap(lambda x, y: x + y)(mx.ones((10, 1)), mx.ones((5, 1)))
    with pytest.raises(ValueError):
        mx.vmap(lambda a, b: a, in_axes=(None, None))(mx.ones(2), mx.ones(2))
    with pytest.raises(ValueError):
        mx.vmap(lambda a, b: a, in_axes=(0, 0, 0))(mx.ones(2), mx.ones(2))
    with pytest.raises(TypeError):
        mx.vmap(lambda a, k=1: a)(mx.ones(2), k=mx.ones(2))


def test_vmap_nested_and_with_grad():
    x = arr(randn(3, 4))
    f = lambda v: (v * v * v).sum()  # noqa: E731
    assert close(mx.vmap(mx.grad(f))(x), 3 * np.array(x) ** 2)
    assert close(mx.vmap(mx.vmap(lambda s: s * s))(x), np.array(x) ** 2)
    a = arr(randn(2, 3, 4))
    assert close(mx.vmap(mx.vmap(mx.sum))(a), np.array(a).sum(-1))
    # grad of a function that uses vmap
    g = mx.grad(lambda m: mx.vmap(lambda r: mx.sin(r).sum())(m).sum())(x)
    assert close(g, np.cos(np.array(x)))
    # per-example gradients
    w = arr(randn(4))
    per_example = mx.vmap(mx.grad(lambda w, r: (w * r).sum() ** 2), in_axes=(None, 0))(w, x)
    expected = 2 * (np.array(x) @ np.array(w))[:, None] * np.array(x)
    assert close(per_example, expected)


# ---- custom_function -------------------------------------------------------------------------


def test_custom_function_without_rules_is_the_function():
    my_exp = mx.custom_function(mx.exp)
    one = arr(1.0)
    assert close(mx.grad(my_exp)(one), np.e)
    (ex,), (dex,) = mx.jvp(my_exp, [one], [one])
    assert close(dex, np.e) and close(ex, np.e)
    assert close(mx.vmap(my_exp)(mx.ones(10, dtype=F64)), np.e * np.ones(10))


def test_custom_function_rules_are_used():
    my_exp = mx.custom_function(mx.exp)
    one = arr(1.0)
    seen = {}

    @my_exp.vjp
    def my_exp_vjp(x, dx, ex):
        seen["vjp"] = (x, dx, ex)
        return mx.ones_like(x) * 42

    assert my_exp_vjp is my_exp  # the decorator returns the custom_function
    assert mx.grad(my_exp)(one).item() == 42.0
    assert [a.item() for a in seen["vjp"]] == [1.0, 1.0, pytest.approx(np.e)]
    # The other transforms still use the defaults.
    (ex,), (dex,) = mx.jvp(my_exp, [one], [one])
    assert close(dex, np.e)
    assert close(mx.vmap(my_exp)(mx.ones(10, dtype=F64)), np.e * np.ones(10))

    @my_exp.jvp
    def my_exp_jvp(x, dx):
        return mx.ones_like(x) * 7 * dx

    @my_exp.vmap
    def my_exp_vmap(x, axis):
        seen["vmap"] = (x.shape, axis)
        return mx.ones_like(x) * 3, axis

    assert mx.grad(my_exp)(one).item() == 42.0
    (ex,), (dex,) = mx.jvp(my_exp, [one], [arr(2.0)])
    assert dex.item() == 14.0 and close(ex, np.e)
    assert mx.vmap(my_exp)(mx.ones(10)).tolist() == [3.0] * 10
    assert seen["vmap"] == ((10,), 0)
    assert mx.vmap(my_exp, in_axes=1)(mx.ones((2, 5))).shape == (5, 2)
    # The graph holds the rules, and seen holds unevaluated arrays of that graph: break the
    # cycle, which the garbage collector cannot see through the graph.
    seen.clear()


def test_custom_function_several_arguments():
    @mx.custom_function
    def f(x, y):
        return mx.sin(x) * y

    received = {}

    @f.vjp
    def f_vjp(primals, cotangent, output):
        x, y = primals
        received["output"] = output
        return cotangent * mx.cos(x) * y, cotangent * mx.sin(x)

    @f.jvp
    def f_jvp(primals, tangents):
        x, y = primals
        dx, dy = tangents
        received["tangents"] = (dx is None, dy is None)
        out = mx.zeros_like(x)
        if dx is not None:
            out = out + dx * mx.cos(x) * y
        if dy is not None:
            out = out + dy * mx.sin(x)
        return out

    @f.vmap
    def f_vmap(inputs, axes):
        x, y = inputs
        ax, ay = axes
        received["axes"] = (ax, ay)
        if ay is None:
            return mx.sin(x) * y, ax
        if ax is None:
            return mx.sin(x) * y, ay
        return mx.sin(x) * mx.moveaxis(y, ay, ax), ax

    x, y = arr(randn(3)), arr(randn(3))
    gx, gy = mx.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))(x, y)
    assert close(gx, np.cos(np.array(x)) * np.array(y)) and close(gy, np.sin(np.array(x)))
    assert close(received["output"], np.sin(np.array(x)) * np.array(y))

    # jvp with respect to x only: y has no tangent.
    _, (t,) = mx.jvp(lambda a: f(a, y), [x], [mx.ones_like(x)])
    assert received["tangents"] == (False, True)
    assert close(t, np.cos(np.array(x)) * np.array(y))

    out = mx.vmap(f, in_axes=(0, None))(arr(randn(4, 3)), y)
    assert out.shape == (4, 3) and received["axes"] == (0, None)


def test_custom_function_pytrees_and_kwargs():
    @mx.custom_function
    def double(params, scale=1.0):
        return {"out": 2 * params["x"] * params["y"] * scale}

    p = {"x": mx.ones(2, dtype=F64), "y": mx.ones(2, dtype=F64)}
    g = mx.grad(lambda q: double(q)["out"].sum())(p)
    assert close(g["x"], [2, 2]) and close(g["y"], [2, 2])

    kwargs_seen = []

    @double.vjp
    def double_vjp(primals, cotangents, outputs, scale=1.0):
        kwargs_seen.append(scale)
        assert set(cotangents) == {"out"} and set(outputs) == {"out"}
        return {"x": mx.zeros_like(primals["x"]), "y": mx.ones_like(primals["y"])}

    g = mx.grad(lambda q: double(q, scale=5.0)["out"].sum())(p)
    assert close(g["x"], [0, 0]) and close(g["y"], [1, 1]) and kwargs_seen == [5.0]

    def outer(a, b):
        return double({"x": a, "y": b})["out"]

    inputs = [arr(randn(2)), arr(randn(2))]
    tans = [arr(randn(2)), arr(randn(2))]
    out1, dout1 = mx.jvp(outer, inputs, tans)

    @double.jvp
    def double_jvp(primals, tangents):
        return {"out": 2 * primals["x"] * tangents["y"] + 2 * primals["y"] * tangents["x"] + 1}

    out2, dout2 = mx.jvp(outer, inputs, tans)
    assert close(out1[0], out2[0]) and close(dout1[0] + 1, dout2[0])


def test_custom_function_rule_errors():
    @mx.custom_function
    def f(x, y):
        return x * y

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return cotangent  # one cotangent for two arguments

    with pytest.raises(ValueError):
        mx.grad(lambda a: f(a, a).sum())(arr([1.0]))


def test_custom_function_under_nested_transforms():
    @mx.custom_function
    def square(x):
        return x * x

    @square.vjp
    def square_vjp(x, cot, out):
        return 2 * x * cot

    x = arr(randn(4, 3))
    g = mx.vmap(mx.grad(lambda r: square(r).sum()))(x)
    assert close(g, 2 * np.array(x))
    h = mx.grad(lambda v: mx.grad(lambda u: square(u).sum())(v).sum())(arr(randn(3)))
    assert close(h, 2 * np.ones(3))


# ---- checkpoint ------------------------------------------------------------------------------


def test_checkpoint_equals_plain_grad():
    calls = []

    def block(w, x):
        calls.append(1)
        return mx.tanh(x @ w) * mx.sin(x @ w)

    w, x = arr(randn(4, 4)), arr(randn(3, 4))
    loss = lambda f: lambda w, x: f(w, f(w, x)).sum()  # noqa: E731
    plain = mx.value_and_grad(loss(block), argnums=(0, 1))(w, x)
    calls.clear()
    checked = mx.value_and_grad(loss(mx.checkpoint(block)), argnums=(0, 1))(w, x)
    assert close(plain[0], checked[0])
    assert close(plain[1][0], checked[1][0]) and close(plain[1][1], checked[1][1])
    assert len(calls) == 4  # each block runs again in the backward pass


def test_checkpoint_pytrees_and_metadata():
    def block(params, x, *, scale):
        """A block."""
        return {"y": params["w"] * x * scale, "name": "block"}, 3

    f = mx.checkpoint(block)
    assert f.__name__ == "block" and f.__doc__ == "A block."
    out, three = f({"w": arr(2.0)}, arr(3.0), scale=2.0)
    assert out["y"].item() == 12.0 and out["name"] == "block" and three == 3
    g = mx.grad(lambda p: f(p, arr(3.0), scale=2.0)[0]["y"])({"w": arr(2.0)})
    assert g["w"].item() == 6.0


# ---- eval and async_eval ---------------------------------------------------------------------


def test_eval_pytrees():
    a = mx.ones((2,)) + 1
    b = mx.ones((3,)) * 3
    c = mx.zeros((1,)) - 1
    assert mx.eval({"a": [a, (b, None)], "n": 3, "s": "text"}, c) is None
    assert a.tolist() == [2.0, 2.0] and b.tolist() == [3.0] * 3 and c.tolist() == [-1.0]
    mx.eval()
    mx.eval(None, 1.5)


def test_async_eval_then_read():
    x = mx.arange(1000, dtype=mx.float32)
    y = {"s": (x * 2).sum(), "l": [mx.exp(x[:3] * 0)]}
    assert mx.async_eval(y) is None
    z = y["s"] + 1
    mx.async_eval(z)
    assert z.item() == 999000 + 1
    assert y["l"][0].tolist() == [1.0, 1.0, 1.0]


# ---- wrapped functions -----------------------------------------------------------------------


def test_wrapped_function_metadata():
    def my_loss(x):
        """The loss."""
        return (x * x).sum()

    for transform in [mx.grad, mx.value_and_grad, mx.vmap, mx.checkpoint]:
        f = transform(my_loss)
        assert f.__name__ == "my_loss"
        assert f.__doc__ == "The loss."
        assert f.__qualname__ == my_loss.__qualname__
        assert f.__module__ == my_loss.__module__
        assert f.__wrapped__ is my_loss
    assert mx.grad(lambda x: x).__name__ == "<lambda>"
    assert mx.grad(mx.exp).__name__ == "exp"


@pytest.mark.parametrize("transform", [mx.grad, mx.value_and_grad, mx.vmap, mx.checkpoint, mx.custom_function])
def test_reference_cycles_are_collected(transform):
    def outer():
        d = {}

        def f(x):
            return d["x"]

        d["f"] = transform(f)
        d["x"] = mx.ones((1000,))
        return weakref.ref(d["x"])

    refs = [outer() for _ in range(3)]
    gc.collect()
    assert all(r() is None for r in refs)


def test_custom_rules_freed_after_evaluation():
    # The graph keeps the rules alive; evaluation frees that graph on a worker thread, and
    # the Python references go back on the main thread.
    def make():
        @mx.custom_function
        def f(x):
            return x * 2

        def rule(primals, cotangent, output):
            return cotangent * 2

        f.vjp(rule)
        y = f(mx.ones((4,)))
        mx.eval(y)
        return weakref.ref(rule), y

    refs = []
    for _ in range(20):
        r, y = make()
        refs.append(r)
        del y
    deadline = time.time() + 5
    while any(r() is not None for r in refs) and time.time() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert all(r() is None for r in refs)


def test_custom_vjp_may_evaluate_its_outputs_inside_the_rule():
    # Evaluating inside a rule used to release graph the tape walk still read.
    @mx.custom_function
    def f(x):
        return mx.exp(x)

    @f.vjp
    def f_vjp(x, dx, ex):
        assert ex.item() == pytest.approx(np.e)  # evaluates the output now
        return dx * ex * 2

    for _ in range(50):
        assert mx.grad(f)(mx.array(1.0)).item() == pytest.approx(2 * np.e)


def test_async_eval_inside_a_traced_function():
    def loss(w):
        h = mx.tanh(w)
        mx.async_eval(h)
        return mx.sum(h * h)

    w = mx.array([0.1, -0.4, 0.7])
    for _ in range(200):
        g = mx.grad(loss)(w)
    t = np.tanh(np.array(w))
    np.testing.assert_allclose(np.array(g), 2 * t * (1 - t * t), rtol=1e-5)


def test_complex_abs_derivatives_follow_the_multiply_convention():
    # Cotangents of complex inputs follow JAX's convention throughout: d|z| is conj(z)/|z|,
    # which is what makes the gradient of a real function of fft(x) come out real and right.
    z = mx.array([3 + 4j, 1 - 1j])
    np.testing.assert_allclose(np.array(mx.grad(lambda z: mx.abs(z).sum())(z)),
                               np.conj(np.array(z)) / np.abs(np.array(z)), rtol=1e-6)
    _, (t,) = mx.jvp(lambda z: mx.abs(z), [z], [mx.array([1 + 0j, 1j])])
    assert t.dtype == mx.float32
    np.testing.assert_allclose(np.array(t), [0.6, -np.sqrt(0.5)], rtol=1e-6)
    x = mx.array([0.5, -1.0, 2.0, 0.3])
    # Parseval: sum |fft(x)|^2 = n sum x^2.
    np.testing.assert_allclose(np.array(mx.grad(lambda x: (mx.abs(mx.fft.fft(x)) ** 2).sum())(x)),
                               8 * np.array(x), rtol=1e-5)
