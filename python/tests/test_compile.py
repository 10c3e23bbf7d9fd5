"""mx.compile: compiled results against eager ones, retracing rules, captured state,
transforms through compiled functions, and the switches that turn compilation off."""
import os
import subprocess
import sys
from collections import namedtuple
from functools import partial

import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
import lazuli.optimizers as optim


def chain(x):
    return mx.tanh(x * 2 + 1) * mx.exp(-x) + x


def close(a, b, tol=1e-6):
    a, b = np.array(a), np.array(b)
    assert a.shape == b.shape, f"shape {a.shape}, expected {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16, mx.bfloat16, mx.int32])
def test_chain_matches_eager(dtype):
    x = (mx.arange(24) - 12).reshape(4, 6).astype(dtype)
    f = mx.compile(lambda v: v * 2 + v * v - 3)
    close(f(x).astype(mx.float64), (x * 2 + x * x - 3).astype(mx.float64))
    assert f(x).dtype == dtype
    if mx.issubdtype(dtype, mx.floating):
        tol = 1e-6 if dtype in (mx.float32, mx.float64) else 2e-2
        close(mx.compile(chain)(x).astype(mx.float32), chain(x).astype(mx.float32), tol)


def test_fused_unary_steps_equal_eager_bit_for_bit_on_strided_inputs():
    # The eager Unary kernel runs a transcendental's vector code on contiguous inputs and
    # the scalar functor on others; the two differ by an ulp at some values (these). The
    # fused kernel ran the vector code on every tile, so it differed from eager on views.
    values = np.float32([0.3147003650665283, 1.0847852230072021, 0.37719064950942993, -0.3963145911693573] * 4)
    view = mx.array(np.repeat(values, 2))[::2]

    def f(x):
        return [mx.exp(x) * 2, mx.sinh(x) + 1, mx.arctan(x) - 1, mx.expm1(x) * x]

    for got, want in zip(mx.compile(f)(view), f(view)):
        np.testing.assert_array_equal(np.array(got), np.array(want))


def test_keeps_name_and_qualname():
    def my_function(x):
        return x + 1

    f = mx.compile(my_function)
    assert f.__name__ == "my_function"
    assert f.__qualname__ == my_function.__qualname__
    assert f.__doc__ == my_function.__doc__


def test_retraces_on_new_shapes_dtypes_constants_and_structure():
    calls = []

    def f(x, scale, flag=True):
        calls.append(1)
        return x * scale if flag else x

    g = mx.compile(f)
    x = mx.ones((3,))
    g(x, 2.0), g(x, 2.0)
    assert len(calls) == 1
    g(mx.ones((4,)), 2.0)
    assert len(calls) == 2
    g(x.astype(mx.float16), 2.0)
    assert len(calls) == 3
    close(g(x, 3.0), [3, 3, 3])  # a new constant traces again
    assert len(calls) == 4
    close(g(x, 3.0, flag=False), [1, 1, 1])
    assert len(calls) == 5


def test_float_constants_trace_by_value_and_sign():
    calls = []

    def divide(x, c):
        calls.append(1)
        return x / c

    f = mx.compile(divide)
    x = mx.array([1.0, -2.0])
    close(f(x, 0.0), [np.inf, -np.inf])
    close(f(x, -0.0), [-np.inf, np.inf])  # -0.0 == 0.0 in Python: it reused the 0.0 trace
    assert len(calls) == 2
    f(x, float("nan")), f(x, float("nan"))  # every NaN is one constant: no trace per call
    assert len(calls) == 3


def test_shapeless_serves_every_shape_of_a_rank():
    calls = []

    @partial(mx.compile, shapeless=True)
    def softmax(x):
        calls.append(1)
        e = mx.exp(x - mx.max(x, axis=-1, keepdims=True))
        return e / mx.sum(e, axis=-1, keepdims=True)

    for n in (3, 5, 17):
        x = mx.arange(2 * n, dtype=mx.float32).reshape(2, n) / 7
        close(softmax(x), mx.softmax(x, axis=-1))
    assert len(calls) == 1
    close(softmax(mx.ones((2, 1))), mx.ones((2, 1)))  # axes of size 1 (or 0) trace again
    assert len(calls) == 2


# Tracing decides broadcasting by which axes have size 1: a shapeless trace made where an
# axis had size 1 must not serve calls where it has another size, and back.
def test_shapeless_traces_again_where_size_one_axes_change():
    # broadcast_to the shape an array already has adds no node, so the trace at (1, 3) has
    # none: reused at (4, 3), it returned one row.
    f = mx.compile(lambda x: mx.broadcast_to(mx.take(x, mx.array([0]), axis=0), x.shape), shapeless=True)
    for rows in (1, 4, 1):
        x = mx.arange(rows * 3, dtype=mx.float32).reshape(rows, 3)
        close(f(x), mx.broadcast_to(x[:1], (rows, 3)))

    # A fused group's outputs share the root's shape: exp(x) and exp(x) + y are one group
    # when y is (2, 1) like x, and exp(x) kept shape (2, 3) once y was (2, 3).
    g = mx.compile(lambda x, y: [mx.exp(x), mx.exp(x) + y], shapeless=True)
    x = mx.array([[0.5], [1.0]])
    for cols in (1, 3):
        y = mx.ones((2, cols))
        got = g(x, y)
        assert got[0].shape == (2, 1) and got[1].shape == (2, cols)
        close(got[0], mx.exp(x))
        close(got[1], mx.exp(x) + y)

    # matmul broadcasts batch axes with nodes that a trace at equal batch sizes lacks; the
    # trace reused at (1, 2, 3) @ (5, 3, 4) read past its first operand.
    h = mx.compile(lambda a, b: a @ b, shapeless=True)
    a = mx.arange(6, dtype=mx.float32).reshape(1, 2, 3)
    close(h(a, mx.ones((1, 3, 4))), a @ mx.ones((1, 3, 4)))
    b = mx.arange(60, dtype=mx.float32).reshape(5, 3, 4)
    close(h(a, b), a @ b)

    # A reshape fixes shapes: a new shape traces again instead of returning stale results.
    flat = mx.compile(lambda x: x.reshape(-1) * 2, shapeless=True)
    assert flat(mx.ones((2, 3))).shape == (6,)
    assert flat(mx.ones((4, 5))).shape == (20,)


def test_trees_in_and_out():
    Pair = namedtuple("Pair", ["a", "b"])

    @mx.compile
    def f(d, items, pair):
        return {"sum": d["x"] + items[0], "list": [items[1] * 2, None, 3]}, Pair(pair.a - pair.b, pair.b)

    out, pair = f({"x": mx.array(1.0)}, [mx.array(2.0), mx.array(3.0)], Pair(mx.array(5.0), mx.array(4.0)))
    close(out["sum"], 3.0)
    close(out["list"][0], 6.0)
    assert out["list"][1] is None and out["list"][2] == 3
    assert isinstance(pair, Pair)
    close(pair.a, 1.0)


def test_kwargs_and_captured_arrays_are_constants():
    w = mx.array([1.0, 2.0])
    f = mx.compile(lambda x, *, bias: x * w + bias)
    close(f(mx.ones((2,)), bias=mx.array(1.0)), [2.0, 3.0])


def test_compiled_training_step_equals_eager():
    def make():
        mx.random.seed(3)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        return model, optim.Adam(learning_rate=1e-2)

    x = mx.random.normal((16, 4), key=mx.random.key(1))
    y = mx.random.randint(0, 3, (16,), key=mx.random.key(2))

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    eager_model, eager_opt = make()
    eager_grad = nn.value_and_grad(eager_model, loss_fn)
    eager_losses = []
    for _ in range(5):
        loss, grads = eager_grad(eager_model, x, y)
        eager_opt.update(eager_model, grads)
        mx.eval(eager_model.parameters(), eager_opt.state)
        eager_losses.append(loss.item())

    model, opt = make()
    state = [model.state, opt.state]
    value_and_grad = nn.value_and_grad(model, loss_fn)

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = value_and_grad(model, x, y)
        opt.update(model, grads)
        return loss

    losses = []
    for _ in range(5):
        loss = step(x, y)
        mx.eval(state)
        losses.append(loss.item())
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for (ka, a), (kb, b) in zip(sorted(tree_items(model.parameters())), sorted(tree_items(eager_model.parameters()))):
        assert ka == kb
        close(a, b, 1e-5)


def test_training_step_of_conv_and_batch_norm_matches_eager():
    # A convolution keeps tuples of ints (stride, padding) in its module dict: state that
    # holds no arrays in a tuple is fine. BatchNorm's running statistics are state the step
    # writes.
    def make():
        mx.random.seed(3)
        model = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.BatchNorm(3))
        return model, optim.SGD(learning_rate=0.1, momentum=0.9)

    def loss_fn(model, x):
        return mx.mean(model(x) ** 2)

    x = mx.random.normal((2, 5, 5, 2), key=mx.random.key(4))
    runs = []
    for compiled in (False, True):
        model, opt = make()
        state = [model.state, opt.state]
        value_and_grad = nn.value_and_grad(model, loss_fn)

        def step(x):
            loss, grads = value_and_grad(model, x)
            opt.update(model, grads)
            return loss

        if compiled:
            step = mx.compile(step, inputs=state, outputs=state)
        losses = []
        for _ in range(3):
            losses.append(step(x).item())
            mx.eval(state)
        runs.append((losses, np.array(model.layers[1].running_mean), np.array(model.layers[0].weight)))
    (eager_losses, eager_mean, eager_w), (losses, mean, w) = runs
    assert losses[2] < losses[0]
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(mean, eager_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w, eager_w, rtol=1e-5, atol=1e-6)


def test_state_read_only_survives_a_retrace():
    # Inputs-only state: a new shape traces again and must read the current state, not the
    # state of the first call.
    state = {"w": mx.array(1.0)}
    f = mx.compile(lambda x: x * state["w"], inputs=[state])
    close(f(mx.ones((2,))), [1, 1])
    state["w"] = mx.array(3.0)
    close(f(mx.ones((3,))), [3, 3, 3])
    close(f(mx.ones((2,))), [3, 3])
    assert state["w"].item() == 3.0


def tree_items(tree, prefix=""):
    from lazuli.utils import tree_flatten

    return tree_flatten(tree)


def test_random_state_as_input_and_output_advances():
    state = [mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def noisy(x):
        return x + mx.random.uniform(shape=x.shape)

    mx.random.seed(0)
    a, b = noisy(mx.zeros((4,))), noisy(mx.zeros((4,)))
    assert not np.allclose(np.array(a), np.array(b))
    mx.random.seed(0)
    close(noisy(mx.zeros((4,))), a)  # same seed, same draws

    frozen = mx.compile(lambda x: x + mx.random.uniform(shape=x.shape))
    close(frozen(mx.zeros((4,))), frozen(mx.zeros((4,))))  # no state: the draw is a constant


def test_transforms_through_compiled_functions():
    x = mx.linspace(-2, 2, 9)
    loss = lambda v: mx.sum(chain(v))  # noqa: E731
    close(mx.grad(mx.compile(loss))(x), mx.grad(loss)(x), 1e-5)
    close(mx.compile(mx.grad(loss))(x), mx.grad(loss)(x), 1e-5)
    close(mx.vmap(mx.compile(chain))(x.reshape(3, 3)), chain(x.reshape(3, 3)))
    close(mx.compile(mx.vmap(chain))(x.reshape(3, 3)), chain(x.reshape(3, 3)))
    _, tangent = mx.jvp(mx.compile(chain), [x], [mx.ones_like(x)])
    _, eager_tangent = mx.jvp(chain, [x], [mx.ones_like(x)])
    close(tangent[0], eager_tangent[0], 1e-5)


def test_shapeless_replays_check_the_sizes_the_ops_checked():
    # matmul checks batch and inner sizes when tracing, and the Matmul primitive trusts them:
    # the trace at (2, 2, 3) @ (2, 3, 4), replayed at other sizes of the same ranks, read
    # past its operands instead of raising as eager does.
    h = mx.compile(lambda a, b: a @ b, shapeless=True)
    close(h(mx.ones((2, 2, 3)), mx.ones((2, 3, 4))), mx.full((2, 2, 4), 3.0))
    for a, b in [((3, 2, 3), (2, 3, 4)), ((2, 2, 3), (2, 5, 4))]:
        with pytest.raises(ValueError, match=r"\[matmul\]"):
            h(mx.ones(a), mx.ones(b))
    # Sizes equal by chance in a trace (2 x 2 matrices) may differ later: one more trace.
    calls = []

    def matmul(a, b):
        calls.append(1)
        return a @ b

    m = mx.compile(matmul, shapeless=True)
    for a, b in [((2, 2), (2, 2)), ((4, 3), (3, 5)), ((6, 2), (2, 7)), ((2, 2), (2, 2))]:
        a, b = mx.arange(np.prod(a), dtype=mx.float32).reshape(a), mx.arange(np.prod(b), dtype=mx.float32).reshape(b)
        close(m(a, b), a @ b)
    assert len(calls) == 2
    cat = mx.compile(lambda x, y: mx.concatenate([x, y], axis=0), shapeless=True)
    close(cat(mx.ones((2, 3)), mx.zeros((4, 3))), np.concatenate([np.ones((2, 3)), np.zeros((4, 3))]))
    with pytest.raises(ValueError, match=r"\[concatenate\]"):
        cat(mx.ones((2, 4)), mx.ones((2, 5)))


def test_jvp_through_a_fused_group_reading_a_comparison():
    # c is computed outside the fused where/exp/multiply group (sum reads it too), so the
    # group has a bool input; its jvp rule passed that to jvp, which refuses bool inputs.
    def f(x, y):
        c = x > 0
        return [mx.exp(mx.where(c, x, y)) * 2, mx.sum(c)]

    x, y = mx.array([1.0, -2.0, 3.0]), mx.array([0.5, 0.25, -1.0])
    t = [mx.array([1.0, 2.0, 3.0]), mx.array([-1.0, 1.0, 0.5])]
    tangents = mx.jvp(mx.compile(f), [x, y], t)[1]
    w = np.where(np.array(x) > 0, np.array(x), np.array(y))
    close(tangents[0], 2 * np.exp(w) * np.where(np.array(x) > 0, np.array(t[0]), np.array(t[1])), 1e-5)
    assert tangents[1].item() == 0
    grads = mx.grad(lambda x, y: mx.sum(mx.compile(f)(x, y)[0]), argnums=[0, 1])(x, y)
    close(grads[0], 2 * np.exp(w) * (np.array(x) > 0), 1e-5)


def test_disable_and_enable():
    calls = []

    def f(x):
        calls.append(1)
        return x + 1

    g = mx.compile(f)
    mx.disable_compile()
    try:
        g(mx.ones(2)), g(mx.ones(2))
    finally:
        mx.enable_compile()
    assert len(calls) == 2
    g(mx.ones(2)), g(mx.ones(2))
    assert len(calls) == 3


@pytest.mark.parametrize("var", ["LAZULI_DISABLE_COMPILE", "MLX_DISABLE_COMPILE"])
def test_environment_variable_disables(var):
    code = (
        "import lazuli.core as mx\ncalls = []\n"
        "f = mx.compile(lambda x: calls.append(1) or x + 1)\n"
        "f(mx.ones(2)); f(mx.ones(2)); print(len(calls))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **{var: "1"})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def test_errors():
    with pytest.raises(ValueError, match=r"\[compile\].*function"):
        mx.compile(3)
    bad = mx.compile(lambda x: x * x.sum().item())
    with pytest.raises(ValueError, match=r"\[compile\]"):
        bad(mx.ones(3))
    # A NumPy array is no constant: changed in place, a trace keyed by it would be stale.
    with pytest.raises(ValueError, match=r"\[compile\].*unhashable ndarray"):
        mx.compile(lambda x, c: x * mx.array(c))(mx.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="tuples"):
        state = (mx.ones(2),)
        mx.compile(lambda x: x, inputs=[state])(mx.ones(2))
