"""lazuli.optimizers: every optimizer against a NumPy (float64) re-implementation of its
formula over three steps, against mlx.optimizers where installed, schedulers, state trees,
clip_grad_norm and a small model trained to a target loss."""
import math

import numpy as np
import pytest

import lazuli.core as mx
import lazuli.nn as nn
import lazuli.optimizers as optim
from lazuli.utils import tree_flatten, tree_map, tree_unflatten

STEPS = 3


def rng_arrays(seed, shapes):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


SHAPES = {"w": (4, 3), "b": (3,)}
PARAMS = rng_arrays(0, SHAPES)
GRADS = [rng_arrays(10 + i, SHAPES) for i in range(STEPS)]


def run_lazuli(opt):
    params = {k: mx.array(v) for k, v in PARAMS.items()}
    for g in GRADS:
        params = opt.apply_gradients({k: mx.array(v) for k, v in g.items()}, params)
        mx.eval(params)
    return {k: np.array(v) for k, v in params.items()}


def run_numpy(update, init):
    """``update(w, g, state, t)`` → new w (state dict updated in place), t counts from 1."""
    out = {}
    for k, w in PARAMS.items():
        w = w.astype(np.float64)
        state = init(w)
        for t, g in enumerate(GRADS, start=1):
            w = update(w, g[k].astype(np.float64), state, t)
        out[k] = w
    return out


def zeros(*names):
    return lambda w: {n: np.zeros_like(w) for n in names}


def np_sgd(lr, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
    def update(w, g, s, t):
        g = g + weight_decay * w
        if momentum <= 0:
            return w - lr * g
        s["v"] = momentum * s["v"] + (1 - dampening) * g
        return w - lr * (g + momentum * s["v"] if nesterov else s["v"])

    return update, zeros("v")


def np_rmsprop(lr, alpha=0.99, eps=1e-8):
    def update(w, g, s, t):
        s["v"] = alpha * s["v"] + (1 - alpha) * g * g
        return w - lr * g / (np.sqrt(s["v"]) + eps)

    return update, zeros("v")


def np_adagrad(lr, eps=1e-8):
    def update(w, g, s, t):
        s["v"] = s["v"] + g * g
        return w - lr * g / (np.sqrt(s["v"]) + eps)

    return update, zeros("v")


def np_adadelta(lr, rho=0.9, eps=1e-6):
    def update(w, g, s, t):
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        d = np.sqrt(s["u"] + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s["u"] + (1 - rho) * d * d
        return w - lr * d

    return update, zeros("v", "u")


def np_adam(lr, betas=(0.9, 0.999), eps=1e-8, bias_correction=False, weight_decay=0.0):
    b1, b2 = betas

    def update(w, g, s, t):
        w = w * (1 - lr * weight_decay)
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        m, v = s["m"], s["v"]
        if bias_correction:
            m, v = m / (1 - b1**t), v / (1 - b2**t)
        return w - lr * m / (np.sqrt(v) + eps)

    return update, zeros("m", "v")


def np_adamax(lr, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas

    def update(w, g, s, t):
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = np.maximum(b2 * s["v"], np.abs(g))
        return w - lr * s["m"] / (s["v"] + eps)

    return update, zeros("m", "v")


def np_lion(lr, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas

    def update(w, g, s, t):
        c = b1 * s["m"] + (1 - b1) * g
        s["m"] = b2 * s["m"] + (1 - b2) * g
        return w * (1 - lr * weight_decay) - lr * np.sign(c)

    return update, zeros("m")


def np_rms(x):
    return np.sqrt(np.mean(x * x))


def np_adafactor(lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta_1=None,
                 weight_decay=0.0, scale_parameter=True, relative_step=True, warmup_init=False):
    def init(w):
        s = {"row": np.zeros(w.shape[:-1]), "col": np.zeros(w.shape[:-2] + w.shape[-1:])} if w.ndim >= 2 else {
            "sq": np.zeros_like(w)}
        s["avg"] = np.zeros_like(w)
        return s

    def update(w, g, s, t):
        step = min(1e-6 * t if warmup_init else 1e-2, 1 / math.sqrt(t)) if relative_step else lr
        rate = step * (max(eps[1], np_rms(w)) if scale_parameter else 1.0)
        beta2 = 1 - t**decay_rate
        u = g * g + eps[0]
        if w.ndim >= 2:
            s["row"] = beta2 * s["row"] + (1 - beta2) * u.mean(-1)
            s["col"] = beta2 * s["col"] + (1 - beta2) * u.mean(-2)
            r = 1 / np.sqrt(s["row"] / s["row"].mean(-1, keepdims=True))
            u = np.outer(r, 1 / np.sqrt(s["col"])) * g
        else:
            s["sq"] = beta2 * s["sq"] + (1 - beta2) * u
            u = g / np.sqrt(s["sq"])
        u = rate * u / max(1.0, np_rms(u) / clip_threshold)
        if beta_1 is not None:
            s["avg"] = beta_1 * s["avg"] + (1 - beta_1) * u
            u = s["avg"]
        return w - weight_decay * rate * w - u

    return update, init


def np_newton_schulz(x, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        A = x @ x.T
        B = b * A + c * A @ A
        x = a * x + B @ x
    return x.T if tall else x


def np_muon(lr, momentum=0.95, weight_decay=0.01, nesterov=True, ns_steps=5):
    def update(w, g, s, t):
        g = g + weight_decay * w
        s["v"] = momentum * s["v"] + (1 - momentum) * g
        u = g * (1 - momentum) + momentum * s["v"] if nesterov else s["v"]
        rate = lr
        if u.ndim >= 2:
            u = np_newton_schulz(u.reshape(u.shape[0], -1), ns_steps).reshape(u.shape)
            rate = lr * max(1, u.shape[-2] / u.shape[-1]) ** 0.5
        return w - rate * u

    return update, zeros("v")


# (name, lazuli/MLX class name, keyword arguments, NumPy reference)
CASES = [
    ("sgd", "SGD", dict(learning_rate=0.1), np_sgd),
    ("sgd_momentum", "SGD", dict(learning_rate=0.1, momentum=0.9, weight_decay=0.01, dampening=0.1), np_sgd),
    ("sgd_nesterov", "SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True), np_sgd),
    ("rmsprop", "RMSprop", dict(learning_rate=0.01), np_rmsprop),
    ("rmsprop_alpha", "RMSprop", dict(learning_rate=0.01, alpha=0.9, eps=1e-4), np_rmsprop),
    ("adagrad", "Adagrad", dict(learning_rate=0.1), np_adagrad),
    ("adadelta", "AdaDelta", dict(learning_rate=1.0), np_adadelta),
    ("adam", "Adam", dict(learning_rate=0.01), np_adam),
    ("adam_bias", "Adam", dict(learning_rate=0.01, betas=[0.8, 0.99], bias_correction=True), np_adam),
    ("adamw", "AdamW", dict(learning_rate=0.01), lambda lr, **k: np_adam(lr, weight_decay=0.01, **k)),
    ("adamw_bias", "AdamW", dict(learning_rate=0.01, weight_decay=0.1, bias_correction=True), np_adam),
    ("adamax", "Adamax", dict(learning_rate=0.01), np_adamax),
    ("lion", "Lion", dict(learning_rate=0.01), np_lion),
    ("lion_decay", "Lion", dict(learning_rate=0.01, weight_decay=0.1), np_lion),
    ("adafactor", "Adafactor", dict(), np_adafactor),
    ("adafactor_lr", "Adafactor", dict(learning_rate=0.01, relative_step=False, beta_1=0.9, weight_decay=0.1),
     np_adafactor),
    ("adafactor_warmup", "Adafactor", dict(warmup_init=True, scale_parameter=False), np_adafactor),
    ("muon", "Muon", dict(learning_rate=0.02), np_muon),
    ("muon_plain", "Muon", dict(learning_rate=0.02, nesterov=False, weight_decay=0.0, ns_steps=3), np_muon),
]


@pytest.mark.parametrize("name,cls,kwargs,reference", CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_numpy_formula(name, cls, kwargs, reference):
    got = run_lazuli(getattr(optim, cls)(**kwargs))
    rest = {k: v for k, v in kwargs.items() if k != "learning_rate"}
    want = run_numpy(*reference(kwargs.get("learning_rate"), **rest))
    for k in SHAPES:
        np.testing.assert_allclose(got[k], want[k], rtol=2e-5, atol=2e-5, err_msg=f"{name}: {k}")


@pytest.mark.parametrize("name,cls,kwargs,reference", CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_mlx(name, cls, kwargs, reference):
    mlx = pytest.importorskip("mlx.core")
    mlx_optim = pytest.importorskip("mlx.optimizers")
    opt = getattr(mlx_optim, cls)(**kwargs)
    params = {k: mlx.array(v) for k, v in PARAMS.items()}
    for g in GRADS:
        params = opt.apply_gradients({k: mlx.array(v) for k, v in g.items()}, params)
    got = run_lazuli(getattr(optim, cls)(**kwargs))
    for k in SHAPES:
        np.testing.assert_allclose(got[k], np.array(params[k]), rtol=1e-5, atol=1e-5, err_msg=f"{name}: {k}")


def test_state_tree_step_and_learning_rate():
    opt = optim.Adam(learning_rate=0.01)
    model = nn.Linear(3, 2)
    opt.init(model.trainable_parameters())
    assert sorted(opt.state.keys()) == ["bias", "learning_rate", "step", "weight"]
    assert opt.step.item() == 0 and opt.step.dtype == mx.uint64
    assert opt.state["weight"]["m"].shape == (2, 3)
    grads = tree_map(mx.ones_like, model.trainable_parameters())
    opt.update(model, grads)
    opt.update(model, grads)
    assert opt.step.item() == 2
    opt.learning_rate = 0.5
    assert opt.learning_rate.item() == 0.5 and isinstance(opt.learning_rate, mx.array)


def test_scheduled_learning_rate_is_stepped():
    opt = optim.SGD(learning_rate=optim.exponential_decay(1.0, 0.5))
    params = {"w": mx.array([0.0])}
    seen = []
    for _ in range(3):
        params = opt.apply_gradients({"w": mx.array([1.0])}, params)
        seen.append(opt.learning_rate.item())
    # The schedule is evaluated at the step count before each update: 0, 1, 2.
    assert seen == [1.0, 0.5, 0.25]
    np.testing.assert_allclose(np.array(params["w"]), [-1.75])


def test_state_save_and_load_round_trip(tmp_path):
    params = {"w": mx.array(PARAMS["w"]), "layers": [{"b": mx.array(PARAMS["b"])}]}
    grads = tree_map(lambda p: p * 0.1, params)
    opt = optim.Adam(learning_rate=0.01, bias_correction=True)
    params = opt.apply_gradients(grads, params)
    path = str(tmp_path / "state.safetensors")
    mx.save_safetensors(path, dict(tree_flatten(opt.state)))
    restored = optim.Adam(learning_rate=0.01, bias_correction=True)
    restored.state = tree_unflatten(list(mx.load(path).items()))
    assert restored.step.item() == 1
    a = opt.apply_gradients(grads, params)
    b = restored.apply_gradients(grads, params)
    for (ka, va), (kb, vb) in zip(tree_flatten(a), tree_flatten(b)):
        assert ka == kb
        np.testing.assert_array_equal(np.array(va), np.array(vb))
    want, got = dict(tree_flatten(opt.state)), dict(tree_flatten(restored.state))
    assert sorted(want) == sorted(got) == ["layers.0.b.m", "layers.0.b.v", "learning_rate", "step", "w.m", "w.v"]
    for k in want:
        np.testing.assert_array_equal(np.array(got[k]), np.array(want[k]))


def test_schedulers_values():
    steps = mx.array([0, 1, 5, 10, 20])
    s = np.array([0, 1, 5, 10, 20], dtype=np.float64)
    close = lambda got, want: np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)
    close(optim.exponential_decay(0.1, 0.9)(steps), 0.1 * 0.9**s)
    close(optim.step_decay(0.1, 0.5, 4)(steps), 0.1 * 0.5 ** (s // 4))
    close(optim.cosine_decay(0.1, 10, end=0.01)(steps),
          0.01 + 0.5 * (1 + np.cos(np.pi * np.minimum(s, 10) / 10)) * 0.09)
    close(optim.linear_schedule(0.0, 1.0, 10)(steps), np.minimum(s, 10) / 10)
    warmup = optim.join_schedules([optim.linear_schedule(0.0, 0.1, 5), optim.cosine_decay(0.1, 10)], [5])
    want = np.where(s < 5, s / 50, 0.05 * (1 + np.cos(np.pi * np.minimum(s - 5, 10) / 10)))
    close(warmup(steps), want)
    with pytest.raises(ValueError, match="at least 1 schedule"):
        optim.join_schedules([], [])
    with pytest.raises(ValueError, match="Received 2 boundaries but expected 1"):
        optim.join_schedules([optim.linear_schedule(0, 1, 2)] * 2, [1, 2])
    with pytest.raises(ValueError, match="steps must be greater than 0"):
        optim.linear_schedule(0.0, 1.0, 0)


def test_clip_grad_norm():
    grads = {"a": mx.array([3.0, 0.0]), "b": [mx.array([[0.0, 4.0]])]}
    clipped, norm = optim.clip_grad_norm(grads, max_norm=1.0)
    assert norm.item() == pytest.approx(5.0)
    assert isinstance(clipped["b"], list)
    np.testing.assert_allclose(np.array(clipped["a"]), [3 / (5 + 1e-6), 0], rtol=1e-6)
    np.testing.assert_allclose(np.array(clipped["b"][0]), [[0, 4 / (5 + 1e-6)]], rtol=1e-6)
    same, norm = optim.clip_grad_norm(grads, max_norm=10.0)
    np.testing.assert_array_equal(np.array(same["a"]), [3.0, 0.0])
    empty, norm = optim.clip_grad_norm({}, 1.0)
    assert empty == {} and norm.item() == 0.0


def test_multi_optimizer_routes_by_path():
    params = {"w": mx.array([1.0, 2.0]), "b": mx.array([1.0])}
    grads = {"w": mx.array([1.0, 1.0]), "b": mx.array([1.0])}
    opt = optim.MultiOptimizer([optim.SGD(0.1), optim.SGD(1.0)], [lambda path, g: path == "b"])
    out = opt.apply_gradients(grads, params)
    np.testing.assert_allclose(np.array(out["w"]), [0.0, 1.0])
    np.testing.assert_allclose(np.array(out["b"]), [0.9])
    assert len(opt.state["states"]) == 2
    opt.learning_rate = 0.3
    assert opt.optimizers[1].learning_rate.item() == pytest.approx(0.3)
    with pytest.raises(ValueError, match="Given 0 filters but 1 needed"):
        optim.MultiOptimizer([optim.SGD(0.1), optim.SGD(0.1)])
    with pytest.raises(ValueError, match="Invalid state"):
        opt.state = {"states": []}


def test_constructor_errors():
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="RMSprop alpha"):
        optim.RMSprop(0.1, alpha=-1)
    with pytest.raises(ValueError, match="Adagrad epsilon"):
        optim.Adagrad(0.1, eps=-1)
    with pytest.raises(ValueError, match="AdaDelta rho"):
        optim.AdaDelta(0.1, rho=-1)
    with pytest.raises(ValueError, match="Epsilon value"):
        optim.Adamax(0.1, eps=-1)
    with pytest.raises(ValueError, match="learning_rate is needed"):
        optim.Adafactor(relative_step=False).apply_gradients({"w": mx.ones((2,))}, {"w": mx.ones((2,))})


def test_float16_parameters_keep_their_dtype():
    params = {"w": mx.array(PARAMS["w"]).astype(mx.float16)}
    for opt in (optim.Adam(0.01, bias_correction=True), optim.SGD(0.1, momentum=0.9), optim.Lion(0.01)):
        out = opt.apply_gradients({"w": mx.ones((4, 3), dtype=mx.float16)}, params)
        assert out["w"].dtype == mx.float16, type(opt).__name__


def test_tiny_mlp_trains_with_adam():
    mx.random.seed(0)
    x = mx.random.normal((64, 2))
    y = mx.sum(x * x, axis=1, keepdims=True)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = optim.Adam(learning_rate=0.02)

    def loss_fn(m):
        return nn.losses.mse_loss(m(x), y)

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    first = None
    for _ in range(300):
        loss, grads = loss_and_grad(model)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
        first = first if first is not None else loss.item()
    assert loss.item() < 0.05 * first and loss.item() < 0.2, (first, loss.item())


def test_muon_on_a_3d_parameter_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    mlx_optim = pytest.importorskip("mlx.optimizers")
    rng = np.random.default_rng(3)
    w = rng.standard_normal((2, 3, 4)).astype(np.float32)
    grads = [rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(STEPS)]
    ours, theirs = optim.Muon(0.05), mlx_optim.Muon(0.05)
    p, q = {"w": mx.array(w)}, {"w": mlx.array(w)}
    for g in grads:
        p = ours.apply_gradients({"w": mx.array(g)}, p)
        q = theirs.apply_gradients({"w": mlx.array(g)}, q)
    np.testing.assert_allclose(np.array(p["w"]), np.array(q["w"]), rtol=1e-5, atol=1e-5)


def test_scheduled_warmup_and_model_training_match_mlx():
    mlx = pytest.importorskip("mlx.core")
    mlx_optim = pytest.importorskip("mlx.optimizers")

    def make(lib):
        warmup = lib.linear_schedule(0.0, 0.1, 3)
        return lib.AdamW(learning_rate=lib.join_schedules([warmup, lib.cosine_decay(0.1, 5)], [3]),
                         bias_correction=True)

    ours, theirs = make(optim), make(mlx_optim)
    p = {"layers": [{"w": mx.array(PARAMS["w"])}, {"b": mx.array(PARAMS["b"])}]}
    q = {"layers": [{"w": mlx.array(PARAMS["w"])}, {"b": mlx.array(PARAMS["b"])}]}
    for i in range(6):
        g = GRADS[i % STEPS]
        p = ours.apply_gradients({"layers": [{"w": mx.array(g["w"])}, {"b": mx.array(g["b"])}]}, p)
        q = theirs.apply_gradients({"layers": [{"w": mlx.array(g["w"])}, {"b": mlx.array(g["b"])}]}, q)
        assert ours.learning_rate.item() == pytest.approx(theirs.learning_rate.item(), rel=1e-6)
    for (k, a), (_, b) in zip(tree_flatten(p), tree_flatten(q)):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6, err_msg=k)
