"""The module-level ops of lazuli.core against NumPy: values, result dtypes (MLX's rules),
shapes (0-d, empty, broadcasting), non-contiguous NumPy inputs, keyword arguments and
defaults, weak Python scalars, error types, and which MLX names exist."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

import lazuli.core as mx

# ---------------------------------------------------------------------------- helpers

NP_OF = {
    "bool_": np.bool_,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float16": np.float16,
    "float32": np.float32,
    "complex64": np.complex64,
}
SIGNED = ["int8", "int16", "int32", "int64"]
UNSIGNED = ["uint8", "uint16", "uint32", "uint64"]
INTS = SIGNED + UNSIGNED
FLOATS = ["float16", "float32"]
REAL = ["bool_"] + INTS + FLOATS
ALL = REAL + ["complex64"]


def D(name):
    """The lazuli dtype object of a name."""
    return getattr(mx, name)


def dname(dtype):
    name = str(dtype).split(".")[-1]
    return "bool_" if name in ("bool", "bool_") else name


def tol(dtype_name, loose=False):
    if dtype_name == "float16":
        return dict(rtol=4e-3 if loose else 2e-3, atol=4e-3 if loose else 1e-3)
    if dtype_name in ("float32", "complex64"):
        return dict(rtol=2e-5 if loose else 1e-5, atol=2e-6 if loose else 1e-6)
    return dict(rtol=0, atol=0)


def check(out, expected, dtype=None, loose=False):
    """out is a lazuli array equal to the NumPy value `expected` (shape and values), of `dtype`."""
    assert isinstance(out, mx.array), type(out)
    expected = np.asarray(expected)
    assert tuple(out.shape) == expected.shape, (out.shape, expected.shape)
    if dtype is not None:
        assert out.dtype == D(dtype), (out.dtype, dtype)
    got = np.array(out)
    assert got.shape == expected.shape
    kind = dname(out.dtype)
    if kind in ("float16", "float32", "complex64"):
        np.testing.assert_allclose(
            got.astype(np.complex128), expected.astype(np.complex128), equal_nan=True, **tol(kind, loose)
        )
    else:
        np.testing.assert_array_equal(got, expected)


def sample(dtype, shape=(3, 4), lo=-3.0, hi=3.0, seed=0):
    """NumPy data of a dtype in [lo, hi] (clamped to the dtype's range)."""
    rng = np.random.default_rng(seed)
    if dtype == "bool_":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype in INTS:
        lo_ = max(math.ceil(lo), 0) if dtype in UNSIGNED else math.ceil(lo)
        return rng.integers(lo_, math.floor(hi) + 1, size=shape).astype(NP_OF[dtype])
    x = rng.uniform(lo, hi, size=shape)
    if dtype == "complex64":
        x = x + 1j * rng.uniform(lo, hi, size=shape)
    return x.astype(NP_OF[dtype])


def noncontig(x):
    """A non-contiguous NumPy view with the values of x."""
    big = np.empty(x.shape + (2,), dtype=x.dtype)
    big[..., 0] = x
    v = big[..., 0]
    assert not v.flags.c_contiguous or v.size <= 1
    return v


# ---------------------------------------------------------------------------- unary

def _erfinv(x):
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros_like(x)
    erf = np.vectorize(math.erf)
    for _ in range(60):
        y = y - (erf(y) - x) / (2 / math.sqrt(math.pi) * np.exp(-y * y))
    return y


# name: (NumPy reference, domain (lo, hi), result kind). Kinds: "same" keeps the dtype,
# "float" makes ints float32 and keeps floats, "bool" gives bool.
UNARY = {
    "abs": (np.abs, (-3, 3), "same"),
    "negative": (np.negative, (-3, 3), "same"),
    "sign": (np.sign, (-3, 3), "same"),
    "square": (np.square, (-3, 3), "same"),
    "floor": (np.floor, (-3, 3), "same"),
    "ceil": (np.ceil, (-3, 3), "same"),
    "trunc": (np.trunc, (-3, 3), "same"),
    "round": (np.round, (-3, 3), "same"),
    "sqrt": (np.sqrt, (0.1, 3), "float"),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.5, 3), "float"),
    "reciprocal": (np.reciprocal, (0.5, 3), "float"),
    "exp": (np.exp, (-3, 3), "float"),
    "expm1": (np.expm1, (-3, 3), "float"),
    "log": (np.log, (0.5, 3), "float"),
    "log1p": (np.log1p, (0.1, 3), "float"),
    "log2": (np.log2, (0.5, 3), "float"),
    "log10": (np.log10, (0.5, 3), "float"),
    "sin": (np.sin, (-3, 3), "float"),
    "cos": (np.cos, (-3, 3), "float"),
    "tan": (np.tan, (-1, 1), "float"),
    "arcsin": (np.arcsin, (-0.9, 0.9), "float"),
    "arccos": (np.arccos, (-0.9, 0.9), "float"),
    "arctan": (np.arctan, (-3, 3), "float"),
    "sinh": (np.sinh, (-3, 3), "float"),
    "cosh": (np.cosh, (-3, 3), "float"),
    "tanh": (np.tanh, (-3, 3), "float"),
    "arcsinh": (np.arcsinh, (-3, 3), "float"),
    "arccosh": (np.arccosh, (1.1, 3), "float"),
    "arctanh": (np.arctanh, (-0.9, 0.9), "float"),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-3, 3), "float"),
    "erf": (np.vectorize(math.erf), (-2, 2), "float"),
    "erfinv": (_erfinv, (-0.9, 0.9), "float"),
    "degrees": (np.degrees, (-3, 3), "float"),
    "radians": (np.radians, (-3, 3), "float"),
    "logical_not": (np.logical_not, (-2, 2), "bool"),
    "isnan": (np.isnan, (-3, 3), "bool"),
    "isinf": (np.isinf, (-3, 3), "bool"),
    "isfinite": (np.isfinite, (-3, 3), "bool"),
    "isposinf": (np.isposinf, (-3, 3), "bool"),
    "isneginf": (np.isneginf, (-3, 3), "bool"),
}
# Integer dtypes are tested where the domain holds integers.
INT_OK = {name for name, (_, (lo, hi), _) in UNARY.items() if hi - lo >= 2 and hi >= 2}


def unary_cases():
    for name, (_, (lo, hi), kind) in UNARY.items():
        for d in FLOATS + ["int32", "uint8", "int8", "int64"]:
            if d in INTS and name not in INT_OK:
                continue
            if d in UNSIGNED and name in ("negative",):
                continue
            yield name, d


@pytest.mark.parametrize("name,dtype", list(unary_cases()))
def test_unary_matches_numpy(name, dtype):
    ref, (lo, hi), kind = UNARY[name]
    x = sample(dtype, (3, 5), lo, hi)
    if dtype in INTS and lo > 0:
        x = np.maximum(x, NP_OF[dtype](math.ceil(lo)))
    out = getattr(mx, name)(mx.array(x))
    want = {"same": dtype, "float": dtype if dtype in FLOATS else "float32", "bool": "bool_"}[kind]
    expected = ref(x.astype(np.float64) if dtype in FLOATS or kind == "float" else x)
    check(out, np.asarray(expected).astype(NP_OF[want]), want, loose=True)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "sign", "abs", "floor"])
def test_unary_special_values(name):
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.5], dtype=np.float32)
    ref = UNARY[name][0]
    check(getattr(mx, name)(mx.array(x)), ref(x))


@pytest.mark.parametrize("name,ref", [
    ("abs", np.abs), ("negative", np.negative), ("square", np.square), ("sqrt", np.sqrt),
    ("exp", np.exp), ("log", np.log), ("sin", np.sin), ("cos", np.cos),
    ("conjugate", np.conjugate), ("conj", np.conj), ("real", np.real), ("imag", np.imag),
    ("isfinite", np.isfinite), ("isnan", np.isnan),
])
def test_unary_complex(name, ref):
    x = sample("complex64", (2, 3), -2, 2)
    out = getattr(mx, name)(mx.array(x))
    expected = ref(x.astype(np.complex128))
    want = {"abs": "float32", "real": "float32", "imag": "float32", "isfinite": "bool_", "isnan": "bool_"}.get(
        name, "complex64")
    check(out, expected, want, loose=True)


def test_real_imag_of_real_input():
    x = np.array([1.5, -2.0], dtype=np.float32)
    check(mx.real(mx.array(x)), x, "float32")
    check(mx.imag(mx.array(x)), np.zeros(2), "float32")


@pytest.mark.parametrize("dtype", INTS + ["bool_"])
def test_bitwise_invert(dtype):
    x = sample(dtype, (4,), 0, 5)
    check(mx.bitwise_invert(mx.array(x)), np.invert(x), dtype)


@pytest.mark.parametrize("dtype", REAL)
def test_logical_not_all_dtypes(dtype):
    x = sample(dtype, (5,), -1, 1)
    check(mx.logical_not(mx.array(x)), np.logical_not(x), "bool_")


def test_positive():
    x = np.array([1, -2, 3], dtype=np.int16)
    check(mx.positive(mx.array(x)), x, "int16")
    check(mx.positive(-1.5), np.float32(-1.5), "float32")


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_decimals(decimals):
    x = np.array([1.2345, -2.5, 0.5, 1.5, 123.456, -0.049], dtype=np.float32)
    check(mx.round(mx.array(x), decimals), np.round(x.astype(np.float64), decimals), "float32", loose=True)
    check(mx.round(mx.array(x), decimals=decimals), np.round(x.astype(np.float64), decimals), loose=True)


def test_round_default_and_int():
    check(mx.round(mx.array([0.5, 1.5, 2.5, -0.5])), [0.0, 2.0, 2.0, -0.0], "float32")
    check(mx.round(mx.array([1, 2], mx.int32), 1), [1, 2], "int32")


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (1,), (2, 1, 3)])
def test_unary_shapes(shape):
    x = sample("float32", shape, -2, 2)
    check(mx.exp(mx.array(x)), np.exp(x.astype(np.float64)), "float32")
    check(mx.abs(mx.array(x)), np.abs(x), "float32")


def test_unary_scalars_and_numpy_inputs():
    check(mx.abs(-1.5), np.float32(1.5), "float32")
    check(mx.abs(-3), np.int32(3), "int32")
    check(mx.isnan(1.0), np.bool_(False), "bool_")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    check(mx.sqrt(x), np.sqrt(x))  # a NumPy array directly
    v = x[:, ::2].T  # non-contiguous
    check(mx.sqrt(v), np.sqrt(v))
    check(mx.negative(noncontig(x)), -x)


def test_numpy_0d_and_scalar_inputs_stay_0d():
    check(mx.exp(np.array(1.0, dtype=np.float32)), np.exp(np.float32(1)), "float32")
    check(mx.add(np.float16(1.5), mx.array([1.0], mx.float16)), [2.5], "float16")
    check(mx.sum(np.int8(3)), np.int32(3), "int32")
    check(mx.reshape(np.array(7), (1,)), [7])


def test_unary_float64_numpy_becomes_float32():
    check(mx.exp(np.array([0.0, 1.0])), np.exp([0.0, 1.0]), "float32")


def test_trig_aliases_are_the_same_functions():
    pairs = {"acos": "arccos", "acosh": "arccosh", "asin": "arcsin", "asinh": "arcsinh", "atan": "arctan",
             "atanh": "arctanh", "atan2": "arctan2", "pow": "power", "bitwise_left_shift": "left_shift",
             "bitwise_right_shift": "right_shift", "conj": "conjugate", "concat": None, "permute_dims": "transpose"}
    for alias, target in pairs.items():
        assert hasattr(mx, alias), alias
        if target is not None:
            assert getattr(mx, alias) is getattr(mx, target), alias
    check(mx.acos(mx.array([0.5])), np.arccos([0.5]))
    check(mx.atan2(mx.array([1.0]), mx.array([-1.0])), np.arctan2([1.0], [-1.0]))
    check(mx.pow(mx.array([2, 3]), 2), [4, 9], "int32")


# ---------------------------------------------------------------------------- binary

# name: (NumPy reference, result kind, dtypes to test). Kinds: "promote" uses MLX's promotion,
# "float" promotes then makes ints float32, "bool" gives bool.
BINARY = {
    "add": (np.add, "promote", REAL + ["complex64"]),
    "subtract": (np.subtract, "promote", INTS + FLOATS + ["complex64"]),
    "multiply": (np.multiply, "promote", REAL + ["complex64"]),
    "divide": (np.true_divide, "float", INTS + FLOATS + ["complex64"]),
    "floor_divide": (np.floor_divide, "promote", INTS + FLOATS),
    "remainder": (np.remainder, "promote", INTS + FLOATS),
    "power": (np.power, "promote", INTS + FLOATS),
    "maximum": (np.maximum, "promote", REAL),
    "minimum": (np.minimum, "promote", REAL),
    "arctan2": (np.arctan2, "float", FLOATS + ["int32"]),
    "logaddexp": (np.logaddexp, "float", FLOATS + ["int32"]),
    "equal": (np.equal, "bool", ALL),
    "not_equal": (np.not_equal, "bool", ALL),
    "less": (np.less, "bool", REAL),
    "less_equal": (np.less_equal, "bool", REAL),
    "greater": (np.greater, "bool", REAL),
    "greater_equal": (np.greater_equal, "bool", REAL),
    "logical_and": (np.logical_and, "bool", REAL),
    "logical_or": (np.logical_or, "bool", REAL),
    "logical_xor": (np.logical_xor, "bool", REAL),
    "bitwise_and": (np.bitwise_and, "promote", INTS + ["bool_"]),
    "bitwise_or": (np.bitwise_or, "promote", INTS + ["bool_"]),
    "bitwise_xor": (np.bitwise_xor, "promote", INTS + ["bool_"]),
    "left_shift": (np.left_shift, "promote", INTS),
    "right_shift": (np.right_shift, "promote", INTS),
}


def binary_inputs(name, dtype, shape_a=(2, 3), shape_b=(3,)):
    lo, hi = (0, 4) if name in ("left_shift", "right_shift", "power") else (-3, 3)
    a = sample(dtype, shape_a, lo, hi, seed=1)
    b = sample(dtype, shape_b, lo, hi, seed=2)
    if name in ("divide", "floor_divide", "remainder") and dtype in INTS:
        b = np.where(b == 0, NP_OF[dtype](1), b).astype(NP_OF[dtype])
    if name in ("floor_divide", "remainder") and dtype in FLOATS:
        b = np.where(np.abs(b) < 0.5, NP_OF[dtype](1), b).astype(NP_OF[dtype])
    if name == "power" and dtype in FLOATS:
        a = np.abs(a) + NP_OF[dtype](0.5)
    return a, b


def binary_cases():
    for name, (_, _, dtypes) in BINARY.items():
        for d in dtypes:
            yield name, d


@pytest.mark.parametrize("name,dtype", list(binary_cases()))
def test_binary_matches_numpy_with_broadcasting(name, dtype):
    ref, kind, _ = BINARY[name]
    a, b = binary_inputs(name, dtype)
    out = getattr(mx, name)(mx.array(a), mx.array(b))
    want = {"promote": dtype, "float": dtype if dtype in FLOATS + ["complex64"] else "float32", "bool": "bool_"}[kind]
    if dtype in FLOATS:
        expected = ref(a.astype(np.float64), b.astype(np.float64))
    elif dtype == "complex64":
        expected = ref(a.astype(np.complex128), b.astype(np.complex128))
    else:
        with np.errstate(all="ignore"):
            expected = ref(a, b)
    check(out, np.asarray(expected).astype(NP_OF[want]), want, loose=True)


# (a dtype, b dtype, result dtype) by MLX's promotion rules.
PROMOTION = [
    ("int8", "uint8", "int16"),
    ("uint8", "uint16", "uint16"),
    ("uint32", "int32", "int64"),
    ("uint64", "int64", "float32"),
    ("bool_", "int8", "int8"),
    ("bool_", "float16", "float16"),
    ("int32", "float16", "float16"),
    ("int64", "float32", "float32"),
    ("float16", "float32", "float32"),
    ("int32", "complex64", "complex64"),
    ("float32", "complex64", "complex64"),
]


@pytest.mark.parametrize("da,db,want", PROMOTION)
def test_binary_promotion(da, db, want):
    a, b = sample(da, (2, 3), 0, 3, seed=3), sample(db, (2, 3), 0, 3, seed=4)
    check(mx.add(mx.array(a), mx.array(b)), a.astype(np.complex128) + b.astype(np.complex128), want)
    check(mx.add(mx.array(b), mx.array(a)), a.astype(np.complex128) + b.astype(np.complex128), want)


@pytest.mark.parametrize("sa,sb", [((), ()), ((), (3,)), ((2, 1), (1, 4)), ((0,), (1,)), ((2, 0, 3), (3,)),
                                   ((4, 1, 3), (2, 1)), ((1,), (5, 1, 1))])
def test_binary_broadcast_shapes(sa, sb):
    a, b = sample("float32", sa, seed=5), sample("float32", sb, seed=6)
    check(mx.multiply(mx.array(a), mx.array(b)), a.astype(np.float64) * b)
    check(mx.less(mx.array(a), mx.array(b)), a < b, "bool_")


def test_binary_noncontiguous_numpy_inputs():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    a, b = x[::2, 1::2], x.T[1:4, ::2].T
    check(mx.subtract(a, b), a - b)
    check(mx.subtract(mx.array(a), b), a - b)
    check(mx.add(noncontig(x), 1), x + 1)


@pytest.mark.parametrize("dtype,scalar,want", [
    ("float16", 2.5, "float16"),
    ("float16", 2, "float16"),
    ("float32", 2, "float32"),
    ("int8", 3, "int8"),
    ("uint8", 3, "uint8"),
    ("int16", 2.5, "float32"),
    ("int64", 2, "int64"),
    ("bool_", 1, "int32"),
    ("bool_", 2.5, "float32"),
    ("bool_", True, "bool_"),
    ("int32", True, "int32"),
    ("float16", 1 + 2j, "complex64"),
    ("complex64", 2.5, "complex64"),
])
def test_weak_python_scalars(dtype, scalar, want):
    a = sample(dtype, (2, 3), 0, 3, seed=7)
    x = mx.array(a)
    for op, ref in [("add", np.add), ("multiply", np.multiply)]:
        fn = getattr(mx, op)
        expected = ref(a.astype(np.complex128), complex(scalar))
        if want == "bool_":
            expected = expected.astype(np.bool_)
        check(fn(x, scalar), expected, want, loose=True)
        check(fn(scalar, x), expected, want, loose=True)


def test_weak_scalars_in_other_ops():
    h = mx.array(np.array([0.25, 1.0, 2.0], dtype=np.float16))
    assert mx.maximum(1, h).dtype == mx.float16
    assert mx.minimum(h, 0.5).dtype == mx.float16
    assert mx.power(h, 2).dtype == mx.float16
    assert mx.subtract(2.5, h).dtype == mx.float16
    assert mx.divide(h, 3).dtype == mx.float16
    assert mx.equal(h, 1.0).dtype == mx.bool_
    check(mx.where(mx.array([True, False, True]), h, 2.5), [0.25, 2.5, 2.0], "float16")
    check(mx.where([True, False, True], 1.5, h), [1.5, 1.0, 1.5], "float16")
    check(mx.clip(h, 0.5, 1.5), [0.5, 1.0, 1.5], "float16")
    check(mx.isclose(h, 1.0), [False, True, False], "bool_")
    i8 = mx.array(np.array([1, 2], dtype=np.int8))
    check(mx.add(i8, 100), [101, 102], "int8")
    check(mx.floor_divide(i8, 2), [0, 1], "int8")
    check(mx.remainder(7, i8), [0, 1], "int8")


def test_two_python_scalars():
    check(mx.add(2, 3), np.int32(5), "int32")
    check(mx.add(2, 3.5), np.float32(5.5), "float32")
    check(mx.multiply(2.0, 3.0), np.float32(6), "float32")
    check(mx.add(2**40, 1), np.int64(2**40 + 1), "int64")
    check(mx.logical_and(True, False), np.bool_(False), "bool_")


def test_divmod_returns_a_tuple():
    a = np.array([7, -7, 8, 0], dtype=np.int32)
    q, r = mx.divmod(mx.array(a), 3)
    res = mx.divmod(mx.array(a), 3)
    assert isinstance(res, tuple) and len(res) == 2
    check(q, a // 3, "int32")
    check(r, a % 3, "int32")
    qf, rf = mx.divmod(mx.array([7.5, -7.5]), 2.0)
    check(qf, [3.0, -4.0], "float32")
    check(rf, [1.5, 0.5], "float32")
    q2, r2 = mx.divmod(a=7, b=mx.array([2, 3]))
    check(q2, [3, 2])
    check(r2, [1, 1])


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool_", "float16", "complex64"])
def test_where(dtype):
    cond = np.array([[True, False, True], [False, False, True]])
    x, y = sample(dtype, (2, 3), seed=8), sample(dtype, (3,), seed=9)
    check(mx.where(mx.array(cond), mx.array(x), mx.array(y)), np.where(cond, x, y), dtype)
    check(mx.where(condition=cond, x=x, y=y), np.where(cond, x, y), dtype)
    # A non-bool condition is tested for nonzero.
    check(mx.where(mx.array([0, 2, 0]), 1, 0), [0, 1, 0], "int32")


def test_where_broadcasts_all_three():
    cond = np.array([True, False])[:, None]
    check(mx.where(cond, np.arange(3, dtype=np.float32), -1.0), np.where(cond, np.arange(3.0), -1.0), "float32")


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", "float16"])
def test_clip(dtype):
    x = sample(dtype, (3, 4), -5, 5, seed=10)
    check(mx.clip(mx.array(x), 1, 3), np.clip(x, 1, 3), dtype)
    check(mx.clip(mx.array(x), None, 2), np.minimum(x, 2), dtype)
    check(mx.clip(mx.array(x), a_min=2, a_max=None), np.maximum(x, 2), dtype)
    lo = np.array([0, 1, 2, 3], dtype=NP_OF[dtype])
    check(mx.clip(mx.array(x), mx.array(lo), 4), np.clip(x, lo, 4), dtype)


def test_isclose_allclose_defaults_and_nan():
    a = np.array([1.0, 1.0 + 1e-6, np.nan, np.inf, 1.0, 0.0], dtype=np.float32)
    b = np.array([1.0, 1.0, np.nan, np.inf, 1.1, 1e-9], dtype=np.float32)
    check(mx.isclose(mx.array(a), mx.array(b)), np.isclose(a, b), "bool_")
    check(mx.isclose(a, b, equal_nan=True), np.isclose(a, b, equal_nan=True), "bool_")
    check(mx.isclose(a, b, rtol=0.2), np.isclose(a, b, rtol=0.2), "bool_")
    check(mx.isclose(a, b, 1e-5, 0.2), np.isclose(a, b, 1e-5, 0.2), "bool_")
    assert mx.allclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.0 + 1e-7])).item() is True
    assert mx.allclose(mx.array([1.0, np.nan]), mx.array([1.0, np.nan])).item() is False
    assert mx.allclose(mx.array([1.0, np.nan]), mx.array([1.0, np.nan]), equal_nan=True).item() is True
    assert mx.allclose(mx.array([1.0]), mx.array([1.5]), atol=0.6).item() is True
    assert mx.allclose(mx.array([[1.0], [1.0]]), 1.0).shape == ()


def test_isclose_equal_nan_is_keyword_only():
    with pytest.raises(TypeError):
        mx.isclose(mx.array([1.0]), mx.array([1.0]), 1e-5, 1e-8, True)


def test_array_equal():
    a = np.array([1, 2, 3], dtype=np.int32)
    assert mx.array_equal(mx.array(a), mx.array(a.astype(np.float32))).item() is True
    assert mx.array_equal(mx.array(a), mx.array([1, 2, 4])).item() is False
    assert mx.array_equal(mx.array(a), mx.array([1, 2])).item() is False
    assert mx.array_equal(mx.array([[1, 2]]), mx.array([1, 2])).item() is False
    n = mx.array([1.0, np.nan])
    assert mx.array_equal(n, n).item() is False
    assert mx.array_equal(n, n, equal_nan=True).item() is True
    assert mx.array_equal(n, n, True).item() is True
    assert mx.array_equal(mx.array(a), mx.array(a)).dtype == mx.bool_


# ---------------------------------------------------------------------------- reductions

REDUCE = {
    "sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "mean": np.mean,
    "all": np.all, "any": np.any, "count_nonzero": np.count_nonzero,
    "logsumexp": lambda x, axis=None, keepdims=False: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    "var": np.var, "std": np.std,
}


def reduce_dtype(name, dtype):
    if name in ("all", "any"):
        return "bool_"
    if name == "count_nonzero":
        return "int32"
    if name in ("sum", "prod"):
        if dtype in ("bool_", "int8", "int16"):
            return "int32"
        if dtype in ("uint8", "uint16"):
            return "uint32"
        return dtype
    if name in ("mean", "logsumexp", "var", "std"):
        return dtype if dtype in FLOATS else "float32"
    return dtype  # max, min


AXES = [None, 0, 1, -1, (0, 2), [1, 2], (0, 1, 2), ()]


def reduce_cases():
    for name in REDUCE:
        for d in ["bool_", "int8", "uint8", "int32", "int64", "uint32", "float16", "float32"]:
            if name in ("logsumexp", "var", "std", "prod") and d in ("bool_",):
                continue
            yield name, d


@pytest.mark.parametrize("name,dtype", list(reduce_cases()))
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, dtype, keepdims):
    lo, hi = (0, 2) if name in ("prod",) else (-3, 3)
    x = sample(dtype, (2, 3, 4), lo, hi, seed=11)
    want = reduce_dtype(name, dtype)
    ref = REDUCE[name]
    xr = x.astype(np.float64) if dtype in FLOATS or want in FLOATS + ["float32"] else x
    for axis in AXES:
        kw = {} if axis is None and keepdims is False else {"axis": axis, "keepdims": keepdims}
        ax = tuple(axis) if isinstance(axis, list) else axis
        if name == "count_nonzero":
            expected = np.count_nonzero(x, axis=ax, keepdims=keepdims)
        else:
            expected = ref(xr, axis=ax, keepdims=keepdims)
        out = getattr(mx, name)(mx.array(x), **kw)
        check(out, np.asarray(expected).astype(NP_OF[want]), want, loose=True)


def test_reductions_keyword_and_positional_forms():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    check(mx.sum(x, 1, True), x.sum(1, keepdims=True))
    check(mx.sum(a=x, axis=0, keepdims=False), x.sum(0))
    check(mx.mean(x, axis=[0, 1]), x.mean())
    check(mx.max(x, (1,)), x.max(1))
    check(mx.var(x, 0, False, 1), x.var(0, ddof=1), loose=True)
    check(mx.std(x, axis=1, ddof=1), x.std(1, ddof=1), loose=True)
    check(mx.var(x, ddof=0), x.var(), loose=True)
    check(mx.std(x, keepdims=True), x.std(keepdims=True), loose=True)
    check(mx.logsumexp(x, axis=-1), np.log(np.exp(x.astype(np.float64)).sum(-1)), loose=True)


@pytest.mark.parametrize("name,ref", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("dtype", ["bool_", "int8", "uint16", "int32", "int64", "float16", "float32"])
def test_argmax_argmin(name, ref, dtype):
    x = sample(dtype, (3, 4, 5), -9, 9, seed=12)
    fn = getattr(mx, name)
    check(fn(mx.array(x)), np.uint32(ref(x)), "uint32")
    for axis in (0, 1, 2, -1):
        check(fn(mx.array(x), axis), ref(x, axis=axis).astype(np.uint32), "uint32")
        check(fn(mx.array(x), axis=axis, keepdims=True), ref(x, axis=axis, keepdims=True).astype(np.uint32))
    check(fn(mx.array(x), keepdims=True), ref(x, keepdims=True).astype(np.uint32))


def test_argmax_first_on_ties_and_nan():
    check(mx.argmax(mx.array([1, 3, 3, 2])), np.uint32(1))
    check(mx.argmin(mx.array([[2, 1, 1], [0, 0, 5]]), axis=1), np.array([1, 0], dtype=np.uint32))


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "min", "all", "any", "logsumexp", "var",
                                  "std", "count_nonzero", "argmax", "argmin"])
def test_reductions_of_0d(name):
    out = getattr(mx, name)(mx.array(2.5))
    assert out.shape == ()
    ref = {"argmax": 0, "argmin": 0, "var": 0.0, "std": 0.0, "all": True, "any": True, "count_nonzero": 1,
           "logsumexp": 2.5}.get(name, 2.5)
    assert out.item() == pytest.approx(ref, abs=1e-6)
    assert getattr(mx, name)(mx.array(2.5), keepdims=True).shape == ()


def test_reductions_of_empty():
    e = mx.zeros((0, 3))
    check(mx.sum(e), np.float32(0))
    check(mx.sum(e, axis=0), np.zeros(3))
    check(mx.sum(e, axis=1), np.zeros(0))
    check(mx.prod(e, axis=0), np.ones(3))
    check(mx.all(e), np.bool_(True))
    check(mx.any(e, axis=0), np.zeros(3, dtype=bool))
    check(mx.count_nonzero(e, axis=1), np.zeros(0, dtype=np.int32))
    check(mx.max(e, axis=1), np.zeros(0, dtype=np.float32))
    assert math.isnan(mx.mean(e).item())
    with pytest.raises(ValueError):
        mx.max(e)
    with pytest.raises(ValueError):
        mx.argmax(mx.zeros((0,)))


def test_reductions_noncontiguous_numpy():
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5).transpose(2, 0, 1)[::2]
    check(mx.sum(x, axis=(0, 2)), x.sum(axis=(0, 2)))
    check(mx.max(x, axis=1), x.max(axis=1))
    check(mx.argmin(x, axis=2), x.argmin(axis=2).astype(np.uint32))


def test_complex_reductions():
    x = sample("complex64", (2, 3), seed=13)
    check(mx.sum(mx.array(x), axis=1), x.astype(np.complex128).sum(1), "complex64")
    check(mx.prod(mx.array(x)), x.astype(np.complex128).prod(), "complex64", loose=True)
    check(mx.mean(mx.array(x), axis=0), x.astype(np.complex128).mean(0), "complex64")


# ---------------------------------------------------------------------------- shape ops

@pytest.mark.parametrize("dtype", ["bool_", "int8", "uint64", "float16", "float32", "complex64"])
def test_shape_ops_keep_values_and_dtype(dtype):
    x = sample(dtype, (2, 3, 4), seed=14)
    a = mx.array(x)
    check(mx.reshape(a, (4, -1)), x.reshape(4, -1), dtype)
    check(mx.transpose(a), x.T, dtype)
    check(mx.flatten(a), x.ravel(), dtype)
    check(mx.flip(a, 1), np.flip(x, 1), dtype)
    check(mx.concatenate([a, a], axis=1), np.concatenate([x, x], axis=1), dtype)
    check(mx.stack([a, a], axis=-1), np.stack([x, x], axis=-1), dtype)
    check(mx.tile(a, 2), np.tile(x, 2), dtype)
    check(mx.pad(a, 1), np.pad(x, 1), dtype)
    check(mx.broadcast_to(a, (2, 2, 3, 4)), np.broadcast_to(x, (2, 2, 3, 4)), dtype)


def test_reshape():
    x = np.arange(24).astype(np.int32)
    check(mx.reshape(x, (2, 3, 4)), x.reshape(2, 3, 4))
    check(mx.reshape(mx.array(x), [-1, 6]), x.reshape(-1, 6))
    check(mx.reshape(mx.array(x), shape=(4, 6)), x.reshape(4, 6))
    check(mx.reshape(mx.array(5), (1, 1)), np.full((1, 1), 5))
    check(mx.reshape(mx.array([7]), ()), np.int32(7))
    check(mx.reshape(mx.zeros((0, 4)), (2, 0, 3)), np.zeros((2, 0, 3)))
    v = x.reshape(4, 6)[:, ::2]
    check(mx.reshape(v, (-1,)), v.reshape(-1))


@pytest.mark.parametrize("start,end", [(0, -1), (1, 2), (0, 1), (-2, -1), (2, 2)])
def test_flatten(start, end):
    x = np.arange(120).reshape(2, 3, 4, 5)
    nd = x.ndim
    s, e = start % nd, end % nd
    expected = x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])
    check(mx.flatten(mx.array(x), start, end), expected)
    check(mx.flatten(mx.array(x), start_axis=start, end_axis=end), expected)


def test_flatten_defaults_and_0d():
    check(mx.flatten(np.ones((2, 3))), np.ones(6))
    check(mx.flatten(mx.array(3)), np.array([3]))


def test_unflatten():
    x = np.arange(24).reshape(2, 12)
    check(mx.unflatten(mx.array(x), 1, (3, 4)), x.reshape(2, 3, 4))
    check(mx.unflatten(mx.array(x), -1, (2, -1)), x.reshape(2, 2, 6))
    check(mx.unflatten(mx.array(x), axis=0, shape=[2, 1]), x.reshape(2, 1, 12))


def test_squeeze_expand_dims():
    x = np.zeros((1, 3, 1, 2))
    a = mx.array(x)
    check(mx.squeeze(a), np.squeeze(x))
    check(mx.squeeze(a, 0), np.squeeze(x, 0))
    check(mx.squeeze(a, axis=(0, 2)), np.squeeze(x, (0, 2)))
    check(mx.squeeze(a, axis=[-2]), np.squeeze(x, -2))
    check(mx.squeeze(mx.array(3.0)), np.float32(3))
    check(mx.expand_dims(a, 0), np.expand_dims(x, 0))
    check(mx.expand_dims(a, -1), np.expand_dims(x, -1))
    check(mx.expand_dims(a, axis=(0, 5)), np.expand_dims(x, (0, 5)))
    check(mx.expand_dims(mx.array(1.0), [0, 1]), np.ones((1, 1)))


def test_transpose_family():
    x = np.arange(24).reshape(2, 3, 4)
    a = mx.array(x)
    check(mx.transpose(a), x.T)
    check(mx.transpose(a, (1, 0, 2)), x.transpose(1, 0, 2))
    check(mx.transpose(a, axes=[-1, 0, 1]), x.transpose(-1, 0, 1))
    check(mx.permute_dims(a, (2, 1, 0)), x.transpose(2, 1, 0))
    check(mx.matrix_transpose(mx.array(x[0])), x[0].T)
    check(mx.swapaxes(a, 0, 2), np.swapaxes(x, 0, 2))
    check(mx.swapaxes(a, axis1=-1, axis2=1), np.swapaxes(x, -1, 1))
    check(mx.moveaxis(a, 0, -1), np.moveaxis(x, 0, -1))
    check(mx.moveaxis(a, source=2, destination=0), np.moveaxis(x, 2, 0))
    check(mx.transpose(mx.array(5)), np.int32(5))


def test_broadcast_to_arrays_shapes():
    x = np.arange(3, dtype=np.float32)
    check(mx.broadcast_to(mx.array(x), (2, 3)), np.broadcast_to(x, (2, 3)))
    check(mx.broadcast_to(1.5, [2, 2]), np.full((2, 2), 1.5))
    check(mx.broadcast_to(mx.array(x), shape=(0, 3)), np.zeros((0, 3)))
    out = mx.broadcast_arrays(mx.array(x), mx.zeros((2, 1)), mx.array(1.0))
    exp = np.broadcast_arrays(x, np.zeros((2, 1)), np.array(1.0))
    assert isinstance(out, list) and len(out) == 3  # MLX returns a list
    for o, e in zip(out, exp):
        check(o, e)
    (single,) = mx.broadcast_arrays(mx.array(x))
    check(single, x)
    assert mx.broadcast_shapes((1, 2), (3, 1)) == (3, 2)
    assert mx.broadcast_shapes((5, 1, 4), (3, 1), (1,)) == (5, 3, 4)
    assert mx.broadcast_shapes((2, 3)) == (2, 3)
    assert mx.broadcast_shapes((), (0,)) == (0,)
    assert isinstance(mx.broadcast_shapes([1], [2]), tuple)


def test_concatenate_stack():
    x, y = np.arange(6).reshape(2, 3), np.arange(6, 12).reshape(2, 3)
    for axis in (0, 1, -1):
        check(mx.concatenate([mx.array(x), mx.array(y)], axis), np.concatenate([x, y], axis))
        check(mx.stack((mx.array(x), mx.array(y)), axis=axis), np.stack([x, y], axis))
    check(mx.concatenate([x, y]), np.concatenate([x, y]))
    check(mx.concatenate([x, y], axis=None), np.concatenate([x, y], axis=None))
    check(mx.concat([x, y], 1), np.concatenate([x, y], 1))
    check(mx.concatenate(arrays=[x], axis=0), x)
    check(mx.concatenate([mx.zeros((0, 3)), x]), np.concatenate([np.zeros((0, 3)), x]))
    check(mx.stack([mx.array(1), mx.array(2)]), np.array([1, 2]))
    check(mx.stack([x, y], 2), np.stack([x, y], 2))
    # Mixed dtypes promote.
    check(mx.concatenate([mx.array([1], mx.int8), mx.array([2.5])]), [1.0, 2.5], "float32")


def test_split():
    x = np.arange(24).reshape(4, 6)
    for sections, axis in [(2, 0), (3, 1), (1, 0)]:
        out = mx.split(mx.array(x), sections, axis)
        exp = np.split(x, sections, axis)
        assert isinstance(out, list) and len(out) == len(exp)
        for o, e in zip(out, exp):
            check(o, e)
    for idx in ([1, 3], (2,), [0, 6], [-2], [2, 2], [0, 0]):
        out = mx.split(mx.array(x), idx, axis=1)
        exp = np.split(x, list(idx), axis=1)
        assert len(out) == len(exp)
        for o, e in zip(out, exp):
            check(o, e)
    out = mx.split(a=mx.array(x), indices_or_sections=2)
    check(out[1], x[2:])


def test_split_with_decreasing_indices():
    x = np.arange(24).reshape(4, 6)
    out = mx.split(mx.array(x), [4, 2], axis=1)
    for o, e in zip(out, np.split(x, [4, 2], axis=1)):
        check(o, e)


@pytest.mark.parametrize("pad_width", [1, (2,), (1, 2), ((1, 2),), [(0, 1), (2, 0)], ((1,), (2,)), [[0, 0], [3, 1]]])
def test_pad_forms(pad_width):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    check(mx.pad(mx.array(x), pad_width), np.pad(x, pad_width))
    check(mx.pad(mx.array(x), pad_width, constant_values=-1.5), np.pad(x, pad_width, constant_values=-1.5))
    check(mx.pad(mx.array(x), pad_width, mode="edge"), np.pad(x, pad_width, mode="edge"))


def test_pad_dtypes_and_1d():
    x = np.array([1, 2, 3], dtype=np.int16)
    check(mx.pad(x, (2, 1), "constant", 7), np.pad(x, (2, 1), constant_values=7), "int16")
    check(mx.pad(mx.array(x), pad_width=[(1, 1)], mode="edge"), np.pad(x, 1, mode="edge"), "int16")
    h = mx.array(np.zeros((2, 2), dtype=np.float16))
    out = mx.pad(h, 1, constant_values=2.5)
    check(out, np.pad(np.zeros((2, 2)), 1, constant_values=2.5), "float16")
    check(mx.pad(mx.zeros((0, 2)), 1), np.pad(np.zeros((0, 2)), 1))


def test_tile_repeat_flip():
    x = np.arange(6).reshape(2, 3)
    for reps in (2, (2,), (2, 1), (1, 2, 2), [3, 1], (0, 1)):
        check(mx.tile(mx.array(x), reps), np.tile(x, reps))
    check(mx.tile(mx.array(5), (2, 3)), np.tile(5, (2, 3)))
    check(mx.repeat(mx.array(x), 2), np.repeat(x, 2))
    check(mx.repeat(mx.array(x), 3, axis=1), np.repeat(x, 3, axis=1))
    check(mx.repeat(array=mx.array(x), repeats=2, axis=-2), np.repeat(x, 2, axis=-2))
    check(mx.repeat(mx.array(x), 0, 0), np.repeat(x, 0, 0))
    check(mx.flip(mx.array(x)), np.flip(x))
    check(mx.flip(mx.array(x), 0), np.flip(x, 0))
    check(mx.flip(mx.array(x), axis=(0, 1)), np.flip(x, (0, 1)))
    check(mx.flip(mx.array(x), axis=[-1]), np.flip(x, -1))


def test_as_strided_and_contiguous():
    x = np.arange(12, dtype=np.int32)
    a = mx.array(x)
    s = np.lib.stride_tricks.as_strided
    it = x.itemsize
    check(mx.as_strided(a, (3, 4), (4, 1)), x.reshape(3, 4))
    check(mx.as_strided(a, (3, 3), (1, 1)), s(x, (3, 3), (it, it)))
    check(mx.as_strided(a, shape=(2, 2), strides=(3, 2), offset=1), s(x[1:], (2, 2), (3 * it, 2 * it)))
    check(mx.as_strided(a), x)
    check(mx.as_strided(a, (2, 6)), x.reshape(2, 6))
    # Strides are over the row-major elements of a, whatever its layout.
    t = np.arange(6, dtype=np.int32).reshape(2, 3).T
    check(mx.as_strided(mx.array(t), (6,), (1,)), t.ravel())
    check(mx.contiguous(mx.array(t)), t)
    check(mx.contiguous(t, allow_col_major=True), t)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)])
def test_atleast(shape):
    x = np.zeros(shape, dtype=np.float32) + 1
    check(mx.atleast_1d(mx.array(x)), np.atleast_1d(x))
    check(mx.atleast_2d(mx.array(x)), np.atleast_2d(x))
    check(mx.atleast_3d(mx.array(x)), np.atleast_3d(x))


def test_atleast_several_arguments():
    out = mx.atleast_2d(mx.array(1.0), mx.array([1.0, 2.0]), np.ones((2, 2)))
    exp = np.atleast_2d(1.0, [1.0, 2.0], np.ones((2, 2)))
    assert isinstance(out, list) and len(out) == 3
    for o, e in zip(out, exp):
        check(o, e)
    check(mx.atleast_1d(3), np.array([3]), "int32")


def test_view():
    x = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    check(mx.view(mx.array(x), mx.int32), x.view(np.int32), "int32")
    check(mx.view(mx.array(x), dtype=mx.uint8), x.view(np.uint8), "uint8")
    check(mx.view(mx.array(x), mx.float16), x.view(np.float16), "float16")
    check(mx.view(x.view(np.int32), mx.float32), x, "float32")
    check(mx.view(1.0, mx.int32), np.array(1.0, dtype=np.float32).view(np.int32), "int32")


def test_astype_function():
    check(mx.astype(mx.array([1.7, -2.2]), mx.int32), [1, -2], "int32")
    check(mx.astype([1, 0], dtype=mx.bool_), [True, False], "bool_")


# ---------------------------------------------------------------------------- creation

def test_arange_overloads_and_dtypes():
    check(mx.arange(5), np.arange(5), "int32")
    check(mx.arange(2, 7), np.arange(2, 7), "int32")
    check(mx.arange(2, 11, 3), np.arange(2, 11, 3), "int32")
    check(mx.arange(10, 0, -3), np.arange(10, 0, -3), "int32")
    check(mx.arange(5.0), np.arange(5.0), "float32")
    check(mx.arange(0, 1, 0.25), np.arange(0, 1, 0.25), "float32")
    check(mx.arange(2.0, 5), np.arange(2.0, 5), "float32")
    check(mx.arange(0, 5, dtype=mx.float16), np.arange(5), "float16")
    check(mx.arange(5, dtype=mx.int64), np.arange(5), "int64")
    check(mx.arange(0, 5, 1, mx.uint8), np.arange(5), "uint8")
    check(mx.arange(10, step=3), np.arange(0, 10, 3), "int32")
    check(mx.arange(stop=4), np.arange(4), "int32")
    check(mx.arange(start=1, stop=4), np.arange(1, 4), "int32")
    check(mx.arange(start=1, stop=4, step=0.5), np.arange(1, 4, 0.5), "float32")
    check(mx.arange(0), np.arange(0), "int32")
    check(mx.arange(5, 2), np.arange(5, 2), "int32")
    check(mx.arange(np.int64(3)), np.arange(3), "int32")


@pytest.mark.parametrize("num", [0, 1, 2, 5, 50])
def test_linspace(num):
    check(mx.linspace(-1, 3, num), np.linspace(-1, 3, num), "float32")
    check(mx.linspace(0, 1, num=num, dtype=mx.float16), np.linspace(0, 1, num), "float16")
    if num >= 2:
        out = np.array(mx.linspace(0.1, 0.7, num))
        assert out[0] == np.float32(0.1) and out[-1] == np.float32(0.7)


def test_linspace_default_num():
    assert mx.linspace(0, 1).shape == (50,)
    check(mx.linspace(0, 10, 6, mx.int32), np.linspace(0, 10, 6).astype(np.int32), "int32")


def test_full():
    check(mx.full((2, 3), 7), np.full((2, 3), 7), "int32")
    check(mx.full(3, 2.5), np.full(3, 2.5), "float32")
    check(mx.full([2], True), np.full(2, True), "bool_")
    check(mx.full((2, 2), 2.5, mx.float16), np.full((2, 2), 2.5), "float16")
    check(mx.full((2, 2), 3, dtype=mx.float32), np.full((2, 2), 3.0), "float32")
    check(mx.full((2, 3), mx.array([1, 2, 3])), np.broadcast_to([1, 2, 3], (2, 3)), "int32")
    check(mx.full((2, 3), np.array([1.0, 2.0, 3.0]), mx.int8), np.broadcast_to([1, 2, 3], (2, 3)), "int8")
    check(mx.full((), 4), np.int32(4), "int32")
    check(mx.full((0, 2), 4), np.zeros((0, 2)), "int32")
    check(mx.full(shape=(1,), vals=1 + 2j), np.full(1, 1 + 2j), "complex64")


@pytest.mark.parametrize("fn,npfn,value", [("zeros", np.zeros, 0), ("ones", np.ones, 1), ("empty", np.zeros, 0)])
def test_zeros_ones_empty(fn, npfn, value):
    f = getattr(mx, fn)
    check(f((2, 3)), npfn((2, 3)), "float32")
    check(f(4), npfn(4), "float32")
    check(f([]), npfn(()), "float32")
    check(f((0, 3)), npfn((0, 3)), "float32")
    for d in ALL:
        out = f((2,), D(d))
        check(out, np.full(2, value).astype(NP_OF[d]), d)
    check(f(shape=(1, 2), dtype=mx.int16), np.full((1, 2), value), "int16")


@pytest.mark.parametrize("dtype", ["bool_", "int8", "uint32", "float16", "float32", "complex64"])
def test_like_creation(dtype):
    x = sample(dtype, (2, 3), seed=15)
    a = mx.array(x)
    check(mx.zeros_like(a), np.zeros_like(x), dtype)
    check(mx.ones_like(a), np.ones_like(x), dtype)
    check(mx.empty_like(a), np.zeros_like(x), dtype)
    check(mx.full_like(a, 1), np.full_like(x, 1), dtype)
    check(mx.zeros_like(x), np.zeros_like(x), dtype)  # a NumPy input


def test_full_like_dtype_and_0d():
    a = mx.zeros((2,), mx.int32)
    check(mx.full_like(a, 2.7), [2, 2], "int32")
    check(mx.full_like(a, 2.5, mx.float32), [2.5, 2.5], "float32")
    check(mx.full_like(a, vals=3, dtype=mx.float16), [3, 3], "float16")
    check(mx.zeros_like(mx.array(3.5)), np.float32(0), "float32")


@pytest.mark.parametrize("n,m,k", [(3, None, 0), (3, 4, 1), (4, 2, -1), (2, 3, 5), (0, None, 0), (1, 1, 0)])
def test_eye_tri(n, m, k):
    check(mx.eye(n, m, k), np.eye(n, m, k), "float32")
    check(mx.eye(n, m=m, k=k, dtype=mx.int32), np.eye(n, m, k), "int32")
    check(mx.tri(n, m, k), np.tri(n, m, k), "float32")
    check(mx.tri(n, m, k, mx.bool_), np.tri(n, m, k, dtype=bool), "bool_")


def test_eye_identity_defaults():
    check(mx.eye(3), np.eye(3), "float32")
    check(mx.eye(2, dtype=mx.float16), np.eye(2), "float16")
    check(mx.identity(3), np.identity(3), "float32")
    check(mx.identity(2, mx.uint8), np.identity(2), "uint8")
    check(mx.identity(n=2, dtype=mx.bool_), np.identity(2, dtype=bool), "bool_")
    check(mx.tri(3), np.tri(3), "float32")


@pytest.mark.parametrize("k", [0, 1, -1, 5, -5])
def test_tril_triu(k):
    x = np.arange(1, 13, dtype=np.int32).reshape(3, 4)
    check(mx.tril(mx.array(x), k), np.tril(x, k), "int32")
    check(mx.triu(mx.array(x), k), np.triu(x, k), "int32")
    b = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    check(mx.tril(b, k=k), np.tril(b, k))
    check(mx.triu(x=b, k=k), np.triu(b, k))


def test_tril_triu_default_k():
    x = np.ones((3, 3), dtype=np.float32)
    check(mx.tril(x), np.tril(x))
    check(mx.triu(x), np.triu(x))


def test_asarray():
    check(mx.asarray([1, 2]), [1, 2], "int32")
    check(mx.asarray(np.arange(3.0), mx.float16), [0, 1, 2], "float16")
    a = mx.array([1.5])
    check(mx.asarray(a), [1.5], "float32")


# ---------------------------------------------------------------------------- matmul family

@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((4,), (4,)),
                                   ((5, 2, 3), (3, 4)), ((1, 2, 3), (4, 3, 2)), ((2, 0), (0, 3)), ((0, 3), (3, 2))])
@pytest.mark.parametrize("dtype", ["float32", "float16", "int32"])
def test_matmul(sa, sb, dtype):
    a, b = sample(dtype, sa, seed=16), sample(dtype, sb, seed=17)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(NP_OF[dtype])
    check(mx.matmul(mx.array(a), mx.array(b)), expected, dtype, loose=True)


def test_matmul_noncontiguous_and_promotion():
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T  # (4, 3), column-major
    b = np.arange(6, dtype=np.float32).reshape(3, 2)
    check(mx.matmul(a, b), a @ b)
    check(mx.matmul(mx.array(a[::2]), b), a[::2] @ b)
    check(mx.matmul(mx.array(b.T, mx.float16), mx.array(a.T)), (b.T @ a.T), "float32")


def test_addmm():
    c, a, b = sample("float32", (2, 4), seed=18), sample("float32", (2, 3), seed=19), sample("float32", (3, 4), seed=20)
    check(mx.addmm(mx.array(c), mx.array(a), mx.array(b)), c + a @ b)
    check(mx.addmm(c, a, b, 2.0, 0.5), 0.5 * c + 2.0 * (a @ b))
    check(mx.addmm(c, a, b, alpha=-1.0), c - a @ b)
    check(mx.addmm(c=c[0], a=a, b=b, beta=0.0), a @ b)


def test_inner_outer():
    a, b = sample("float32", (2, 3), seed=21), sample("float32", (4, 3), seed=22)
    check(mx.inner(mx.array(a), mx.array(b)), np.inner(a, b))
    check(mx.inner(mx.array([1.0, 2.0]), mx.array([3.0, 4.0])), np.float32(11))
    check(mx.outer(mx.array(a), mx.array(b[0])), np.outer(a, b[0]))
    check(mx.outer([1, 2], [3, 4, 5]), np.outer([1, 2], [3, 4, 5]), "int32")


def test_tensordot():
    a, b = sample("float32", (2, 3, 4), seed=23), sample("float32", (3, 4, 5), seed=24)
    check(mx.tensordot(mx.array(a), mx.array(b)), np.tensordot(a, b), loose=True)
    check(mx.tensordot(a, b, 2), np.tensordot(a, b, 2), loose=True)
    check(mx.tensordot(a[..., :3], b, axes=1), np.tensordot(a[..., :3], b, axes=1), loose=True)
    check(mx.tensordot(a, b, axes=0), np.tensordot(a, b, axes=0), loose=True)
    check(mx.tensordot(a, b, [[1], [0]]), np.tensordot(a, b, [[1], [0]]), loose=True)
    check(mx.tensordot(a, b, axes=([1, 2], [0, 1])), np.tensordot(a, b, ([1, 2], [0, 1])), loose=True)
    check(mx.tensordot(a, b, axes=[2, 1]), np.tensordot(a, b, [2, 1]), loose=True)


# ---------------------------------------------------------------------------- streams, keywords

def test_stream_keyword_everywhere():
    x = mx.array([1.0, 2.0])
    check(mx.add(x, 1, stream=mx.cpu), [2.0, 3.0])
    check(mx.sum(x, stream=mx.Device(mx.cpu)), np.float32(3))
    check(mx.zeros((2,), stream=None), [0.0, 0.0])
    check(mx.arange(3, stream=mx.cpu), [0, 1, 2])
    check(mx.reshape(x, (2, 1), stream=mx.cpu), [[1.0], [2.0]])
    q, r = mx.divmod(x, 2, stream=mx.cpu)
    check(mx.broadcast_arrays(x, stream=mx.cpu)[0], [1.0, 2.0])
    check(mx.atleast_2d(x, stream=mx.cpu), [[1.0, 2.0]])
    with pytest.raises(TypeError):
        mx.add(x, 1, "cpu")  # stream is keyword-only
    with pytest.raises(TypeError):
        mx.sum(x, stream="cpu")
    with pytest.raises(TypeError):
        mx.exp(x, mx.cpu)


def test_every_op_takes_a_stream_keyword():
    x = mx.array([[1.0, 2.0], [3.0, 4.0]])
    calls = {
        "exp": (x,), "add": (x, x), "sum": (x,), "argmax": (x,), "var": (x,), "reshape": (x, (4,)),
        "flatten": (x,), "squeeze": (x,), "expand_dims": (x, 0), "transpose": (x,), "swapaxes": (x, 0, 1),
        "moveaxis": (x, 0, 1), "broadcast_to": (x, (2, 2)), "concatenate": ([x, x],), "stack": ([x],),
        "split": (x, 2), "pad": (x, 1), "tile": (x, 2), "repeat": (x, 2), "flip": (x,), "as_strided": (x,),
        "contiguous": (x,), "matmul": (x, x), "addmm": (x, x, x), "inner": (x, x), "outer": (x, x),
        "tensordot": (x, x), "where": (x, x, x), "clip": (x, 0, 1), "isclose": (x, x), "allclose": (x, x),
        "array_equal": (x, x), "round": (x,), "view": (x, mx.int32), "full": ((2,), 1), "zeros": ((2,),),
        "ones_like": (x,), "full_like": (x, 1), "eye": (2,), "identity": (2,), "tri": (2,), "tril": (x,),
        "triu": (x,), "linspace": (0, 1, 3), "unflatten": (x, 0, (2, 1)), "positive": (x,), "astype": (x, mx.int32),
    }
    for name, args in calls.items():
        getattr(mx, name)(*args, stream=mx.cpu)


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call", [
    lambda: mx.reshape(mx.zeros(4), (3,)),
    lambda: mx.reshape(mx.zeros(4), (-1, -1)),
    lambda: mx.sum(mx.zeros((2, 3)), axis=2),
    lambda: mx.sum(mx.zeros((2, 3)), axis=(0, 0)),
    lambda: mx.mean(mx.zeros((2, 3)), axis=-3),
    lambda: mx.argmax(mx.zeros((2, 3)), axis=5),
    lambda: mx.add(mx.zeros((2, 3)), mx.zeros((4,))),
    lambda: mx.where(mx.array([True, False]), mx.zeros(3), 0),
    lambda: mx.concatenate([mx.zeros((2, 3)), mx.zeros((3, 2))]),
    lambda: mx.concatenate([mx.zeros((2, 3)), mx.zeros((2, 3))], axis=2),
    lambda: mx.concatenate([]),
    lambda: mx.stack([mx.zeros(2), mx.zeros(3)]),
    lambda: mx.stack([]),
    lambda: mx.broadcast_to(mx.zeros(3), (2, 4)),
    lambda: mx.broadcast_shapes((2,), (3,)),
    lambda: mx.broadcast_shapes(),
    lambda: mx.broadcast_arrays(mx.zeros(2), mx.zeros(3)),
    lambda: mx.matmul(mx.zeros((2, 3)), mx.zeros((2, 3))),
    lambda: mx.matmul(mx.array(1.0), mx.zeros((2, 2))),
    lambda: mx.squeeze(mx.zeros((2, 3)), 0),
    lambda: mx.expand_dims(mx.zeros(2), 3),
    lambda: mx.transpose(mx.zeros((2, 3)), (0, 0)),
    lambda: mx.transpose(mx.zeros((2, 3)), (0,)),
    lambda: mx.swapaxes(mx.zeros((2, 3)), 0, 2),
    lambda: mx.moveaxis(mx.zeros((2, 3)), 3, 0),
    lambda: mx.flatten(mx.zeros((2, 3)), 1, 0),
    lambda: mx.unflatten(mx.zeros(6), 0, (4, -1)),
    lambda: mx.split(mx.zeros(6), 4),
    lambda: mx.split(mx.zeros(6), 2, axis=1),
    lambda: mx.pad(mx.zeros((2, 2)), -1),
    lambda: mx.pad(mx.zeros((2, 2)), [(1, 1), (1, 1), (1, 1)]),
    lambda: mx.pad(mx.zeros((2, 2)), (1, 2, 3)),
    lambda: mx.pad(mx.zeros((2, 2)), 1, mode="reflect"),
    lambda: mx.tile(mx.zeros(2), -1),
    lambda: mx.repeat(mx.zeros(2), -1),
    lambda: mx.clip(mx.zeros(2), None, None),
    lambda: mx.arange(0, 5, 0),
    lambda: mx.arange(True),
    lambda: mx.arange(5, dtype=mx.bool_),
    lambda: mx.linspace(0, 1, -1),
    lambda: mx.zeros((2, -1)),
    lambda: mx.full((-1,), 1.0),
    lambda: mx.eye(-1),
    lambda: mx.tri(-2),
    lambda: mx.tril(mx.zeros(3)),
    lambda: mx.view(mx.zeros(3, mx.uint8), mx.int16),
    lambda: mx.as_strided(mx.zeros(4), (3,), (2,)),
    lambda: mx.as_strided(mx.zeros(4), (2, 2), (1,)),
    lambda: mx.tensordot(mx.zeros((2, 3)), mx.zeros((2, 3)), 1),
    lambda: mx.tensordot(mx.zeros((2, 3)), mx.zeros((3, 2)), 3),
    lambda: mx.tensordot(mx.zeros((2, 3)), mx.zeros((3, 2)), [[0], [1, 0]]),
    lambda: mx.addmm(mx.zeros((3, 3)), mx.zeros((2, 3)), mx.zeros((3, 4))),
    lambda: mx.inner(mx.zeros(3), mx.zeros(4)),
    lambda: mx.max(mx.zeros((0,))),
])
def test_value_errors(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("call", [
    lambda: mx.add(mx.zeros(2), "a"),
    lambda: mx.add(mx.zeros(2), None),
    lambda: mx.add(None, mx.zeros(2)),
    lambda: mx.multiply(object(), 2),
    lambda: mx.exp("x"),
    lambda: mx.exp(None),
    lambda: mx.exp({1: 2}),
    lambda: mx.sum(mx.zeros((2, 3)), axis="a"),
    lambda: mx.sum(mx.zeros((2, 3)), axis=1.5),
    lambda: mx.sum(mx.zeros((2, 3)), axis=[0.5]),
    lambda: mx.sum(mx.zeros((2, 3)), keepdims="yes"),
    lambda: mx.var(mx.zeros(3), ddof=0.5),
    lambda: mx.argmax(mx.zeros((2, 3)), axis=[0]),
    lambda: mx.argmin(mx.zeros((2, 3)), axis=0.0),
    lambda: mx.reshape(mx.zeros(4), "ab"),
    lambda: mx.reshape(mx.zeros(4), (2.0, 2)),
    lambda: mx.reshape(mx.zeros(4), None),
    lambda: mx.broadcast_to(mx.zeros(3), 3.0),
    lambda: mx.broadcast_shapes((1, 2), "ab"),
    lambda: mx.transpose(mx.zeros((2, 3)), 1.5),
    lambda: mx.squeeze(mx.zeros((1, 3)), axis=[0.0]),
    lambda: mx.expand_dims(mx.zeros(2), None),
    lambda: mx.expand_dims(mx.zeros(2), 1.0),
    lambda: mx.swapaxes(mx.zeros((2, 3)), 0.0, 1),
    lambda: mx.zeros("3"),
    lambda: mx.zeros((2,), dtype="float32"),
    lambda: mx.zeros((2,), dtype=np.float32),
    lambda: mx.ones(None),
    lambda: mx.full((2,), "a"),
    lambda: mx.full(None, 1),
    lambda: mx.arange("a"),
    lambda: mx.arange(0, "b"),
    lambda: mx.arange(mx.array(3)),
    lambda: mx.arange(0, 5, None, "int32"),
    lambda: mx.linspace("a", 1),
    lambda: mx.eye(2.5),
    lambda: mx.eye(2, k=0.5),
    lambda: mx.concatenate(mx.zeros(3)),
    lambda: mx.concatenate(5),
    lambda: mx.concatenate([mx.zeros(2), "x"]),
    lambda: mx.concatenate([mx.zeros(2)], axis=0.0),
    lambda: mx.stack(1.0),
    lambda: mx.split(mx.zeros(6), 2.0),
    lambda: mx.split(mx.zeros(6), ["a"]),
    lambda: mx.pad(mx.zeros((2, 2)), "a"),
    lambda: mx.pad(mx.zeros((2, 2)), 1.5),
    lambda: mx.pad(mx.zeros((2, 2)), (1.5, 2)),
    lambda: mx.pad(mx.zeros((2, 2)), [(1, 2), 3]),
    lambda: mx.pad(mx.zeros((2, 2)), 1, mode=3),
    lambda: mx.tile(mx.zeros(2), 1.5),
    lambda: mx.repeat(mx.zeros(2), 1.5),
    lambda: mx.repeat(mx.zeros(2), 2, axis=1.0),
    lambda: mx.sum(mx.zeros(3), axis="0"),
    lambda: mx.flip(mx.zeros(2), axis="a"),
    lambda: mx.as_strided(mx.zeros(4), (2,), (1.5,)),
    lambda: mx.as_strided(mx.zeros(4), offset=-1),
    lambda: mx.tensordot(mx.zeros((2, 3)), mx.zeros((3, 2)), axes="x"),
    lambda: mx.tensordot(mx.zeros((2, 3)), mx.zeros((3, 2)), axes=1.5),
    lambda: mx.tensordot(mx.zeros((2, 3)), mx.zeros((3, 2)), axes=[[1.0], [0]]),
    lambda: mx.view(mx.zeros(2), "int32"),
    lambda: mx.astype(mx.zeros(2), None),
    lambda: mx.round(mx.zeros(2), 1.5),
    lambda: mx.clip(mx.zeros(2), "a", 1),
    lambda: mx.where("x", 1, 2),
    lambda: mx.isclose(mx.zeros(2), mx.zeros(2), rtol="a"),
    lambda: mx.addmm(mx.zeros((2, 2)), mx.zeros((2, 2)), mx.zeros((2, 2)), alpha="a"),
    lambda: mx.matmul(mx.zeros((2, 2)), None),
    lambda: mx.exp(mx.zeros(2), mx.zeros(2)),
    lambda: mx.exp(mx.zeros(2), bogus=1),
])
def test_type_errors(call):
    with pytest.raises(TypeError):
        call()


# ---------------------------------------------------------------------------- MLX names

_HERE = Path(__file__).resolve()
MLX_API = next((p / "shared" / "MLX_API.md" for p in _HERE.parents if (p / "shared" / "MLX_API.md").exists()),
               _HERE.parents[2] / "shared" / "MLX_API.md")

# The groups of MLX_API.md that these bindings cover, as listed there (checked against the
# file below when it is present).
GROUPS = {
    "Array creation": """array arange linspace full full_like zeros zeros_like ones ones_like eye identity tri
        tril triu asarray from_dlpack meshgrid bartlett hanning hamming blackman empty empty_like""",
    "Elementwise math": """abs sign positive negative add subtract multiply divide divmod floor_divide remainder
        power square sqrt rsqrt reciprocal exp expm1 log log2 log10 log1p logaddexp erf erfinv sin cos tan arcsin
        arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh degrees radians sigmoid floor ceil trunc round
        clip minimum maximum nan_to_num conj conjugate real imag bitwise_and bitwise_or bitwise_xor left_shift
        right_shift bitwise_invert softmax acos acosh asin asinh atan atanh atan2 pow bitwise_left_shift
        bitwise_right_shift""",
    "Comparison / logical / select": """equal not_equal less less_equal greater greater_equal array_equal allclose
        isclose isnan isinf isfinite isposinf isneginf logical_not logical_and logical_or logical_xor where""",
    "Reductions": """sum prod min max mean median var std all any argmin argmax logsumexp count_nonzero trace""",
    "Shape / manipulation": """reshape flatten unflatten squeeze expand_dims flip unstack moveaxis swapaxes transpose
        permute_dims broadcast_to broadcast_arrays broadcast_shapes concatenate concat stack split repeat tile pad
        as_strided astype view contiguous atleast_1d atleast_2d atleast_3d roll diagonal diag depends
        matrix_transpose""",
    "Indexing": """take take_along_axis put_along_axis slice slice_update""",
    "Matmul family": """matmul addmm tensordot inner outer vecdot kron einsum einsum_path block_masked_mm gather_mm
        segmented_mm hadamard_transform""",
}

# Names of these groups that need C++ ops Lazuli does not have yet. Remove a name from here
# when its op is bound (the test fails until then, and fails if a listed name appears).
EXPECTED_MISSING = set()


def _names(text):
    return [n.strip("`,.*()") for n in text.split()]


def test_group_lists_match_mlx_api_md():
    if not MLX_API.exists():
        pytest.skip("shared/MLX_API.md is not available")
    doc = MLX_API.read_text()
    for group, names in GROUPS.items():
        line = next((l for l in doc.splitlines() if l.startswith(f"- **{group}")), None)
        assert line is not None, group
        body = line.split("**:", 1)[1]
        listed = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b", body))
        for name in _names(names):
            assert name in listed, (group, name)


@pytest.mark.parametrize("group", list(GROUPS))
def test_mlx_names_exist(group):
    names = _names(GROUPS[group])
    missing = sorted(n for n in names if not hasattr(mx, n))
    unexpected = sorted(set(missing) - EXPECTED_MISSING)
    newly_present = sorted(n for n in names if n in EXPECTED_MISSING and hasattr(mx, n))
    assert not unexpected, f"missing from lazuli.core: {unexpected}"
    assert not newly_present, f"now bound, remove from EXPECTED_MISSING: {newly_present}"


def test_expected_missing_names_belong_to_the_groups():
    all_names = {n for text in GROUPS.values() for n in _names(text)}
    assert EXPECTED_MISSING <= all_names


def test_mlx_fidelity_complex_expm1_log1p_log2_sigmoid():
    # Values as NumPy defines them (sigmoid as 1 / (1 + exp(-z))), against complex128; the
    # dtype stays complex64 as in MLX. Tiny and large arguments exercise the accurate forms.
    zn = np.array([0.5 + 1j, -2 - 0.3j, 0j, 1e-4 + 2e-4j, 1e-6 - 1e-7j, 3 + 4j, -30 + 2j, 40 - 1j, -0.7 + 0.2j],
                  dtype=np.complex64)
    z128 = zn.astype(np.complex128)
    want = {"expm1": np.expm1(z128), "log1p": np.log1p(z128), "sigmoid": 1 / (1 + np.exp(-z128))}
    with np.errstate(divide="ignore"):
        want["log2"] = np.log2(z128)
    for name, w in want.items():
        got = getattr(mx, name)(mx.array(zn))
        assert got.dtype == mx.complex64, name
        np.testing.assert_allclose(np.array(got), w, rtol=2e-6, atol=1e-30, err_msg=name)
    # Broadcast over a 2-d, non-contiguous view, vs NumPy's complex64 results.
    zz = (np.arange(12).reshape(3, 4) * (0.3 - 0.2j) - 1).astype(np.complex64)
    view = mx.array(zz).T[::2]
    np.testing.assert_allclose(np.array(mx.expm1(view)), np.expm1(zz.T[::2]), rtol=1e-5, atol=1e-6)
    with np.errstate(divide="ignore"):  # log1p(-1) is -inf
        np.testing.assert_allclose(np.array(mx.log1p(view)), np.log1p(zz.T[::2]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(mx.log2(view)), np.log2(zz.T[::2]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(mx.sigmoid(view)), 1 / (1 + np.exp(-zz.T[::2])), rtol=1e-5, atol=1e-6)
    # Holomorphic derivatives, as for exp and log: d expm1 = exp, d log1p = 1 / (1 + z).
    _, d = mx.jvp(mx.expm1, [mx.array(zn[:3])], [mx.ones((3,), dtype=mx.complex64)])
    np.testing.assert_allclose(np.array(d[0]), np.exp(zn[:3]), rtol=1e-5)
    _, d = mx.jvp(mx.log1p, [mx.array(zn[:3])], [mx.ones((3,), dtype=mx.complex64)])
    np.testing.assert_allclose(np.array(d[0]), 1 / (1 + zn[:3]), rtol=1e-5)


def test_mlx_fidelity_bool_subtract_power_floor_divide():
    # MLX computes these in bool (a bool result, each the arithmetic value cast to bool), and
    # floor_divide returns the dividend; the tables below are mlx 0.29.3's answers.
    a = np.array([[True], [False]])
    b = np.array([True, False])
    ma, mb = mx.array(a), mx.array(b)
    table = {
        "subtract": [[False, True], [True, False]],  # nonzero where they differ
        "power": [[True, True], [False, True]],  # 0 ** 1 is the only 0
        "floor_divide": [[True, True], [False, False]],  # the dividend
    }
    for name, want in table.items():
        got = getattr(mx, name)(ma, mb)
        assert got.dtype == mx.bool_ and got.shape == (2, 2), name
        assert got.tolist() == want, name
    # subtract and power agree with NumPy's integer arithmetic cast back to bool.
    ai, bi = a.astype(np.int64), b.astype(np.int64)
    np.testing.assert_array_equal(np.array(mx.subtract(ma, mb)), (ai - bi).astype(bool))
    np.testing.assert_array_equal(np.array(mx.power(ma, mb)), (ai ** bi).astype(bool))
    assert (ma - mb).dtype == mx.bool_ and (ma ** mb).dtype == mx.bool_ and (ma // mb).dtype == mx.bool_
    # Mixed with a number, bool promotes as before.
    assert mx.subtract(mb, 2).dtype == mx.int32 and mx.subtract(mb, 2).tolist() == [-1, -2]
    assert mx.power(mb, 2.5).dtype == mx.float32 and mx.power(mb, 2.5).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="floor_divide"):
        mx.floor_divide(mx.array([True, False]), mx.array([True, False, True]))
    mlx = pytest.importorskip("mlx.core")
    for name in table:
        want = getattr(mlx, name)(mlx.array(a), mlx.array(b))
        got = getattr(mx, name)(ma, mb)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        assert got.tolist() == want.tolist(), name


def test_mlx_fidelity_complex_var_and_std():
    # MLX's complex variance is the mean of (z - mean)^2 (complex64, no conjugate); std is
    # its principal square root.
    zn = np.array([[1 + 2j, 3 - 1j, 0.5j], [-2, 0.25 - 0.5j, 4 + 1j]], dtype=np.complex64)
    z = mx.array(zn)

    def np_var(x, axis=None, ddof=0, keepdims=False):
        c = x - x.mean(axis=axis, keepdims=True)
        n = x.size if axis is None else x.shape[axis]
        return np.sum(c * c, axis=axis, keepdims=keepdims) / (n - ddof)

    for axis, ddof, keepdims in [(None, 0, False), (0, 0, False), (1, 1, False), (1, 0, True)]:
        kw = {} if axis is None else {"axis": axis}
        v = mx.var(z, ddof=ddof, keepdims=keepdims, **kw)
        sd = mx.std(z, ddof=ddof, keepdims=keepdims, **kw)
        assert v.dtype == mx.complex64 and sd.dtype == mx.complex64
        w = np_var(zn.astype(np.complex128), axis, ddof, keepdims)
        np.testing.assert_allclose(np.array(v), w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(sd), np.sqrt(w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(mx.var(z.T)), np_var(zn.T.astype(np.complex128)), rtol=1e-5)
    # Real inputs keep NumPy's real variance.
    x = np.array([1.0, 2.5, -3.0], dtype=np.float32)
    assert mx.var(mx.array(x)).dtype == mx.float32
    np.testing.assert_allclose(np.array(mx.std(mx.array(x))), np.std(x), rtol=1e-6)
    mlx = pytest.importorskip("mlx.core")
    for f in ("var", "std"):
        want = getattr(mlx, f)(mlx.array(zn), axis=1)
        got = getattr(mx, f)(z, axis=1)
        assert str(want.dtype).endswith("complex64") and got.dtype == mx.complex64
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-6)


def test_mlx_fidelity_bool_sign_complex_trig_and_int_overflow():
    assert mx.sign(mx.array([True, False])).tolist() == [True, False]
    z = np.array([0.3 + 0.4j, -0.5 + 0.2j], dtype=np.complex64)
    for name in ["tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "log10"]:
        np.testing.assert_allclose(np.array(getattr(mx, name)(mx.array(z))), getattr(np, name)(z), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="overflow"):
        mx.array([1], dtype=mx.uint8) + 300
    with pytest.raises(ValueError, match="overflow"):
        mx.array([1], dtype=mx.uint8) + (-1)
    assert (mx.array([1], dtype=mx.int8) + 100).tolist() == [101]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strided", [False, True])  # dense: Highway path; strided: scalar functor
def test_erf_erfinv_against_float64_references(dtype, strided):
    sp = pytest.importorskip("scipy.special")
    npdt, mdt = np.dtype(dtype), getattr(mx, dtype)
    tiny = np.finfo(npdt).smallest_subnormal
    x = np.concatenate([np.linspace(-7, 7, 200001), np.geomspace(tiny, 1, 2000), -np.geomspace(tiny, 1, 2000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(npdt)
    y = np.concatenate([np.linspace(-1, 1, 200001), 1 - np.geomspace(np.finfo(npdt).eps / 2, 0.5, 2000),
                        np.geomspace(tiny, 1e-3, 2000), [0.0, -0.0, 1.5, -1.5, np.inf, np.nan]]).astype(npdt)

    def run(fn, v):
        if strided:
            a = mx.array(np.stack([v, v], 1), dtype=mdt)[:, 0]
        else:
            a = mx.array(v, dtype=mdt)
        return np.array(fn(a)).astype(np.float64)

    f64 = dtype == "float64"
    for fn, ref, v, ulps in ((mx.erf, sp.erf, x, 3 if f64 else 2), (mx.erfinv, sp.erfinv, y, 5 if f64 else 2)):
        got, want = run(fn, v), ref(v.astype(np.float64))
        # scipy's float64 erf / erfinv are themselves up to 2-3 ulp off (we are within 1 ulp of
        # glibc's erf and 1.5 of erfinv by mpmath); float32 answers round the reference.
        tol = ulps * np.spacing(np.abs(want).astype(npdt)).astype(np.float64)
        finite = np.isfinite(want)
        assert np.all(np.abs(got[finite] - want[finite]) <= tol[finite]), fn
        np.testing.assert_array_equal(got[~finite], want[~finite])
        zeros = v == 0
        np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(v[zeros]))
    # small arrays (only a partial vector) agree with the large ones
    for fn, v in ((mx.erf, x[::997]), (mx.erfinv, y[::997])):
        np.testing.assert_array_equal(run(fn, v[:3]), run(fn, v)[:3])
