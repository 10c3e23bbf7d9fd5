"""lazuli.core.random (MLX's mx.random): keys, determinism, the counter layout, sampler
distributions on large samples, dtypes, shapes and errors."""

import math

import numpy as np
import pytest

import lazuli.core as mx

N = 200_000


def np_(a):
    return np.array(a.astype(mx.float32) if a.dtype in (mx.float16, mx.bfloat16) else a)


def test_threefry_known_answer_through_bits():
    # Random123's threefry2x32_20 vector: key (0, 0), counter (0, 0). uniform(float32) uses
    # the top 24 bits of each word.
    u = np.array(mx.random.uniform(shape=(2,), key=mx.random.key(0)), dtype=np.float64)
    want = np.array([0x6B200159 >> 8, 0x99BA4EFE >> 8], dtype=np.float64) / 2**24
    assert np.array_equal(u, want)


def test_key_seed_split_and_state():
    k = mx.random.key((7 << 32) | 9)
    assert k.dtype == mx.uint32 and k.shape == (2,)
    assert np.array(k).tolist() == [7, 9]
    ks = mx.random.split(mx.random.key(42))
    assert ks.shape == (2, 2) and ks.dtype == mx.uint32
    assert not np.array_equal(np.array(ks[0]), np.array(ks[1]))
    many = np.array(mx.random.split(mx.random.key(42), num=6))
    assert many.shape == (6, 2)
    assert len({tuple(r) for r in many.tolist()}) == 6
    assert np.array_equal(many[:2], np.array(ks))

    mx.random.seed(5)
    a1, a2 = mx.random.uniform(shape=(8,)), mx.random.uniform(shape=(8,))
    mx.random.seed(5)
    b1, b2 = mx.random.uniform(shape=(8,)), mx.random.uniform(shape=(8,))
    assert np.array_equal(np.array(a1), np.array(b1))
    assert np.array_equal(np.array(a2), np.array(b2))
    assert not np.array_equal(np.array(a1), np.array(a2))
    state = mx.random.state
    assert isinstance(state, list) and state[0].shape == (2,) and state[0].dtype == mx.uint32


def test_determinism_and_counter_layout():
    key = mx.random.key(1234)
    a = np.array(mx.random.normal((5, 7), key=key))
    b = np.array(mx.random.normal((5, 7), key=key))
    assert np.array_equal(a, b)
    k1, k2 = mx.random.split(key)
    assert not np.array_equal(np.array(mx.random.uniform(shape=(16,), key=k1)),
                              np.array(mx.random.uniform(shape=(16,), key=k2)))
    # A large (multi-threaded) draw agrees with a small one on its prefix, and the shape
    # does not matter, only the flat index.
    big = np.array(mx.random.uniform(shape=(1 << 20,), key=key))
    small = np.array(mx.random.uniform(shape=(11,), key=key))
    assert np.array_equal(big[:11], small)
    assert np.array_equal(np.array(mx.random.uniform(shape=(2, 3), key=key)), big[:6].reshape(2, 3))


def test_uniform():
    key = mx.random.key(11)
    u = np.array(mx.random.uniform(shape=(N,), key=key))
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    v = np.array(mx.random.uniform(-3, 5, (N,), key=key))
    assert v.min() >= -3 and v.max() < 5 and abs(v.mean() - 1) < 0.04
    w = np.array(mx.random.uniform(mx.array([[0.0], [10.0]]), mx.array([[1.0], [20.0]]), (2, 1000), key=key))
    assert (w[0] >= 0).all() and (w[0] < 1).all() and (w[1] >= 10).all() and (w[1] < 20).all()
    for dt in (mx.float16, mx.bfloat16, mx.float32):
        h = mx.random.uniform(shape=(N,), dtype=dt, key=key)
        assert h.dtype == dt
        hv = np_(h)
        assert hv.min() >= 0 and hv.max() < 1 and abs(hv.mean() - 0.5) < 0.01


def test_normal_and_truncated_normal():
    key = mx.random.key(21)
    for dt in (mx.float32, mx.float16, mx.bfloat16):
        z = mx.random.normal((N,), dtype=dt, key=key)
        assert z.dtype == dt
        zv = np_(z).astype(np.float64)
        assert np.isfinite(zv).all() and abs(zv.mean()) < 0.01 and abs(zv.var() - 1) < 0.02
    y = np.array(mx.random.normal((N,), loc=3.0, scale=2.0, key=key), dtype=np.float64)
    assert abs(y.mean() - 3) < 0.02 and abs(y.var() - 4) < 0.08
    assert mx.random.normal(key=key).shape == ()
    t = np.array(mx.random.truncated_normal(-0.5, 1.5, (N,), key=key), dtype=np.float64)
    assert t.min() >= -0.5 and t.max() <= 1.5
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    Phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))
    assert abs(t.mean() - (phi(-0.5) - phi(1.5)) / (Phi(1.5) - Phi(-0.5))) < 0.01
    tb = mx.random.truncated_normal(mx.array([-1.0, 2.0]), mx.array([1.0, 3.0]), key=key)
    assert tb.shape == (2,)
    tv = np.array(tb)
    assert -1 <= tv[0] <= 1 and 2 <= tv[1] <= 3


def test_bernoulli_randint_categorical():
    key = mx.random.key(31)
    b = mx.random.bernoulli(0.3, (N,), key=key)
    assert b.dtype == mx.bool_ and abs(np.array(b).mean() - 0.3) < 0.005
    assert mx.random.bernoulli(key=key).shape == ()
    bp = np.array(mx.random.bernoulli(mx.array([0.0, 1.0, 0.5]), key=key))
    assert bp.shape == (3,) and not bp[0] and bp[1]

    r = np.array(mx.random.randint(-3, 7, (N,), key=key))
    assert r.dtype == np.int32 and r.min() == -3 and r.max() == 6
    counts = np.bincount(r + 3, minlength=10)
    assert np.all(np.abs(counts - N / 10) < N / 10 * 0.05)
    assert mx.random.randint(0, 5, (4,), dtype=mx.uint8, key=key).dtype == mx.uint8
    ra = np.array(mx.random.randint(mx.array([0, 100]), mx.array([2, 102]), (2,), key=key))
    assert 0 <= ra[0] < 2 and 100 <= ra[1] < 102

    p = np.array([0.1, 0.2, 0.3, 0.4])
    c = np.array(mx.random.categorical(mx.array(np.log(p).astype(np.float32)), shape=(N,), key=key))
    assert c.shape == (N,)
    assert np.all(np.abs(np.bincount(c, minlength=4) / N - p) < 0.006)
    lb = mx.array([[0.0, -1e9], [-1e9, 0.0]])  # along axis 0: column 0 picks 0, column 1 picks 1
    cs = np.array(mx.random.categorical(lb, axis=0, num_samples=5, key=key))
    assert cs.shape == (2, 5) and (cs[0] == 0).all() and (cs[1] == 1).all()
    assert mx.random.categorical(mx.zeros((3, 4)), key=key).shape == (3,)


def test_gumbel_laplace_permutation_multivariate():
    key = mx.random.key(41)
    g = np.array(mx.random.gumbel((N,), key=key), dtype=np.float64)
    assert np.isfinite(g).all() and abs(g.mean() - 0.5772) < 0.01 and abs(g.var() - math.pi**2 / 6) < 0.04
    assert mx.random.gumbel((3,), dtype=mx.float16, key=key).dtype == mx.float16
    lp = np.array(mx.random.laplace((N,), loc=1.0, scale=2.0, key=key), dtype=np.float64)
    assert abs(lp.mean() - 1) < 0.03 and abs(lp.var() - 8) < 0.25

    assert mx.random.permutation(3, key=key).dtype == mx.uint32
    perm = np.array(mx.random.permutation(100_000, key=key))
    assert np.array_equal(np.sort(perm), np.arange(100_000)) and (perm == np.arange(100_000)).sum() < 10
    x = mx.reshape(mx.arange(12), (3, 4))
    px = np.array(mx.random.permutation(x, axis=1, key=key))
    assert px.shape == (3, 4)
    assert all(sorted(row) == list(range(4 * i, 4 * i + 4)) for i, row in enumerate(px.tolist()))
    assert mx.random.permutation(0, key=key).shape == (0,)

    mean = mx.array([1.0, -2.0])
    cov = mx.array([[2.0, 0.6], [0.6, 1.0]])
    m = np.array(mx.random.multivariate_normal(mean, cov, (N,), key=key), dtype=np.float64)
    assert m.shape == (N, 2)
    assert np.allclose(m.mean(0), [1, -2], atol=0.02)
    assert np.allclose(np.cov(m.T), [[2, 0.6], [0.6, 1]], atol=0.05)


def test_shapes_and_empty():
    key = mx.random.key(3)
    assert mx.random.uniform(key=key).shape == ()
    e = mx.random.uniform(shape=(0, 3), key=key)
    assert e.shape == (0, 3) and np.array(e).size == 0
    assert mx.random.normal((2, 0), key=key).shape == (2, 0)
    assert mx.random.randint(0, 3, (0,), key=key).shape == (0,)


def test_vmap_over_keys_and_grad_through_parameters():
    keys = mx.random.split(mx.random.key(9), 3)
    got = mx.vmap(lambda k: mx.random.normal((4,), key=k))(keys)
    assert got.shape == (3, 4)
    for i in range(3):
        assert np.array_equal(np.array(got[i]), np.array(mx.random.normal((4,), key=keys[i])))
    key = mx.random.key(1)
    g = mx.grad(lambda lo: mx.random.uniform(lo, lo + 2, (5,), key=key).sum())(mx.array(1.0))
    assert abs(g.item() - 5) < 1e-5


def test_errors():
    key = mx.random.key(0)
    with pytest.raises(ValueError, match="uniform"):
        mx.random.uniform(shape=(-1,), key=key)
    with pytest.raises(ValueError, match="uniform"):
        mx.random.uniform(shape=(3,), dtype=mx.int32, key=key)
    with pytest.raises(ValueError, match="uniform"):
        mx.random.uniform(mx.zeros((3,)), 1, (2,), key=key)
    with pytest.raises(ValueError, match="randint"):
        mx.random.randint(5, 5, (2,), key=key)
    with pytest.raises(ValueError, match="randint"):
        mx.random.randint(5, 1, key=key)
    with pytest.raises(ValueError, match="randint"):
        mx.random.randint(0, 5, dtype=mx.float32, key=key)
    with pytest.raises(ValueError, match="normal"):
        mx.random.normal((2,), key=mx.array([1, 2, 3], dtype=mx.uint32))
    with pytest.raises(ValueError, match="normal"):
        mx.random.normal((2,), key=mx.array([1, 2], dtype=mx.int32))
    with pytest.raises(ValueError, match="split"):
        mx.random.split(mx.zeros((2, 2), dtype=mx.uint32))
    with pytest.raises(ValueError, match="bernoulli"):
        mx.random.bernoulli(mx.array([0.5, 0.5]), (3,), key=key)
    with pytest.raises(ValueError, match="categorical"):
        mx.random.categorical(mx.zeros((2, 3)), shape=(2,), num_samples=2, key=key)
    with pytest.raises(ValueError, match="categorical"):
        mx.random.categorical(mx.zeros((3,)), axis=2, key=key)
    with pytest.raises(ValueError, match="permutation"):
        mx.random.permutation(-1, key=key)
    with pytest.raises(ValueError, match="multivariate_normal"):
        mx.random.multivariate_normal(mx.zeros((2,)), mx.eye(3), key=key)
    with pytest.raises(AttributeError):
        mx.random.no_such_function


def test_mlx_random_names_exist():
    mlx = pytest.importorskip("mlx.core")
    names = [n for n in dir(mlx.random) if not n.startswith("_")]
    assert [n for n in names if not hasattr(mx.random, n)] == []


def test_vmap_over_keys_on_another_axis():
    keys = mx.random.split(mx.random.key(2), 4)  # (4, 2)
    got = mx.vmap(lambda k: mx.random.uniform(shape=(3,), key=k), in_axes=1)(mx.transpose(keys))
    assert got.shape == (4, 3)
    for i in range(4):
        assert np.array_equal(np.array(got[i]), np.array(mx.random.uniform(shape=(3,), key=keys[i])))
