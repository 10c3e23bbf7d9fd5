"""einsum, einsum_path, the special matmuls (block_masked_mm, gather_mm, segmented_mm),
hadamard_transform and the window functions in lazuli.core, against NumPy / SciPy and loop
references: values over dtypes, batches and non-contiguous inputs, path cost against NumPy's
optimal path, gradients against finite differences, and every error path."""

import re

import numpy as np
import pytest
import scipy.linalg

import lazuli.core as mx
from numeric import numerical_grad

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def close(got, want, tol=1e-4):
    got = np.array(got.astype(mx.float32) if got.dtype == mx.bfloat16 else got)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ---- einsum ----------------------------------------------------------------------------

EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("ij,jk,kl,lm->mi", [(3, 4), (4, 5), (5, 2), (2, 6)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ji", [(3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(5,), (3,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,jk->bki", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(2, 3, 4), (4, 2)]),
    ("i...->...", [(3, 2, 4)]),
    ("...,...->...", [(3, 1), (4,)]),
    ("abc,cd,bd->ad", [(2, 3, 4), (4, 5), (3, 5)]),
    ("ab,bc,cd,de,ef->af", [(2, 3), (3, 4), (4, 5), (5, 6), (6, 2)]),
    ("ij,kj,jl->ikl", [(3, 4), (2, 4), (4, 5)]),
    (",ij->ij", [(), (2, 3)]),
    ("ab,bc,cd,de,ef,fg,gh->ah", [(3, 4), (4, 5), (5, 2), (2, 6), (6, 3), (3, 2), (2, 4)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),
    ("ij,jk->ik", [(0, 2), (2, 3)]),
    ("ii->i", [(0, 0)]),
    ("iii->i", [(3, 3, 3)]),
    ("jii->ij", [(2, 3, 3)]),
    ("i...,i...->...", [(3, 1, 5), (3, 4, 1)]),
    ("ab...,b->a...", [(2, 3, 4, 5), (3,)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]),
    ("ij,ji->", [(3, 4), (4, 3)]),
    ("Ab,bC->CA", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EQUATIONS)
def test_einsum_matches_numpy(eq, shapes):
    ops = [rand(*s) for s in shapes]
    got = mx.einsum(eq, *[mx.array(o) for o in ops])
    want = np.einsum(eq, *[o.astype(np.float64) for o in ops])
    assert got.shape == want.shape
    assert got.dtype == mx.float32
    close(got, want)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "int32", "int64"])
def test_einsum_dtypes(dtype):
    a = RNG.integers(-4, 5, (3, 4))
    b = RNG.integers(-4, 5, (4, 5))
    x = mx.array(a).astype(getattr(mx, dtype))
    y = mx.array(b).astype(getattr(mx, dtype))
    got = mx.einsum("ij,jk->ik", x, y)
    assert got.dtype == getattr(mx, dtype)
    close(got, np.einsum("ij,jk->ik", a, b))
    # Mixed dtypes promote as the other binary ops do.
    assert mx.einsum("ij,ij->i", x, mx.array(a).astype(mx.float32)).dtype == (x * mx.ones(1)).dtype


def test_einsum_complex_and_bool():
    a = (rand(3, 4) + 1j * rand(3, 4)).astype(np.complex64)
    b = (rand(4, 2) + 1j * rand(4, 2)).astype(np.complex64)
    got = mx.einsum("ij,jk->ki", mx.array(a), mx.array(b))
    assert got.dtype == mx.complex64
    close(got, np.einsum("ij,jk->ki", a, b))
    p, q = RNG.integers(0, 2, (3, 4)).astype(bool), RNG.integers(0, 2, (4, 5)).astype(bool)
    got = mx.einsum("ij,jk->ik", mx.array(p), mx.array(q))
    assert got.dtype == mx.bool_
    np.testing.assert_array_equal(np.array(got), np.einsum("ij,jk->ik", p, q))


def test_einsum_non_contiguous_inputs():
    a = rand(8, 6)
    b = rand(10, 8)
    c = rand(3, 4, 5)
    x, y, z = mx.array(a), mx.array(b), mx.array(c)
    close(mx.einsum("ij,jk->ik", x.T, y.T), np.einsum("ij,jk->ik", a.T, b.T))
    close(mx.einsum("ij,jk->ik", x[::2, 1:5], y[2::2, ::2]), np.einsum("ij,jk->ik", a[::2, 1:5], b[2::2, ::2]))
    close(mx.einsum("abc->cab", mx.transpose(z, (2, 0, 1))), np.einsum("abc->cab", c.transpose(2, 0, 1)))
    close(mx.einsum("ii->i", x[:6, :6].T), np.einsum("ii->i", a[:6, :6].T))


def test_einsum_size_one_broadcasts():
    a = rand(3, 4)
    close(mx.einsum("ij,j->i", mx.array(a), mx.ones((1,))), a.sum(1))


def path_flops(eq, ops, path):
    info = np.einsum_path(eq, *ops, optimize=path)[1]
    return float(re.search(r"Optimized FLOP count:\s+([0-9.e+]+)", info).group(1))


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk,kl->il", [(256, 1024), (1024, 1024), (1024, 32)]),
    ("ij,jk,kl->il", [(32, 1024), (1024, 1024), (1024, 256)]),
    ("ab,bc,cd,de->ae", [(10, 200), (200, 3), (3, 400), (400, 20)]),
    ("abc,cd,bd->ad", [(20, 30, 40), (40, 50), (30, 50)]),
    ("ij,ik,il,im->jklm", [(30, 4), (30, 5), (30, 6), (30, 7)]),
    ("ea,fb,abcd,gc,hd->efgh", [(10, 10), (10, 10), (10, 10, 10, 10), (10, 10), (10, 10)]),
])
def test_einsum_path_is_at_least_as_cheap_as_numpys_optimal(eq, shapes):
    ops = [np.ones(s, np.float32) for s in shapes]
    path, info = mx.einsum_path(eq, *[mx.array(o) for o in ops])
    assert isinstance(path, list) and all(isinstance(p, tuple) for p in path)
    assert len(path) == len(ops) - 1
    ours = path_flops(eq, ops, ["einsum_path", *path])
    best = path_flops(eq, ops, "optimal")
    assert ours <= best * (1 + 1e-9), (path, info)
    # The report states the same cost and names the equation.
    reported = float(re.search(r"Optimized FLOP count:\s+([0-9.e+]+)", info).group(1))
    assert reported == pytest.approx(ours, rel=1e-3)
    assert "Complete contraction:  " + eq in info


@pytest.mark.parametrize("seed", range(100))
def test_einsum_random_equations_path_cost_and_values(seed):
    rng = np.random.default_rng(seed)
    letters = "abcdefg"
    size = {c: int(rng.integers(1, 9)) for c in letters}
    terms = ["".join(rng.choice(list(letters), int(rng.integers(1, 4)), replace=False))
             for _ in range(int(rng.integers(2, 5)))]
    used = sorted(set("".join(terms)))
    out = "".join(rng.choice(used, int(rng.integers(0, min(3, len(used)) + 1)), replace=False))
    eq = ",".join(terms) + "->" + out
    ops = [rng.standard_normal([size[c] for c in t]) for t in terms]
    path, _ = mx.einsum_path(eq, *[mx.array(o) for o in ops])
    assert path_flops(eq, ops, ["einsum_path", *path]) <= path_flops(eq, ops, "optimal") * (1 + 1e-9), eq
    got = mx.einsum(eq, *[mx.array(o, dtype=mx.float64) for o in ops])
    np.testing.assert_allclose(np.array(got), np.einsum(eq, *ops), rtol=1e-10, atol=1e-10)


def test_einsum_path_greedy_beyond_five_operands_matches_numpy():
    eq = "ab,bc,cd,de,ef,fg,gh->ah"
    ops = [np.ones(s) for s in [(3, 4), (4, 5), (5, 2), (2, 6), (6, 3), (3, 2), (2, 4)]]
    path, _ = mx.einsum_path(eq, *[mx.array(o) for o in ops])
    assert ["einsum_path", *path] == np.einsum_path(eq, *ops, optimize="greedy")[0]


def test_einsum_path_single_operand_and_result():
    path, info = mx.einsum_path("ii->i", mx.ones((3, 3)))
    assert path == [(0,)]
    path, _ = mx.einsum_path("ij,jk,kl->il", mx.ones((256, 1024)), mx.ones((1024, 1024)), mx.ones((1024, 32)))
    assert path == [(1, 2), (0, 1)]
    mlx = pytest.importorskip("mlx.core")
    assert path == mlx.einsum_path("ij,jk,kl->il", mlx.ones((256, 1024)), mlx.ones((1024, 1024)),
                                   mlx.ones((1024, 32)))[0]


@pytest.mark.parametrize("eq,shapes,needle", [
    ("ij,jk", [(2, 3)], "Number of operands, 1"),
    ("ij,jk", [(2, 3), (4, 3)], "'j'"),
    ("ij->ik", [(2, 3)], "'k'"),
    ("ij->ii", [(2, 3)], "repeated"),
    ("i1", [(2, 3)], "'1'"),
    ("ijk", [(2, 3)], "3"),
    ("i.j", [(2, 3)], "'.'"),
    ("...i...", [(2, 3)], "'...'"),
    ("...i->i", [(2, 3)], "'...'"),
    ("ii", [(2, 3)], "'i'"),
    ("ij->j->i", [(2, 3)], "'->'"),
])
def test_einsum_errors(eq, shapes, needle):
    with pytest.raises(ValueError, match=r"\[einsum\]") as e:
        mx.einsum(eq, *[mx.ones(s) for s in shapes])
    assert needle in str(e.value)
    with pytest.raises(ValueError, match=r"\[einsum\]"):
        mx.einsum_path(eq, *[mx.ones(s) for s in shapes])
    with pytest.raises(TypeError):
        mx.einsum("ij", mx.ones((2, 2)), bogus=1)


def check_grad(fn, *args):
    """mx.grad of fn(*args) (float64) with respect to every argument against differences."""
    f64 = lambda v: mx.array(v, dtype=mx.float64)
    w = rand(*np.array(fn(*[f64(a) for a in args])).shape, dtype=np.float64)
    loss = lambda *xs: mx.sum(fn(*xs) * f64(w))
    grads = mx.grad(loss, argnums=tuple(range(len(args))))(*[f64(a) for a in args])
    grads = grads if len(args) > 1 else (grads,)  # MLX returns one argnum's gradient bare
    for i, a in enumerate(args):
        def f(x, i=i):
            xs = [f64(v) for v in args]
            xs[i] = f64(x)
            return float(np.array(loss(*xs)))
        assert grads[i].dtype == mx.float64
        np.testing.assert_allclose(np.array(grads[i]), numerical_grad(f, a, 1e-6), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("bii,bi->b", [(2, 3, 3), (2, 3)]),
    ("...ij,...j->...i", [(2, 3, 4), (4,)]),
    ("ij,ij->j", [(3, 4), (3, 4)]),
])
def test_einsum_gradients(eq, shapes):
    check_grad(lambda *xs: mx.einsum(eq, *xs), *[rand(*s, dtype=np.float64) for s in shapes])


def test_einsum_under_vmap_and_jvp():
    a, b = rand(4, 3, 5), rand(5, 2)
    got = mx.vmap(lambda x: mx.einsum("ij,jk->ki", x, mx.array(b)))(mx.array(a))
    close(got, np.einsum("bij,jk->bki", a, b))
    x, y = rand(4, 3, 3), rand(3, 4)
    got = mx.vmap(lambda u, v: mx.einsum("ii,i->", u, v), in_axes=(0, 1))(mx.array(x), mx.array(y))
    close(got, np.einsum("bii,ib->b", x, y))
    t = rand(4, 3, 5)
    _, (jt,) = mx.jvp(lambda x: mx.einsum("bij,jk->bik", x, mx.array(b)), [mx.array(a)], [mx.array(t)])
    close(jt, np.einsum("bij,jk->bik", t, b))


def test_einsum_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    a, b, c = rand(2, 3, 4), rand(4, 5), rand(2, 5)
    got = mx.einsum("bij,jk,bk->bi", mx.array(a), mx.array(b), mx.array(c))
    want = mlx.einsum("bij,jk,bk->bi", mlx.array(a), mlx.array(b), mlx.array(c))
    close(got, np.array(want))


# ---- block_masked_mm -------------------------------------------------------------------

def block_masked_reference(a, b, bs, mask_out=None, mask_lhs=None, mask_rhs=None):
    """Loop over the blocks: each block of a, b and the output times its mask element."""
    a = a.astype(np.float64).copy()
    b = b.astype(np.float64).copy()
    def apply(x, m):
        if m is None:
            return x
        m = np.broadcast_to(m, x.shape[:-2] + m.shape[-2:]).astype(np.float64)
        x = np.broadcast_to(x, np.broadcast_shapes(x.shape, m.shape[:-2] + x.shape[-2:])).copy()
        for i in range(x.shape[-2]):
            for j in range(x.shape[-1]):
                x[..., i, j] *= m[..., i // bs, j // bs]
        return x
    return apply(apply(a, mask_lhs) @ apply(b, mask_rhs), mask_out)


@pytest.mark.parametrize("bs", [32, 64, 16])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_block_masked_mm_matches_loops(bs, batch):
    M, K, N = 70, 40, 33
    a, b = rand(*batch, M, K), rand(K, N)
    cb = lambda n: -(-n // bs)
    mo = RNG.integers(0, 2, (*batch, cb(M), cb(N))).astype(bool)
    ml = RNG.integers(0, 2, (cb(M), cb(K))).astype(bool)
    mr = rand(cb(K), cb(N))  # float masks scale their blocks
    got = mx.block_masked_mm(mx.array(a), mx.array(b), bs, mx.array(mo), mx.array(ml), mx.array(mr))
    close(got, block_masked_reference(a, b, bs, mo, ml, mr), 1e-3)
    # Any subset of masks, by keyword; a non-contiguous a.
    got = mx.block_masked_mm(mx.array(a).swapaxes(-1, -2).swapaxes(-1, -2), mx.array(b), block_size=bs,
                             mask_rhs=mx.array(mr))
    close(got, block_masked_reference(a, b, bs, mask_rhs=mr), 1e-3)
    close(mx.block_masked_mm(mx.array(a), mx.array(b)), a.astype(np.float64) @ b, 1e-3)


def test_block_masked_mm_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    a, b = rand(70, 40), rand(40, 33)
    mo = np.array([[True, False], [False, True], [True, True]])
    ml = np.array([[2.0, 1], [1, 1], [0, 1]], np.float32)
    mr = np.array([[0.5, 1], [1, 1]], np.float32)
    got = mx.block_masked_mm(mx.array(a), mx.array(b), 32, mx.array(mo), mx.array(ml), mx.array(mr))
    want = mlx.block_masked_mm(mlx.array(a), mlx.array(b), 32, mlx.array(mo), mlx.array(ml), mlx.array(mr))
    close(got, np.array(want), 1e-3)


def test_block_masked_mm_errors():
    a, b = mx.ones((70, 40)), mx.ones((40, 33))
    for kwargs, needle in [
        (dict(block_size=0), "block_size"),
        (dict(block_size=-32), "-32"),
        (dict(block_size=32, mask_out=mx.ones((2, 2), dtype=mx.bool_)), "mask_out"),
        (dict(block_size=32, mask_lhs=mx.ones((3, 3), dtype=mx.bool_)), "mask_lhs"),
        (dict(block_size=32, mask_rhs=mx.ones((2,), dtype=mx.bool_)), "mask_rhs"),
    ]:
        with pytest.raises(ValueError, match=r"\[block_masked_mm\]") as e:
            mx.block_masked_mm(a, b, **kwargs)
        assert needle in str(e.value)
    # Mask batch dimensions must broadcast against the product's.
    with pytest.raises(ValueError, match=r"\[block_masked_mm\]") as e:
        mx.block_masked_mm(mx.ones((2, 70, 40)), b, 32, mx.ones((3, 3, 2), dtype=mx.bool_))
        assert needle in str(e.value)
    with pytest.raises(ValueError, match=r"\[block_masked_mm\]"):
        mx.block_masked_mm(a, mx.ones((41, 3)))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\]"):
        mx.block_masked_mm(mx.ones((2, 2), dtype=mx.int32), mx.ones((2, 2), dtype=mx.int32))


def test_block_masked_mm_gradients():
    a, b = rand(4, 6, dtype=np.float64), rand(6, 5, dtype=np.float64)
    mo = mx.array([[True, False, True], [True, True, False]])
    ml = mx.array([[1.0, 0.5, 2.0], [0.0, 1.0, 1.0]], dtype=mx.float64)
    check_grad(lambda x, y: mx.block_masked_mm(x, y, 2, mo, ml, None), a, b)


# ---- gather_mm -------------------------------------------------------------------------

def gather_reference(a, b, li, ri):
    a3 = a.reshape(-1, *a.shape[-2:]).astype(np.float64)
    b3 = b.reshape(-1, *b.shape[-2:]).astype(np.float64)
    li, ri = np.broadcast_arrays(li, ri)
    out = np.zeros(li.shape + (a.shape[-2], b.shape[-1]))
    for idx in np.ndindex(li.shape):
        out[idx] = a3[li[idx]] @ b3[ri[idx]]
    return out


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64", "int32"])
def test_special_matmul_dtypes(dtype):
    a = RNG.integers(-3, 4, (3, 2, 4))
    b = RNG.integers(-3, 4, (3, 4, 5))
    x, y = mx.array(a).astype(getattr(mx, dtype)), mx.array(b).astype(getattr(mx, dtype))
    got = mx.gather_mm(x, y, mx.array([2, 0]), mx.array([1, 1]))
    assert got.dtype == getattr(mx, dtype)
    close(got, gather_reference(a, b, np.array([2, 0]), np.array([1, 1])))
    got = mx.segmented_mm(x[0], y[0], mx.array([[0, 2], [1, 4]]))
    assert got.dtype == getattr(mx, dtype)
    close(got, segmented_reference(a[0], b[0], [[0, 2], [1, 4]]))


@pytest.mark.parametrize("idx_dtype", [np.int32, np.uint32, np.int64])
def test_gather_mm_matches_loops(idx_dtype):
    a, b = rand(3, 2, 4, 5), rand(7, 5, 3)
    li = RNG.integers(0, 6, (4, 1)).astype(idx_dtype)
    ri = RNG.integers(0, 7, (1, 6)).astype(idx_dtype)
    got = mx.gather_mm(mx.array(a), mx.array(b), mx.array(li), mx.array(ri))
    assert got.shape == (4, 6, 4, 3)
    close(got, gather_reference(a, b, li, ri))
    # Sorted indices (a hint) and non-contiguous operands.
    ri_sorted = np.sort(RNG.integers(0, 7, 2)).astype(idx_dtype)
    at = mx.array(a.swapaxes(-1, -2).copy()).swapaxes(-1, -2)
    got = mx.gather_mm(at, mx.array(b), None, mx.array(ri_sorted), sorted_indices=True)
    close(got, gather_reference(a, b, np.arange(6).reshape(3, 2), ri_sorted))


def test_gather_mm_defaults_and_vectors():
    a, b = rand(2, 3, 5), rand(2, 5, 4)
    close(mx.gather_mm(mx.array(a), mx.array(b)), a.astype(np.float64) @ b)
    close(mx.gather_mm(mx.array(a), mx.array(b), None, mx.array([[1], [0]])),
          gather_reference(a, b, np.arange(2), np.array([[1], [0]])))
    v = rand(5)
    got = mx.gather_mm(mx.array(v), mx.array(b), None, mx.array([1]))
    assert got.shape == (1, 4)
    close(got, (v.astype(np.float64) @ b[1])[None])
    mlx = pytest.importorskip("mlx.core")
    want = mlx.gather_mm(mlx.array(a), mlx.array(b), None, mlx.array([[1], [0]]))
    close(mx.gather_mm(mx.array(a), mx.array(b), None, mx.array([[1], [0]])), np.array(want))


def test_gather_mm_errors():
    a, b = mx.ones((2, 3, 5)), mx.ones((3, 5, 4))
    with pytest.raises(ValueError, match=r"\[gather_mm\].*lhs_indices.*float32"):
        mx.gather_mm(a, b, mx.array([1.0]), None)
    with pytest.raises(ValueError, match=r"\[gather_mm\].*rhs_indices.*bool"):
        mx.gather_mm(a, b, None, mx.array([True]))
    with pytest.raises(ValueError, match=r"\[gather_mm\].*\(2,\).*\(3,\)"):
        mx.gather_mm(a, b)
    with pytest.raises(ValueError, match=r"\[gather_mm\].*\(2, 3, 5\)"):
        mx.gather_mm(a, mx.ones((3, 4, 4)), mx.array([0]), mx.array([0]))


def test_gather_mm_vmap_over_indices_and_matrices():
    a, b = rand(3, 2, 4), rand(5, 4, 3)
    idx = RNG.integers(0, 5, (4, 6)).astype(np.int32)  # 4 samples of 6 rhs indices
    got = mx.vmap(lambda i: mx.gather_mm(mx.array(a), mx.array(b), mx.array([0, 1, 2, 0, 1, 2]), i))(mx.array(idx))
    want = np.stack([gather_reference(a, b, np.array([0, 1, 2, 0, 1, 2]), i) for i in idx])
    close(got, want)
    bs = rand(2, 5, 4, 3)  # mapped matrices and mapped indices together
    got = mx.vmap(lambda m, i: mx.gather_mm(mx.array(a), m, None, i[:3]))(mx.array(bs), mx.array(idx[:2]))
    want = np.stack([gather_reference(a, bs[v], np.arange(3), idx[v, :3]) for v in range(2)])
    close(got, want)


def test_gather_mm_out_of_range_and_negative_indices():
    a, b = rand(3, 2, 4), rand(5, 4, 3)
    close(mx.gather_mm(mx.array(a), mx.array(b), mx.array([-1]), mx.array([-5])), gather_reference(a, b, [2], [0]))
    with pytest.raises(Exception, match=r"\[gather_mm\].*7"):
        mx.eval(mx.gather_mm(mx.array(a), mx.array(b), mx.array([0]), mx.array([7])))


def test_gather_mm_gradients():
    a, b = rand(3, 2, 4, dtype=np.float64), rand(2, 4, 3, dtype=np.float64)
    li, ri = mx.array([2, 0, 2]), mx.array([1, 1, 0])
    check_grad(lambda x, y: mx.gather_mm(x, y, li, ri), a, b)


# ---- segmented_mm ----------------------------------------------------------------------

def segmented_reference(a, b, segments):
    """Per segment, the product over its columns; bounds clip to [0, K], empty ones give 0."""
    segments = np.asarray(segments)
    out = np.zeros(segments.shape[:-1] + (a.shape[0], b.shape[1]))
    for idx in np.ndindex(segments.shape[:-1]):
        s, e = np.clip(segments[idx], 0, a.shape[1])
        out[idx] = a[:, s:e].astype(np.float64) @ b[s:e]
    return out


@pytest.mark.parametrize("segments", [[0, 10], [[0, 3], [3, 10]], [[0, 3], [3, 10], [5, 5]],
                                      [[[0, 2], [2, 4]], [[4, 9], [1, 8]]], [[-3, 4], [8, 20], [7, 2]]])
def test_segmented_mm_matches_loops(segments):
    a, b = rand(3, 10), rand(10, 4)
    seg = np.array(segments, np.int32)
    got = mx.segmented_mm(mx.array(a), mx.array(b), mx.array(seg))
    close(got, segmented_reference(a, b, seg))
    # Non-contiguous inputs.
    got = mx.segmented_mm(mx.array(a.T.copy()).T, mx.array(b.T.copy()).T, mx.array(seg))
    close(got, segmented_reference(a, b, seg))


def test_segmented_mm_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    a, b = rand(3, 10), rand(10, 4)
    seg = np.array([[0, 3], [3, 10], [5, 5]], np.int32)
    close(mx.segmented_mm(mx.array(a), mx.array(b), mx.array(seg)),
          np.array(mlx.segmented_mm(mlx.array(a), mlx.array(b), mlx.array(seg))))


def test_segmented_mm_errors():
    a, b = mx.ones((3, 10)), mx.ones((10, 4))
    with pytest.raises(ValueError, match=r"\[segmented_mm\].*integral.*float32"):
        mx.segmented_mm(a, b, mx.array([[0.0, 3.0]]))
    with pytest.raises(ValueError, match=r"\[segmented_mm\].*\(3,\)"):
        mx.segmented_mm(a, b, mx.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[segmented_mm\].*\(2, 3, 10\)"):
        mx.segmented_mm(mx.ones((2, 3, 10)), b, mx.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[segmented_mm\]"):
        mx.segmented_mm(a, mx.ones((9, 4)), mx.array([0, 1]))


def test_segmented_mm_vmap():
    a, b = rand(4, 3, 10), rand(4, 10, 2)
    segs = RNG.integers(0, 11, (4, 3, 2)).astype(np.int32)
    loop = lambda av, bv, sv: np.stack([segmented_reference(av[v], bv[v], sv[v]) for v in range(4)])
    # Mapped segments only; a, b and segments all mapped (the masked form).
    got = mx.vmap(lambda sg: mx.segmented_mm(mx.array(a[0]), mx.array(b[0]), sg))(mx.array(segs))
    close(got, loop(np.broadcast_to(a[0], a.shape), np.broadcast_to(b[0], b.shape), segs))
    got = mx.vmap(mx.segmented_mm)(mx.array(a), mx.array(b), mx.array(segs))
    close(got, loop(a, b, segs))
    got = mx.vmap(lambda x, y: mx.segmented_mm(x, y, mx.array(segs[0])), in_axes=(0, 2))(
        mx.array(a), mx.array(b.transpose(1, 2, 0)))
    close(got, loop(a, b, np.broadcast_to(segs[0], segs.shape)))


def test_segmented_mm_gradients():
    a, b = rand(2, 6, dtype=np.float64), rand(6, 3, dtype=np.float64)
    seg = mx.array([[0, 2], [2, 6], [1, 4]])
    check_grad(lambda x, y: mx.segmented_mm(x, y, seg), a, b)


# ---- hadamard_transform ----------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 4, 16, 256, 4096])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_hadamard_matches_scipy(n, dtype):
    x = rand(3, n)
    xa = mx.array(x).astype(getattr(mx, dtype))
    ref = np.array(xa.astype(mx.float32)).astype(np.float64) @ scipy.linalg.hadamard(n).T
    tol = 1e-4 if dtype == "float32" else 3e-2
    got = mx.hadamard_transform(xa)
    assert got.dtype == getattr(mx, dtype)
    close(got, ref / np.sqrt(n), tol * max(1, np.sqrt(n) / 4))
    close(mx.hadamard_transform(xa, scale=0.25), ref * 0.25, tol * max(1, n / 16))


@pytest.mark.parametrize("rows,n,dtype", [(1000, 8, "float32"), (777, 16, "float16"), (3001, 2, "float32"),
                                          (333, 48, "float32"), (129, 40, "bfloat16"), (70001, 4, "float32")])
def test_hadamard_many_short_rows(rows, n, dtype):
    # Short rows are transformed in groups: every group, and a partial last one, must match.
    x = mx.array(rand(rows, n)).astype(getattr(mx, dtype))
    xf = np.array(x.astype(mx.float32)).astype(np.float64)
    T = np.array(mx.hadamard_transform(mx.eye(n, dtype=mx.float64), scale=1.0))
    if n & (n - 1) == 0:
        np.testing.assert_array_equal(T, scipy.linalg.hadamard(n).T)
    close(mx.hadamard_transform(x), xf @ T / np.sqrt(n), 1e-4 if dtype == "float32" else 3e-2)


def test_hadamard_batches_non_contiguous_and_integers():
    x = rand(4, 8, 2)
    H = scipy.linalg.hadamard(8)
    got = mx.hadamard_transform(mx.array(x).swapaxes(1, 2), scale=1.0)  # a transposed view
    close(got, np.einsum("ij,bkj->bki", H, x.swapaxes(1, 2)))
    got = mx.hadamard_transform(mx.array(rand(3, 32))[:, ::2], 1.0)  # a strided view
    assert got.shape == (3, 16)
    i = mx.array(np.arange(8, dtype=np.int32))
    assert mx.hadamard_transform(i).dtype == mx.float32
    close(mx.hadamard_transform(i, 1.0), H @ np.arange(8))
    close(mx.hadamard_transform(mx.array(2.0)), np.array(2.0))
    assert mx.hadamard_transform(mx.zeros((0, 8))).shape == (0, 8)


@pytest.mark.parametrize("m", [12, 20, 28])
@pytest.mark.parametrize("p", [1, 2, 8])
def test_hadamard_other_orders(m, p):
    n = m * p
    T = np.array(mx.hadamard_transform(mx.eye(n), scale=1.0))  # rows: H applied to e_j
    assert set(np.unique(T)) == {-1.0, 1.0}
    np.testing.assert_allclose(T @ T.T, n * np.eye(n))
    # The 2^k part is Sylvester's matrix, the m part most significant.
    Hm = T[::p, ::p]
    np.testing.assert_array_equal(T, np.kron(Hm, scipy.linalg.hadamard(p)))
    x = rand(2, n)
    close(mx.hadamard_transform(mx.array(x)), x.astype(np.float64) @ T / np.sqrt(n))
    mlx = pytest.importorskip("mlx.core")
    close(mx.hadamard_transform(mx.array(x)), np.array(mlx.hadamard_transform(mlx.array(x))))


@pytest.mark.parametrize("n", [8, 12, 20, 56])
def test_hadamard_gradient_is_the_transposed_transform(n):
    x = rand(2, n, dtype=np.float64)
    check_grad(lambda y: mx.hadamard_transform(y, scale=0.5), x)
    # jvp is the transform of the tangent.
    t = rand(2, n, dtype=np.float64)
    xa, ta = mx.array(x, dtype=mx.float64), mx.array(t, dtype=mx.float64)
    _, (jt,) = mx.jvp(lambda y: mx.hadamard_transform(y), [xa], [ta])
    close(jt, t @ np.array(mx.hadamard_transform(mx.eye(n, dtype=mx.float64))), 1e-9)
    # vmap over a leading axis.
    close(mx.vmap(mx.hadamard_transform)(xa), np.array(mx.hadamard_transform(xa)), 1e-9)


def test_hadamard_vmap_over_the_last_axis_and_complex():
    x = rand(8, 3)
    close(mx.vmap(mx.hadamard_transform, in_axes=1)(mx.array(x)), np.array(mx.hadamard_transform(mx.array(x.T))))
    c = np.array([1 + 2j, 3 - 1j, 0.5j, 2], np.complex64)
    got = mx.hadamard_transform(mx.array(c), 1.0)
    assert got.dtype == mx.complex64
    np.testing.assert_allclose(np.array(got), scipy.linalg.hadamard(4) @ c, atol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (2, 6), (24 * 3,), (0,), (36,)])
def test_hadamard_errors(shape):
    with pytest.raises(ValueError, match=r"\[hadamard_transform\].*size " + str(shape[-1])):
        mx.hadamard_transform(mx.ones(shape))


# ---- window functions ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bartlett", "hanning", "hamming", "blackman"])
@pytest.mark.parametrize("M", [-2, 0, 1, 2, 5, 10, 51])
def test_windows_match_numpy(name, M):
    got = getattr(mx, name)(M)
    want = getattr(np, name)(M)
    assert got.dtype == mx.float32
    assert got.shape == want.shape
    np.testing.assert_allclose(np.array(got), want, atol=1e-6)
