"""Differential test of mx.compile: random programs run eagerly and compiled must agree.

A seeded generator builds each program as a list of steps over 1-5 inputs of
broadcast-compatible shapes (0-d, size-1, empty and long axes; contiguous, transposed,
strided, broadcast and reversed views) and mixed dtypes, plus a random key: elementwise
chains, comparisons, where, astype, constants, reductions, reshapes, transposes, slices,
take and advanced indexing, random draws from the key, matmul, scans, sort, concatenate,
divmod, repeated subexpressions and several outputs. Every program is checked:
  - compiled against eager, twice, at the shapes it was built for;
  - compiled with shapeless=True against eager at 3 shapes of its rank and back at the
    first (a stale trace shows up as a wrong shape or value);
  - for a share of programs: grad of compiled, compile of grad, jvp of compiled, compile of
    a compiled call, export and import of the compiled function, vmap of compiled and
    compile of vmap.
Compiled results must equal eager ones exactly for integer and bool outputs and, since the
fused kernels run the eager functors, to an ulp or so for floats (float32_not_bitwise
counts programs whose float32 outputs are not bit for bit eager's).
A second test runs random training steps eagerly and compiled.

LAZULI_COMPILE_FUZZ_PROGRAMS (default 3000) sets how many programs run,
LAZULI_COMPILE_FUZZ_SEED (default 0) the first program's seed, LAZULI_COMPILE_FUZZ_TRAININGS
(default 40) how many training runs. A failure names the seed of its program;
LAZULI_COMPILE_FUZZ_REPLAY=<seed> runs that program alone and prints it.
"""
import os
import tempfile
import time

import numpy as np

import lazuli.core as mx

N_PROGRAMS = int(os.environ.get("LAZULI_COMPILE_FUZZ_PROGRAMS", "3000"))
FIRST_SEED = int(os.environ.get("LAZULI_COMPILE_FUZZ_SEED", "0"))
REPLAY = os.environ.get("LAZULI_COMPILE_FUZZ_REPLAY")

EXPORT_DIR = tempfile.mkdtemp(prefix="compile_differential")
FLOATS = (mx.float32, mx.float64, mx.float16, mx.bfloat16)
# Allowed relative differences of compiled from eager results, by the least precise float
# dtype in the program: the same functors run, but an input contiguous in another order
# than row-major meets a transcendental's vector code in other groups of lanes.
TOLERANCE = {mx.float32: 4e-6, mx.float64: 1e-13, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}

UNARY = [mx.negative, mx.abs, mx.exp, mx.log, mx.sqrt, mx.sin, mx.cos, mx.tanh, mx.sigmoid, mx.square,
         mx.reciprocal, mx.floor, mx.ceil, mx.round, mx.erf, mx.log1p, mx.expm1, mx.rsqrt, mx.arctan,
         mx.sign, mx.sinh, mx.arcsinh, mx.log2]
INT_UNARY = [mx.negative, mx.abs, mx.square, mx.sign]
BINARY = [mx.add, mx.subtract, mx.multiply, mx.divide, mx.maximum, mx.minimum, mx.power, mx.arctan2,
          mx.logaddexp, mx.remainder]
INT_BINARY = [mx.add, mx.subtract, mx.multiply, mx.maximum, mx.minimum]
COMPARE = [mx.equal, mx.not_equal, mx.less, mx.less_equal, mx.greater, mx.greater_equal]
LOGICAL = [mx.logical_and, mx.logical_or, mx.logical_xor]


def name_of(f):
    return getattr(f, "__name__", repr(f))


# ---- inputs -----------------------------------------------------------------------------

def make_input(rng, shape, dtype):
    """An array of shape and dtype with random values, sometimes a non-contiguous view."""
    if dtype == mx.bool_:
        data = rng.random(shape) < 0.5
    elif dtype == mx.int32:
        data = rng.integers(-6, 7, size=shape).astype(np.int32)
    else:
        data = rng.standard_normal(shape) * 2
    layout = rng.integers(0, 5) if len(shape) else 0
    if layout == 1 and len(shape) >= 2:  # a transposed view
        perm = list(range(len(shape)))[::-1]
        return mx.transpose(mx.array(np.ascontiguousarray(np.transpose(data, perm)), dtype=dtype), perm)
    if layout == 2:  # every other element of the last axis
        wide = np.repeat(data, 2, axis=-1)
        return mx.array(wide, dtype=dtype)[..., ::2]
    if layout == 3 and shape and shape[0] > 0:  # rows broadcast from one
        row = mx.array(data[:1], dtype=dtype)
        return mx.broadcast_to(row, shape)
    if layout == 4:  # the first axis reversed
        return mx.array(np.ascontiguousarray(data[::-1]), dtype=dtype)[::-1]
    return mx.array(data, dtype=dtype)


def input_shapes(rng, rank, n_inputs, n_variants):
    """Shapes of each input for each variant: every variant has its own full shape of the
    same rank; an input keeps the same axes of size 1 (broadcast) and the same rank in all."""
    masks = []
    for _ in range(n_inputs):
        r = rank if rng.random() < 0.7 else int(rng.integers(0, rank + 1))
        masks.append((r, [rng.random() < 0.25 for _ in range(r)]))
    variants = []
    for v in range(n_variants):
        full = [int(rng.choice([0, 1, 2, 3, 4, 5, 7])) if rng.random() < 0.05 else int(rng.integers(1, 6))
                for _ in range(rank)]
        if v == 0 and rng.random() < 0.3 and rank:
            full[int(rng.integers(0, rank))] = 1
        if rng.random() < 0.15 and rank:  # long enough for several tiles of a fused kernel
            full[int(rng.integers(0, rank))] = int(rng.integers(200, 1500))
        shapes = []
        for r, ones in masks:
            dims = full[rank - r:]
            shapes.append(tuple(1 if one else d for d, one in zip(dims, ones)))
        variants.append(shapes)
    return variants


# ---- programs ---------------------------------------------------------------------------

class Program:
    """steps: (description, function of the list of values so far, index of the value it
    repeats or None); outputs: value indices. Called with shared=True, a repeated step
    returns the value it repeats, as compile's merging of equal nodes makes it: gradients
    then sum cotangents in the same order as the compiled graph does."""

    def __init__(self, seed, n_inputs):
        self.seed = seed
        self.n_inputs = n_inputs
        self.steps = []
        self.outputs = []

    def __call__(self, *inputs, shared=False):
        values = list(inputs)
        for _, step, repeats in self.steps:
            values.append(values[repeats] if shared and repeats is not None else step(values))
        return [values[i] for i in self.outputs]

    def __str__(self):
        lines = [f"program seed={self.seed}, inputs v0..v{self.n_inputs - 1}"]
        for k, (text, _, _) in enumerate(self.steps):
            lines.append(f"  v{self.n_inputs + k} = {text}")
        lines.append(f"  return {', '.join('v%d' % i for i in self.outputs)}")
        return "\n".join(lines)


def random_axes(rng, ndim):
    if ndim == 0:
        return None
    if rng.random() < 0.2:
        return None
    k = int(rng.integers(1, ndim + 1))
    return sorted(int(a) for a in rng.choice(ndim, size=k, replace=False))


def candidate_step(rng, values, key_index, constants):
    """A random step (description, function of values) reading the given values (lists of
    per-variant arrays); None when nothing fits."""
    n = len(values[0])
    data = [k for k in range(n) if k != key_index]  # the key's huge integers make poor data
    pick = lambda: data[int(rng.integers(0, len(data)))]
    i = pick()
    x = values[0][i]
    dt = x.dtype
    is_float = dt in FLOATS
    kind = rng.random()

    if kind < 0.25:  # unary
        if dt == mx.bool_:
            return f"logical_not(v{i})", lambda v: mx.logical_not(v[i])
        f = UNARY[rng.integers(len(UNARY))] if is_float else INT_UNARY[rng.integers(len(INT_UNARY))]
        return f"{name_of(f)}(v{i})", lambda v: f(v[i])
    if kind < 0.5:  # binary, with another value or a constant
        j = pick()
        y = values[0][j]
        if dt == mx.bool_ and y.dtype == mx.bool_:
            f = LOGICAL[rng.integers(len(LOGICAL))]
            return f"{name_of(f)}(v{i}, v{j})", lambda v: f(v[i], v[j])
        if dt == mx.bool_ or y.dtype == mx.bool_:
            return None
        both_int = not is_float and y.dtype not in FLOATS
        ops = INT_BINARY if both_int else BINARY
        f = ops[rng.integers(len(ops))]
        r = rng.random()
        if r < 0.15:
            c = float(rng.choice([0.5, 2.0, -1.5, 3.0])) if is_float else int(rng.integers(-3, 4))
            return f"{name_of(f)}(v{i}, {c!r})", lambda v: f(v[i], c)
        if r < 0.25:  # a captured constant array (size-1 axes only, so it fits every shape)
            shape = tuple(1 for _ in range(int(rng.integers(0, x.ndim + 1))))
            const = mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dt)
            constants.append(const)
            return f"{name_of(f)}(v{i}, const{shape})", lambda v: f(v[i], const)
        return f"{name_of(f)}(v{i}, v{j})", lambda v: f(v[i], v[j])
    if kind < 0.58:  # comparison or select
        j = pick()
        if (dt == mx.bool_) != (values[0][j].dtype == mx.bool_):
            return None
        if rng.random() < 0.5 or dt == mx.bool_:
            f = COMPARE[rng.integers(len(COMPARE))]
            return f"{name_of(f)}(v{i}, v{j})", lambda v: f(v[i], v[j])
        conds = [c for c in range(n) if values[0][c].dtype == mx.bool_]
        if not conds:
            return f"where(v{i} > 0, v{i}, v{j})", lambda v: mx.where(v[i] > 0, v[i], v[j])
        c = conds[rng.integers(len(conds))]
        return f"where(v{c}, v{i}, v{j})", lambda v: mx.where(v[c], v[i], v[j])
    if kind < 0.64:  # astype
        to = [mx.float32, mx.float32, mx.float64, mx.float16, mx.bfloat16, mx.int32, mx.bool_][rng.integers(7)]
        if is_float and to == mx.int32:  # float -> int of huge values is undefined: clip first
            return f"astype(clip(v{i}), int32)", lambda v: mx.clip(v[i], -100, 100).astype(mx.int32)
        return f"astype(v{i}, {to})", lambda v: v[i].astype(to)
    if kind < 0.72:  # reductions
        axes = random_axes(rng, x.ndim)
        keep = bool(rng.random() < 0.5)
        if dt == mx.bool_:
            f = [mx.all, mx.any][rng.integers(2)]
        else:
            f = [mx.sum, mx.max, mx.min, mx.mean, mx.prod, mx.logsumexp][rng.integers(6 if is_float else 5)]
        if f in (mx.max, mx.min) and any(a.size == 0 for a in (vs[i] for vs in values)):
            return None
        return f"{name_of(f)}(v{i}, axis={axes}, keepdims={keep})", lambda v: f(v[i], axis=axes, keepdims=keep)
    if kind < 0.80:  # shape changes: they read the shape at run time
        r = rng.random()
        if r < 0.3 and x.ndim >= 1:
            perm = [int(p) for p in rng.permutation(x.ndim)]
            return f"transpose(v{i}, {perm})", lambda v: mx.transpose(v[i], perm)
        if r < 0.5 and x.ndim >= 2:
            a = int(rng.integers(0, x.ndim - 1))
            return (f"reshape(v{i}, merge axes {a},{a + 1})",
                    lambda v: v[i].reshape(v[i].shape[:a] + (v[i].shape[a] * v[i].shape[a + 1],) + v[i].shape[a + 2:]))
        if r < 0.6:
            a = int(rng.integers(0, x.ndim + 1))
            return f"expand_dims(v{i}, {a})", lambda v: mx.expand_dims(v[i], a)
        if r < 0.8 and x.ndim >= 1:
            a = int(rng.integers(0, x.ndim))
            start, stop, stride = int(rng.integers(0, 3)), int(rng.integers(-2, 6)), int(rng.integers(1, 3))
            index = (slice(None),) * a + (slice(start, stop, stride),)
            return f"v{i}[{index}]", lambda v: v[i][index]
        if x.ndim >= 1:  # broadcast a size-1 axis to another value's
            a = int(rng.integers(0, x.ndim))
            return (f"broadcast_to(v{i}[axis {a} :1], v{i}.shape)",
                    lambda v: mx.broadcast_to(mx.take(v[i], mx.array([0]), axis=a) if v[i].shape[a] else v[i], v[i].shape))
        return None
    if kind < 0.85 and x.ndim >= 1:  # take with fixed indices valid at every variant's shape
        a = int(rng.integers(0, x.ndim))
        dim = min(vs[i].shape[a] for vs in values)
        if dim == 0:
            return None
        idx = [int(k) for k in rng.integers(-dim, dim, size=int(rng.integers(1, 4)))]
        indices = mx.array(idx)
        return f"take(v{i}, {idx}, axis={a})", lambda v: mx.take(v[i], indices, axis=a)
    if kind < 0.90 and is_float:  # random draws from the key input, added to a value
        draw = [mx.random.normal, mx.random.uniform][rng.integers(2)]
        split = bool(rng.random() < 0.5)

        def sample(v):
            k = mx.random.split(v[key_index])[1] if split else v[key_index]
            return v[i] + draw(shape=v[i].shape, key=k).astype(v[i].dtype)
        return f"v{i} + {name_of(draw)}(key{' split' if split else ''})", sample
    if kind < 0.94 and is_float and x.ndim >= 2:  # matmul with a transposed value
        j = pick()
        y = values[0][j]
        if y.dtype not in FLOATS or y.ndim != x.ndim:
            return None
        return f"v{i} @ swapaxes(v{j})", lambda v: v[i] @ mx.swapaxes(v[j], -1, -2)
    if kind < 0.97 and x.ndim >= 1 and dt != mx.bool_:
        a = int(rng.integers(0, x.ndim))
        f = [mx.cumsum, mx.cummax][rng.integers(2)]
        return f"{name_of(f)}(v{i}, axis={a})", lambda v: f(v[i], axis=a)
    r = rng.random()
    if r < 0.04:  # a constant result: nothing feeds it
        return "arange(3.0)", lambda v: mx.arange(3.0)
    if r < 0.2 and is_float and x.ndim >= 1:
        return f"softmax(v{i}, -1)", lambda v: mx.softmax(v[i], axis=-1)
    if r < 0.35 and x.ndim >= 1:  # concatenate with a value of the same rank and dtype
        j = pick()
        a = int(rng.integers(0, x.ndim))
        return f"concatenate(v{i}, v{j}, axis={a})", lambda v: mx.concatenate([v[i], v[j]], axis=a)
    if r < 0.5 and x.ndim >= 1:  # advanced indexing with a fixed index array on axis 0
        dim = min(vs[i].shape[0] for vs in values)
        if dim == 0:
            return None
        idx = np.array(rng.integers(0, dim, size=(int(rng.integers(1, 3)), int(rng.integers(1, 3)))), dtype=np.int32)
        indices = mx.array(idx)
        return f"v{i}[{idx.tolist()}]", lambda v: v[i][indices]
    if r < 0.6:
        return f"stop_gradient(v{i})", lambda v: mx.stop_gradient(v[i])
    if r < 0.75 and dt != mx.bool_:
        lo, hi = sorted(float(c) for c in rng.integers(-3, 4, size=2)) if is_float else sorted(int(c) for c in rng.integers(-3, 4, size=2))
        return f"clip(v{i}, {lo}, {hi})", lambda v: mx.clip(v[i], lo, hi)
    if r < 0.8 and dt != mx.bool_:  # one result of divmod: a node of two outputs
        j = pick()
        if values[0][j].dtype == mx.bool_:
            return None
        k = int(rng.integers(0, 2))
        return f"divmod(v{i}, v{j})[{k}]", lambda v: mx.divmod(v[i], v[j])[k]
    if r < 0.85 and dt == mx.int32:
        j = pick()
        if values[0][j].dtype != mx.int32:
            return None
        return f"v{i} // (abs(v{j}) + 1)", lambda v: v[i] // (mx.abs(v[j]) + 1)
    if x.ndim >= 1 and dt != mx.bool_:
        a = int(rng.integers(0, x.ndim))
        return f"sort(v{i}, axis={a})", lambda v: mx.sort(v[i], axis=a)
    return None


def build_program(seed, n_variants=3):
    """A random program and its inputs at n_variants shapes of one rank."""
    rng = np.random.default_rng(seed)
    rank = int(rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4]))
    n_data = int(rng.integers(1, 6))
    dtypes = [mx.float32 if rng.random() < 0.6 else
              [mx.float64, mx.float16, mx.bfloat16, mx.int32, mx.bool_][rng.integers(5)] for _ in range(n_data)]
    shapes = input_shapes(rng, rank, n_data, n_variants)
    key = mx.random.key(int(rng.integers(0, 2**31)))
    variants = [[make_input(rng, s, t) for s, t in zip(variant, dtypes)] + [key] for variant in shapes]
    if n_data >= 2 and rng.random() < 0.1:  # one array passed as two arguments
        for v in variants:
            if tuple(v[0].shape) == tuple(v[1].shape) and v[0].dtype == v[1].dtype:
                v[1] = v[0]
    prog = Program(seed, n_data + 1)
    values = [list(v) for v in variants]  # per variant: the values built so far (lazy)
    constants = []
    n_steps = int(rng.integers(2, 20 if rng.random() < 0.8 else 40))
    attempts = 0
    while len(prog.steps) < n_steps and attempts < 3 * n_steps + 20:
        attempts += 1
        repeats = None
        if prog.steps and rng.random() < 0.12:  # a repeated subexpression: merged by compile
            k = int(rng.integers(len(prog.steps)))
            text, step, repeats = prog.steps[k]
            text, repeats = f"again v{prog.n_inputs + k} = " + text, prog.n_inputs + k if repeats is None else repeats
        else:
            made = candidate_step(rng, values, n_data, constants)
            if made is None:
                continue
            text, step = made
        try:
            new = [step(v) for v in values]
        except (ValueError, IndexError, TypeError):
            continue
        if any(a.dtype == mx.uint32 for a in new):
            continue
        if any(a.size > 20000 for a in new):
            continue
        for v, a in zip(values, new):
            v.append(a)
        prog.steps.append((text, step, repeats))
    # Results of a float64 step from float32 values are as precise as float32 ones.
    prog.tolerance = max([TOLERANCE[a.dtype] for a in values[0] if a.dtype in FLOATS], default=0.0)
    n = len(values[0])
    candidates = [i for i in range(n) if i != n_data]
    n_out = int(rng.integers(1, 4))
    prog.outputs = [candidates[-1]] + [candidates[int(rng.integers(len(candidates)))] for _ in range(n_out - 1)]
    return prog, variants, rng


# ---- checks -----------------------------------------------------------------------------

class Mismatch(AssertionError):
    pass


def to_numpy(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


# Gradients of compiled functions sum the same terms as eager ones but not always in the
# same order (a fused group's vjp sums the cotangents of an input it reads twice first):
# cancelling terms leave different noise, and inf + -inf may be NaN on one side only.
GRAD_TOLERANCE = 1e-4


def compare(what, got, want, tolerance, grads=False):
    if len(got) != len(want):
        raise Mismatch(f"{what}: {len(got)} outputs, eager has {len(want)}")
    for k, (g, w) in enumerate(zip(got, want)):
        if tuple(g.shape) != tuple(w.shape) or g.dtype != w.dtype:
            raise Mismatch(f"{what}: output {k} is {g.dtype}{tuple(g.shape)}, eager {w.dtype}{tuple(w.shape)}")
        gn, wn = to_numpy(g), to_numpy(w)
        if w.dtype in FLOATS:
            tol = max(TOLERANCE[w.dtype], tolerance, GRAD_TOLERANCE if grads else 0)
            ok = np.isclose(gn, wn, rtol=tol, atol=tol, equal_nan=True)
            # infinities are compared exactly by isclose; a NaN must be NaN on both sides.
            if grads:
                ok |= ~np.isfinite(gn) & ~np.isfinite(wn)
            if not ok.all():
                bad = np.argwhere(~ok)[0]
                raise Mismatch(f"{what}: output {k} differs at {tuple(bad)}: {gn[tuple(bad)]!r} vs eager "
                               f"{wn[tuple(bad)]!r} ({int((~ok).sum())} of {ok.size} elements)")
        elif not np.array_equal(gn, wn):
            raise Mismatch(f"{what}: output {k} differs: {gn!r} vs eager {wn!r}")


def exact_float32(got, want):
    """Whether float32 outputs agree bit for bit (NaNs as NaNs)."""
    for g, w in zip(got, want):
        if w.dtype != mx.float32:
            continue
        gn, wn = to_numpy(g), to_numpy(w)
        if not np.array_equal(gn, wn, equal_nan=True):
            return False
    return True


def evaluate(fn, *args):
    """fn's outputs, evaluated, as a list (grad of one argument gives a bare array)."""
    out = fn(*args)
    out = [out] if isinstance(out, mx.array) else list(out)
    mx.eval(out)
    return out


def float_inputs(prog, inputs):
    return [k for k in range(prog.n_inputs - 1) if inputs[k].dtype in (mx.float32, mx.float64)]


def loss_of(prog, inputs, wrt, shared=False):
    """A scalar function of the inputs listed in wrt (the others fixed): the sum of the
    program's floating outputs, weighted."""
    def loss(*xs):
        args = list(inputs)
        for k, x in zip(wrt, xs):
            args[k] = x
        total = mx.array(0.0)
        for m, out in enumerate(prog(*args, shared=shared)):
            if out.dtype in FLOATS:
                total = total + mx.sum(out.astype(mx.float32)) * (m + 1)
        return total
    return loss


def check_program(seed, stats):
    prog, variants, rng = build_program(seed)
    inputs = variants[0]
    try:
        want = evaluate(prog, *inputs)
    except (ValueError, IndexError) as e:  # an invalid program: compiled must fail as well
        try:
            evaluate(mx.compile(prog), *inputs)
        except (ValueError, IndexError):
            stats["invalid"] += 1
            return prog
        raise Mismatch(f"eager raised {e!r}, compiled did not")
    compiled = mx.compile(prog)
    got = evaluate(compiled, *inputs)
    compare("compile", got, want, prog.tolerance)
    # Fused steps run the eager functors, choosing vector or scalar code as eager does; but
    # eager runs an input contiguous in another order in memory order, in other vectors.
    stats["float32_not_bitwise"] += not exact_float32(got, want)
    compare("compile (second call)", evaluate(compiled, *inputs), want, prog.tolerance)

    shapeless = mx.compile(prog, shapeless=True)
    for v, args in enumerate(variants):
        try:
            want_v = evaluate(prog, *args)
        except (ValueError, IndexError):
            continue
        compare(f"shapeless compile, shape variant {v}", evaluate(shapeless, *args), want_v, prog.tolerance)
    # Back to the first shapes after others: must not reuse the last one.
    compare("shapeless compile, first shapes again", evaluate(shapeless, *inputs), want, prog.tolerance)

    wrt = float_inputs(prog, inputs)
    if wrt and rng.random() < 0.3:
        stats["grad"] += 1
        loss = loss_of(prog, inputs, wrt)
        argnums = list(range(len(wrt)))
        xs = [inputs[k] for k in wrt]
        # Merged nodes sum their cotangents before the backward pass goes on: so does the
        # eager program with repeats shared. (With them apart, ill-conditioned programs
        # differ a lot: a cotangent of 1e10 summed in another order.)
        # Compiling a gradient merges nodes of the forward pass only, not their cotangents.
        want_g = evaluate(mx.grad(loss_of(prog, inputs, wrt, shared=True), argnums=argnums), *xs)
        compare("grad of compiled", evaluate(mx.grad(mx.compile(loss), argnums=argnums), *xs), want_g,
                prog.tolerance, grads=True)
        want_g = evaluate(mx.grad(loss, argnums=argnums), *xs)
        compare("compile of grad", evaluate(mx.compile(mx.grad(loss, argnums=argnums)), *xs), want_g,
                prog.tolerance, grads=True)
        tangents = [make_input(rng, tuple(x.shape), x.dtype) for x in xs]
        want_t = mx.jvp(loss, xs, tangents)[1]
        compare("jvp of compiled", mx.jvp(mx.compile(loss), xs, tangents)[1], want_t, prog.tolerance, grads=True)
    if rng.random() < 0.05:  # exported compiled graphs hold the fused nodes: they must read back
        stats["export"] += 1
        path = os.path.join(EXPORT_DIR, "program.mlxfn")
        mx.export_function(path, compiled, *inputs)
        compare("import of exported compiled", evaluate(mx.import_function(path), *inputs), want, prog.tolerance)
    if rng.random() < 0.1:
        stats["nested"] += 1
        inner = mx.compile(prog)
        compare("compile of compiled", evaluate(mx.compile(lambda *a: inner(*a)), *inputs), want, prog.tolerance)
    if rng.random() < 0.2:
        stats["vmap"] += 1
        axes = [int(rng.integers(0, x.ndim + 1)) for x in inputs[:-1]]
        batched = [mx.stack([x, make_input(rng, tuple(x.shape), x.dtype)], axis=ax) for x, ax in zip(inputs[:-1], axes)]
        in_axes = tuple(axes + [None])
        args = batched + [inputs[-1]]
        try:
            want_v = evaluate(mx.vmap(prog, in_axes=in_axes), *args)
        except (ValueError, IndexError):
            stats["vmap_unsupported"] += 1
            return prog
        compare("vmap of compiled", evaluate(mx.vmap(mx.compile(prog), in_axes=in_axes), *args), want_v, prog.tolerance)
        compare("compile of vmap", evaluate(mx.compile(mx.vmap(prog, in_axes=in_axes)), *args), want_v, prog.tolerance)
    return prog


def run(seeds):
    stats = {"programs": 0, "invalid": 0, "float32_not_bitwise": 0, "grad": 0, "vmap": 0, "nested": 0, "export": 0, "vmap_unsupported": 0}
    failures = []
    for seed in seeds:
        stats["programs"] += 1
        try:
            check_program(seed, stats)
        except Exception as e:  # every failure is reported with its seed, not only the first
            failures.append((seed, f"{type(e).__name__}: {e}"))
    return stats, failures


def test_compiled_programs_match_eager():
    start = time.time()
    stats, failures = run(range(FIRST_SEED, FIRST_SEED + N_PROGRAMS))
    print(f"\n{stats} in {time.time() - start:.1f} s")
    report = "\n".join(f"seed {s}: {msg}" for s, msg in failures[:20])
    assert not failures, (f"{len(failures)} of {N_PROGRAMS} programs failed (replay one with "
                          f"LAZULI_COMPILE_FUZZ_REPLAY=<seed>):\n{report}")


if __name__ == "__main__":
    if REPLAY is not None:
        seed = int(REPLAY)
        print(build_program(seed)[0])
        stats, failures = run([seed])
        print(stats, failures or "ok")
    else:
        start = time.time()
        stats, failures = run(range(FIRST_SEED, FIRST_SEED + N_PROGRAMS))
        print(stats, f"{time.time() - start:.1f} s")
        for s, msg in failures:
            print(f"seed {s}: {msg}")


# ---- training steps ---------------------------------------------------------------------

def training_run(seed, compiled, n_steps=4):
    """Losses and final parameters of n_steps of a random model and optimizer, the step
    run eagerly or compiled with the model, optimizer and random state as its state."""
    import lazuli.nn as nn
    import lazuli.optimizers as optim

    rng = np.random.default_rng(seed)
    mx.random.seed(seed)
    widths = [int(w) for w in rng.integers(2, 9, size=int(rng.integers(2, 5)))]
    layers = []
    for k in range(len(widths) - 1):
        layers.append(nn.Linear(widths[k], widths[k + 1], bias=bool(rng.random() < 0.8)))
        if k < len(widths) - 2:
            layers.append([nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid][rng.integers(5)]())
            if rng.random() < 0.3:
                layers.append(nn.LayerNorm(widths[k + 1]))
            if rng.random() < 0.3:
                layers.append(nn.Dropout(0.25))
    model = nn.Sequential(*layers)
    lr = float(rng.choice([1e-2, 5e-2]))
    opt = [lambda: optim.SGD(lr, momentum=0.9, weight_decay=1e-3), lambda: optim.Adam(lr), lambda: optim.AdamW(lr),
           lambda: optim.RMSprop(lr), lambda: optim.Adagrad(lr), lambda: optim.Lion(lr)][rng.integers(6)]()
    batch = int(rng.integers(1, 9))
    x = mx.array(rng.standard_normal((batch, widths[0])).astype(np.float32))
    classify = rng.random() < 0.5
    y = (mx.array(rng.integers(0, widths[-1], size=batch)) if classify else
         mx.array(rng.standard_normal((batch, widths[-1])).astype(np.float32)))

    def loss_fn(model, x, y):
        out = model(x)
        return nn.losses.cross_entropy(out, y, reduction="mean") if classify else nn.losses.mse_loss(out, y)

    value_and_grad = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, grads = value_and_grad(model, x, y)
        opt.update(model, grads)
        return loss

    state = [model.state, opt.state, mx.random.state]
    if compiled:
        step = mx.compile(step, inputs=state, outputs=state)
    losses = []
    for _ in range(n_steps):
        loss = step(x, y)
        mx.eval(state)
        losses.append(loss.item())
    from lazuli.utils import tree_flatten
    return losses, tree_flatten(model.parameters())


N_TRAINING = int(os.environ.get("LAZULI_COMPILE_FUZZ_TRAININGS", "40"))


def test_compiled_training_steps_match_eager():
    failures = []
    for seed in range(FIRST_SEED, FIRST_SEED + N_TRAINING):
        eager_losses, eager_params = training_run(seed, compiled=False)
        losses, params = training_run(seed, compiled=True)
        try:
            np.testing.assert_allclose(losses, eager_losses, rtol=1e-5, atol=1e-6)
            assert [k for k, _ in params] == [k for k, _ in eager_params]
            for (k, a), (_, b) in zip(params, eager_params):
                np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6, err_msg=k)
        except AssertionError as e:
            failures.append((seed, str(e).strip().splitlines()[0]))
    assert not failures, f"{len(failures)} of {N_TRAINING} training runs differ:\n" + "\n".join(
        f"seed {s}: {m}" for s, m in failures[:10])
