"""mx.linalg against NumPy and SciPy: values over float32/float64, batches, 1x1, empty
batches and transposed (non-contiguous) inputs; reconstructions of the factorizations;
errors; gradients against finite differences; signatures."""

import numpy as np
import pytest
import scipy.linalg as sla

import lazuli.core as mx
from numeric import numerical_grad

DTYPES = ["float32", "float64"]
TOL = {"float32": 2e-4, "float64": 1e-10}
SQUARE = [(1, 1), (3, 3), (5, 5), (2, 3, 4, 4), (0, 3, 3)]
RECT = [(1, 1), (4, 4), (5, 3), (3, 5), (2, 4, 2), (0, 3, 2)]


def np_dtype(dtype):
    return np.float32 if dtype == "float32" else np.float64


def random(shape, dtype, seed=0, kind="general", transposed=False):
    """(lazuli array, numpy array) of one kind of matrix; transposed: a swapaxes view."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, shape)
    if len(shape) >= 2 and kind != "general":
        n = shape[-1]
        if kind == "well":  # well-conditioned square
            a = a + 3 * np.eye(n)
        elif kind == "spd":
            a = a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
        elif kind == "sym":
            a = a + np.swapaxes(a, -1, -2)
    a = a.astype(np_dtype(dtype))
    if transposed:
        x = mx.swapaxes(mx.array(np.ascontiguousarray(np.swapaxes(a, -1, -2)), dtype=getattr(mx, dtype)), -1, -2)
    else:
        x = mx.array(a, dtype=getattr(mx, dtype))
    return x, a


def check(got, want, dtype, scale=1.0):
    got = np.array(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale)


def mT(a):
    return np.swapaxes(a, -1, -2)


# ---- inverses and solves ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("transposed", [False, True])
def test_inv(dtype, shape, transposed):
    x, a = random(shape, dtype, kind="well", transposed=transposed)
    y = mx.linalg.inv(x)
    assert y.dtype == x.dtype
    check(y, np.linalg.inv(a) if a.size else a, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
def test_tri_inv_reads_one_triangle(dtype, upper, shape):
    x, a = random(shape, dtype, kind="well", seed=1)
    t = np.triu(a) if upper else np.tril(a)
    check(mx.linalg.tri_inv(x, upper=upper), np.linalg.inv(t) if t.size else t, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ashape,bshape", [
    ((3, 3), (3,)), ((3, 3), (3, 2)), ((1, 1), (1, 4)), ((2, 3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)),
    ((1, 3, 3), (4, 3, 2)), ((2, 3, 3), (3,)), ((0, 3, 3), (0, 3, 1)), ((4, 4), (2, 5, 4, 1))])
def test_solve(dtype, ashape, bshape):
    x, a = random(ashape, dtype, kind="well")
    y, b = random(bshape, dtype, seed=2)
    got = mx.linalg.solve(x, y)
    bm = b[..., None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
    want = np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(bm, batch + bm.shape[-2:]))
    if b.ndim == 1:
        want = want[..., 0]
    check(got, want, dtype, 10)


def test_solve_transposed_inputs_and_promotion():
    x, a = random((4, 4), "float64", kind="well", transposed=True)
    y, b = random((4, 3), "float64", seed=3, transposed=True)  # a non-contiguous b
    check(mx.linalg.solve(x, y), np.linalg.solve(a, b), "float64")
    got = mx.linalg.solve(x.astype(mx.float32), mx.array([1, 2, 3, 4]))  # int b promotes
    assert got.dtype == mx.float32
    check(got, np.linalg.solve(a, [1, 2, 3, 4]), "float32", 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("ashape,bshape", [((4, 4), (4, 3)), ((4, 4), (4,)), ((2, 3, 3), (2, 3, 2)),
                                           ((1, 1), (1, 1)), ((0, 2, 2), (0, 2, 1))])
def test_solve_triangular(dtype, upper, ashape, bshape):
    x, a = random(ashape, dtype, kind="well")
    y, b = random(bshape, dtype, seed=4)
    got = np.array(mx.linalg.solve_triangular(x, y, upper=upper))
    if a.size == 0:
        assert got.shape == b.shape
        return
    a2 = a.reshape(-1, *ashape[-2:])
    b2 = b.reshape(a2.shape[0], ashape[-1], -1) if b.ndim > 1 else b[None, :, None]
    want = np.stack([sla.solve_triangular(a2[i], b2[i], lower=not upper) for i in range(a2.shape[0])])
    check(got, want.reshape(b.shape), dtype, 10)


# ---- Cholesky ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("transposed", [False, True])
def test_cholesky(dtype, shape, transposed):
    x, a = random(shape, dtype, kind="spd", transposed=transposed)
    low = np.linalg.cholesky(a) if a.size else a
    check(mx.linalg.cholesky(x), low, dtype, 10)
    check(mx.linalg.cholesky(x, upper=True), mT(low), dtype, 10)
    if a.ndim == 2:
        check(mx.linalg.cholesky(x, upper=True), sla.cholesky(a, lower=False), dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
def test_cholesky_inv(dtype, upper, shape):
    x, a = random(shape, dtype, kind="spd", seed=5)
    f = mx.linalg.cholesky(x, upper=upper)
    check(mx.linalg.cholesky_inv(f, upper=upper), np.linalg.inv(a) if a.size else a, dtype, 20)


# ---- QR, SVD, pinv ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("transposed", [False, True])
def test_qr(dtype, shape, transposed):
    x, a = random(shape, dtype, transposed=transposed)
    q, r = mx.linalg.qr(x)
    k = min(shape[-2:])
    assert q.shape == shape[:-1] + (k,) and r.shape == shape[:-2] + (k, shape[-1])
    q, r = np.array(q), np.array(r)
    check(q @ r, a, dtype, 10)
    check(mT(q) @ q, np.broadcast_to(np.eye(k), shape[:-2] + (k, k)), dtype, 10)
    check(r, np.triu(r), dtype)
    if a.ndim == 2:
        nq, nr = np.linalg.qr(a)  # the same LAPACK routines: the same signs
        check(q, nq, dtype, 10)
        check(r, nr, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("transposed", [False, True])
def test_svd(dtype, shape, transposed):
    x, a = random(shape, dtype, transposed=transposed)
    u, s, vt = (np.array(t) for t in mx.linalg.svd(x))
    m, n = shape[-2:]
    k = min(m, n)
    assert u.shape == shape[:-2] + (m, m) and s.shape == shape[:-2] + (k,) and vt.shape == shape[:-2] + (n, n)
    check(s, np.linalg.svd(a, compute_uv=False), dtype, 10)
    check((u[..., :, :k] * s[..., None, :]) @ vt[..., :k, :], a, dtype, 10)
    check(mT(u) @ u, np.broadcast_to(np.eye(m), u.shape), dtype, 10)
    check(vt @ mT(vt), np.broadcast_to(np.eye(n), vt.shape), dtype, 10)
    s_only = mx.linalg.svd(x, compute_uv=False)
    assert isinstance(s_only, mx.array)
    check(s_only, s, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", RECT)
def test_pinv(dtype, shape):
    x, a = random(shape, dtype, seed=6)
    want = np.linalg.pinv(a) if a.size else np.zeros(shape[:-2] + shape[-2:][::-1])
    check(mx.linalg.pinv(x), want, dtype, 100)


def test_pinv_of_a_rank_deficient_matrix():
    a = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    check(mx.linalg.pinv(mx.array(a, dtype=mx.float64)), np.linalg.pinv(a), "float64")


# ---- eigen ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(dtype, shape, uplo):
    x, a = random(shape, dtype, kind="sym", seed=7)
    # Garbage in the other triangle must not matter.
    junk = np.triu(np.ones(shape), 1) if uplo == "L" else np.tril(np.ones(shape), -1)
    xj = x + mx.array(junk, dtype=x.dtype)
    w, v = mx.linalg.eigh(xj, UPLO=uplo)
    assert w.dtype == x.dtype and v.dtype == x.dtype
    w, v = np.array(w), np.array(v)
    check(w, np.linalg.eigvalsh(a, UPLO=uplo) if a.size else w, dtype, 10)
    check((v * w[..., None, :]) @ mT(v), a, dtype, 10)
    check(mx.linalg.eigvalsh(xj, UPLO=uplo), w, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE)
def test_eig(dtype, shape):
    x, a = random(shape, dtype, seed=8)
    w, v = mx.linalg.eig(x)
    assert w.dtype == mx.complex64 and v.dtype == mx.complex64
    w, v = np.array(w), np.array(v)
    # A V = V diag(w), with unit columns; eigenvalues as NumPy's (same LAPACK routine).
    np.testing.assert_allclose(a.astype(np.complex128) @ v, v * w[..., None, :], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1.0, atol=1e-4) if a.size else None
    if a.size:
        np.testing.assert_allclose(w, np.linalg.eigvals(a), atol=1e-4)
    np.testing.assert_allclose(np.array(mx.linalg.eigvals(x)), w, atol=1e-5)


def test_eig_of_a_rotation_has_a_conjugate_pair():
    w, v = mx.linalg.eig(mx.array([[0.0, -1.0], [1.0, 0.0]]))
    w = np.array(w)
    np.testing.assert_allclose(sorted(w, key=lambda z: z.imag), [-1j, 1j], atol=1e-6)
    v = np.array(v)
    np.testing.assert_allclose(np.array([[0, -1], [1, 0]]) @ v, v * w[None, :], atol=1e-6)


# ---- LU, det ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("transposed", [False, True])
def test_lu(dtype, shape, transposed):
    x, a = random(shape, dtype, seed=9, transposed=transposed)
    p, l, u = mx.linalg.lu(x)
    assert p.dtype == mx.uint32
    p, l, u = np.array(p), np.array(l), np.array(u)
    check(np.take_along_axis(l @ u, p[..., None].astype(np.int64), axis=-2), a, dtype, 10)
    if a.size:
        sp, sl_, su = sla.lu(a, p_indices=True)
        assert (p == sp).all()
        check(l, sl_, dtype, 10)
        check(u, su, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (1, 1)])
def test_lu_factor(dtype, shape):
    x, a = random(shape, dtype, seed=10)
    lu, piv = mx.linalg.lu_factor(x)
    assert piv.dtype == mx.uint32 and piv.shape == (min(shape),)
    slu, spiv = sla.lu_factor(a) if shape[0] == shape[1] else (None, None)
    if slu is not None:
        check(lu, slu, dtype, 10)
        assert (np.array(piv) == spiv).all()
    else:  # SciPy's lu_factor wants square matrices: compare with getrf directly
        getrf = sla.get_lapack_funcs("getrf", (a,))
        glu, gpiv, _ = getrf(a)
        check(lu, glu, dtype, 10)
        assert (np.array(piv) == gpiv).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE)
def test_det_and_slogdet(dtype, shape):
    x, a = random(shape, dtype, seed=11, kind="well")
    check(mx.linalg.det(x), np.linalg.det(a), dtype, 100)
    sign, logabs = mx.linalg.slogdet(x)
    nsign, nlog = np.linalg.slogdet(a)
    check(sign, nsign, dtype)
    check(logabs, nlog, dtype, 10)


def test_det_of_singular_and_permuted_matrices():
    sing = mx.array([[1.0, 2.0], [2.0, 4.0]], dtype=mx.float64)
    assert mx.linalg.det(sing).item() == 0.0
    sign, logabs = mx.linalg.slogdet(sing)
    assert sign.item() == 0.0 and logabs.item() == -np.inf
    perm = np.eye(3)[[2, 0, 1]]  # an even permutation; one swap makes it odd
    assert mx.linalg.det(mx.array(perm)).item() == pytest.approx(1.0)
    assert mx.linalg.det(mx.array(perm[[1, 0, 2]])).item() == pytest.approx(-1.0)


# ---- norm, cross ------------------------------------------------------------------------

INF = float("inf")


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # NumPy's, for ord < 0 and a zero
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", [None, 2, 1, 0, INF, -INF, 3, 0.5, -1, -2])
@pytest.mark.parametrize("axis", [None, 0, -1, 1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norms(dtype, ord, axis, keepdims):
    x, a = random((3, 4), dtype, seed=12)
    a[0, 1] = 0
    x = mx.array(a, dtype=x.dtype)
    if axis is None:
        x, a = x[1], a[1]  # 1-D input
    got = mx.linalg.norm(x, ord, axis=axis, keepdims=keepdims)
    want = np.linalg.norm(a, ord, axis=axis, keepdims=keepdims)
    assert got.dtype == x.dtype
    check(got, want, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", [None, "fro", "nuc", INF, -INF, 1, -1, 2, -2])
@pytest.mark.parametrize("axis", [None, (0, 1), (1, 0), (-1, -3), (2, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norms(dtype, ord, axis, keepdims):
    x, a = random((3, 2, 4), dtype, seed=13)
    if axis is None:
        x, a = x[0], a[0]
    got = mx.linalg.norm(x, ord, axis=axis, keepdims=keepdims)
    want = np.linalg.norm(a, ord, axis=axis, keepdims=keepdims)
    check(got, want, dtype, 10)


def test_norm_defaults_integer_inputs_and_alias():
    a = np.arange(24).reshape(2, 3, 4) - 12
    got = mx.linalg.norm(mx.array(a))
    assert got.dtype == mx.float32
    check(got, np.linalg.norm(a.ravel()), "float32")
    check(mx.linalg.norm(mx.array(a), keepdims=True), np.linalg.norm(a.ravel()).reshape(1, 1, 1), "float32")
    check(mx.linalg.norm(mx.array(a), 1, axis=1), np.linalg.norm(a, 1, axis=1), "float32")
    check(mx.matrix_norm(mx.array(a), "fro", axis=(0, 2)), np.linalg.norm(a, "fro", axis=(0, 2)), "float32")
    xt, at = random((4, 5), "float64", transposed=True)
    check(mx.linalg.norm(xt, 2), np.linalg.norm(at, 2), "float64")


@pytest.mark.parametrize("ashape,bshape,axis", [((3,), (3,), -1), ((4, 3), (4, 3), -1), ((3, 5), (3, 5), 0),
                                                ((2, 3), (3,), -1), ((2, 1, 3), (4, 3), -1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross(ashape, bshape, axis, dtype):
    x, a = random(ashape, dtype, seed=14)
    y, b = random(bshape, dtype, seed=15)
    check(mx.linalg.cross(x, y, axis=axis), np.cross(a, b, axis=axis), dtype)


def test_cross_of_two_component_vectors_and_ints():
    got = mx.linalg.cross(mx.array([1.0, 2.0]), mx.array([3.0, 4.0]))
    check(got, [0.0, 0.0, -2.0], "float32")
    got = mx.linalg.cross(mx.array([1.0, 2.0]), mx.array([3.0, 4.0, 5.0]))
    check(got, np.cross([1.0, 2.0, 0.0], [3.0, 4.0, 5.0]), "float32")
    got = mx.linalg.cross(mx.array([1, 0, 0]), mx.array([0, 1, 0]))
    assert got.dtype == mx.int32 and got.tolist() == [0, 0, 1]


# ---- errors -----------------------------------------------------------------------------

def raises(op, fn):
    with pytest.raises(ValueError, match=r"\[linalg::" + op + r"\]"):
        r = fn()
        mx.eval(r)


def test_errors():
    sing = mx.array([[1.0, 2.0], [2.0, 4.0]])
    batch = mx.stack([mx.eye(2), sing])
    raises("inv", lambda: mx.linalg.inv(sing))
    raises("inv", lambda: mx.linalg.inv(batch))
    raises("solve", lambda: mx.linalg.solve(sing, mx.array([1.0, 1.0])))
    raises("tri_inv", lambda: mx.linalg.tri_inv(mx.array([[1.0, 0.0], [1.0, 0.0]])))
    raises("solve_triangular", lambda: mx.linalg.solve_triangular(mx.array([[0.0, 0.0], [1.0, 1.0]]), mx.ones((2,))))
    raises("cholesky", lambda: mx.linalg.cholesky(-mx.eye(3)))
    raises("cholesky", lambda: mx.linalg.cholesky(mx.array([[1.0, 2.0], [2.0, 1.0]])))
    for op in ["inv", "cholesky", "eigh", "eigvalsh", "eig", "eigvals", "det", "slogdet", "tri_inv", "cholesky_inv"]:
        raises(op, lambda: getattr(mx.linalg, op)(mx.ones((2, 3))))  # non-square
        raises(op, lambda: getattr(mx.linalg, op)(mx.ones((3, 3), dtype=mx.int32)))  # integer
        raises(op, lambda: getattr(mx.linalg, op)(mx.ones((3, 3), dtype=mx.float16)))
    for op in ["qr", "svd", "pinv", "lu", "lu_factor"]:
        raises(op, lambda: getattr(mx.linalg, op)(mx.ones((3,))))  # one dimension
        raises(op, lambda: getattr(mx.linalg, op)(mx.ones((3, 3), dtype=mx.int32)))
    raises("solve", lambda: mx.linalg.solve(mx.ones((2, 3)), mx.ones((2,))))
    raises("solve", lambda: mx.linalg.solve(mx.eye(3), mx.ones((4,))))
    raises("solve", lambda: mx.linalg.solve(mx.ones((2, 3, 3)), mx.ones((4, 3, 1))))  # batch shapes
    raises("solve", lambda: mx.linalg.solve(mx.eye(3, dtype=mx.int32), mx.ones((3,), dtype=mx.int32)))
    raises("solve_triangular", lambda: mx.linalg.solve_triangular(mx.ones((2, 3, 3)), mx.ones((4, 3, 1))))
    raises("eigh", lambda: mx.linalg.eigh(mx.eye(3), UPLO="X"))
    raises("eigvalsh", lambda: mx.linalg.eigvalsh(mx.eye(3), UPLO="lower"))
    raises("norm", lambda: mx.linalg.norm(mx.ones((3, 3)), 3))
    raises("norm", lambda: mx.linalg.norm(mx.ones((3, 3)), 0))
    raises("norm", lambda: mx.linalg.norm(mx.ones((3, 3)), "abc"))
    raises("norm", lambda: mx.linalg.norm(mx.ones((3,)), "fro"))
    raises("norm", lambda: mx.linalg.norm(mx.ones((3, 3)), "nuc", axis=0))
    raises("norm", lambda: mx.linalg.norm(mx.ones((2, 2, 2)), 2))  # needs axis
    raises("norm", lambda: mx.linalg.norm(mx.ones((2, 2, 2)), axis=(0, 1, 2)))
    raises("norm", lambda: mx.linalg.norm(mx.ones((2, 2)), axis=(1, 1)))
    raises("norm", lambda: mx.linalg.norm(mx.ones((2, 2)), axis=2))
    raises("cross", lambda: mx.linalg.cross(mx.ones((4,)), mx.ones((3,))))
    raises("cross", lambda: mx.linalg.cross(mx.ones((3, 1)), mx.ones((3, 3))))
    with pytest.raises(TypeError):
        mx.linalg.norm(mx.ones((3,)), [1])


def test_nan_inputs():
    nan = mx.array([[float("nan"), 1.0], [1.0, 1.0]])
    for op in ["svd", "eig", "eigvals"]:  # iterative: NumPy refuses these too
        raises(op, lambda: getattr(mx.linalg, op)(nan))
    for f in [mx.linalg.inv, lambda t: mx.linalg.eigh(t)[1], lambda t: mx.linalg.qr(t)[1], mx.linalg.det,
              lambda t: mx.linalg.solve(t, mx.ones((2,)))]:
        assert np.isnan(np.array(f(nan))).any()


# ---- gradients and vmap -----------------------------------------------------------------


GRAD_CASES = {
    "inv": (lambda x: mx.linalg.inv(x), "well", (3, 3)),
    "tri_inv": (lambda x: mx.linalg.tri_inv(x, upper=True), "well", (3, 3)),
    "cholesky": (lambda x: mx.linalg.cholesky(x @ x.T + 3 * mx.eye(3, dtype=x.dtype)), "general", (3, 3)),
    "cholesky_inv": (lambda x: mx.linalg.cholesky_inv(mx.linalg.cholesky(x @ x.T + 3 * mx.eye(3, dtype=x.dtype))),
                     "general", (3, 3)),
    "qr": (lambda x: mx.linalg.qr(x)[0] * 2 + mx.linalg.qr(x)[1][:1, :], "general", (4, 3)),
    "qr_wide": (lambda x: mx.linalg.qr(x)[1], "general", (2, 3)),
    "svd_values": (lambda x: mx.linalg.svd(x, compute_uv=False), "general", (3, 4)),
    "svd_vectors": (lambda x: mx.linalg.svd(x)[0] + mx.linalg.svd(x)[2], "general", (3, 3)),
    "pinv": (lambda x: mx.linalg.pinv(x), "general", (4, 2)),
    "eigh": (lambda x: mx.linalg.eigh(x + x.T)[1] * mx.linalg.eigh(x + x.T)[0], "general", (3, 3)),
    "eigvalsh": (lambda x: mx.linalg.eigvalsh(x + x.T), "general", (4, 4)),
    "det": (lambda x: mx.linalg.det(x), "general", (3, 3)),
    "slogdet": (lambda x: mx.linalg.slogdet(x)[1], "general", (3, 3)),
    "norm_fro": (lambda x: mx.linalg.norm(x), "general", (3, 3)),
    "norm_nuc": (lambda x: mx.linalg.norm(x, "nuc"), "general", (3, 3)),
    "norm_2": (lambda x: mx.linalg.norm(x, 2), "general", (3, 2)),
    "norm_vec3": (lambda x: mx.linalg.norm(x, 3, axis=1), "general", (3, 2)),
    "cross": (lambda x: mx.linalg.cross(x, x[::-1]), "general", (2, 3)),
    "solve": (lambda x: mx.linalg.solve(x, x[:, :2] + 1), "well", (3, 3)),
    "solve_triangular": (lambda x: mx.linalg.solve_triangular(x, x[:, :2] + 1, upper=False), "well", (3, 3)),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_grad_matches_finite_differences(name):
    f, kind, shape = GRAD_CASES[name]
    x, a = random(shape, "float64", seed=21, kind=kind)
    w = np.random.default_rng(22).uniform(-1, 1, np.array(f(x)).shape)
    loss = lambda t: mx.sum(f(t) * mx.array(w, dtype=mx.float64))
    g = np.array(mx.grad(loss)(x))
    want = numerical_grad(lambda v: loss(mx.array(v, dtype=mx.float64)).item(), a, 1e-6)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f", [lambda y: mx.linalg.det(y), lambda y: mx.sum(mx.linalg.inv(y)),
                               lambda y: mx.sum(mx.linalg.eigvalsh(y @ y.T) ** 2),
                               lambda y: mx.sum(mx.linalg.cholesky(y @ y.T + 3 * mx.eye(3, dtype=y.dtype)))])
def test_second_derivatives(f):
    # d/dx <grad f(x), w> by reverse-over-reverse against finite differences of grad f.
    x, a = random((3, 3), "float64", seed=23, kind="well")
    w = mx.array(np.random.default_rng(24).uniform(-1, 1, (3, 3)), dtype=mx.float64)
    inner = lambda t: mx.sum(mx.grad(f)(t) * w)
    got = np.array(mx.grad(inner)(x))
    want = numerical_grad(lambda v: inner(mx.array(v, dtype=mx.float64)).item(), a, 1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_vmap_of_grad_gives_per_matrix_gradients():
    x, a = random((4, 3, 3), "float64", seed=25, kind="well")
    got = np.array(mx.vmap(mx.grad(mx.linalg.det))(x))
    want = np.linalg.det(a)[:, None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)  # Jacobi's formula
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_vmap_and_batched_agree():
    x, a = random((4, 3, 3), "float64", kind="spd")
    for f in [mx.linalg.inv, mx.linalg.cholesky, lambda t: mx.linalg.eigh(t)[0], mx.linalg.det,
              lambda t: mx.linalg.svd(t, compute_uv=False)]:
        check(mx.vmap(f)(x), f(x), "float64")
    check(mx.vmap(mx.linalg.solve, in_axes=(0, None))(x, mx.ones((3,), dtype=mx.float64)),
          np.linalg.solve(a, np.ones((4, 3, 1)))[..., 0], "float64")


def test_eig_has_zero_gradients_and_lu_of_non_square_matrices_none():
    # eig is not differentiable: its cotangent is zero.
    x = mx.array(np.eye(3) + 0.1, dtype=mx.float64)
    g = mx.grad(lambda t: mx.sum(mx.real(mx.linalg.eigvals(t))))(x)
    assert np.array(g).tolist() == np.zeros((3, 3)).tolist()
    # LU is differentiable for square matrices only.
    with pytest.raises(ValueError, match=r"\[linalg::lu_factor\] derivatives need square matrices"):
        mx.grad(lambda t: mx.sum(mx.linalg.lu(t)[2]))(mx.ones((3, 2), dtype=mx.float64))


# ---- against MLX, where installed -------------------------------------------------------

def test_matches_mlx_where_installed():
    mlx = pytest.importorskip("mlx.core")
    a = np.random.default_rng(30).uniform(-1, 1, (2, 4, 3)).astype(np.float32)
    p, l, u = mx.linalg.lu(mx.array(a))
    mp, ml, mu = mlx.linalg.lu(mlx.array(a), stream=mlx.cpu)
    assert np.array(p).tolist() == np.array(mp).tolist()
    np.testing.assert_allclose(np.array(l), np.array(ml), atol=1e-5)
    lu, piv = mx.linalg.lu_factor(mx.array(a))
    mlu, mpiv = mlx.linalg.lu_factor(mlx.array(a), stream=mlx.cpu)
    assert np.array(piv).tolist() == np.array(mpiv).tolist()
    for ord in [None, 2, 1, float("inf"), -1]:
        np.testing.assert_allclose(np.array(mx.linalg.norm(mx.array(a[0]), ord)),
                                   np.array(mlx.linalg.norm(mlx.array(a[0]), ord, stream=mlx.cpu)), rtol=1e-5)
    np.testing.assert_allclose(np.array(mx.linalg.cross(mx.array(a[0]), mx.array(a[1]), axis=1)),
                               np.array(mlx.linalg.cross(mlx.array(a[0]), mlx.array(a[1]), axis=1)), rtol=1e-6)


def test_signatures():
    s = mx.linalg.solve_triangular.__doc__ or ""
    assert "upper" in s
    x = mx.array(np.eye(2) * 2)
    check(mx.linalg.solve_triangular(x, mx.ones((2,)), upper=True, stream=mx.cpu), [0.5, 0.5], "float32")
    check(mx.linalg.norm(a=x, ord="fro", axis=[0, 1], keepdims=True), [[np.sqrt(8)]], "float32")
    w = mx.linalg.eigvalsh(x, UPLO="U")
    check(w, [2.0, 2.0], "float32")
    assert set(dir(mx.linalg)) >= {"norm", "qr", "svd", "inv", "tri_inv", "pinv", "cholesky", "cholesky_inv",
                                   "solve", "solve_triangular", "eig", "eigvals", "eigh", "eigvalsh", "lu",
                                   "lu_factor", "det", "slogdet", "cross"}
