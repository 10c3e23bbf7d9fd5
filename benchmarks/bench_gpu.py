"""GPU benchmarks: Lazuli's CUDA backend against PyTorch on the same GPU, in one process.
Prints a markdown table (and the device's name); `make bench-gpu` runs it.

Each case is timed with CUDA synchronisation on both sides: Lazuli's `mx.eval` returns when
the GPU work is done; PyTorch is followed by `torch.cuda.synchronize()`. Bandwidth cases
report the bytes that must move (read + written once) over the median time."""
import statistics
import sys
import time

import torch

import lazuli.core as mx


def median_s(f, reps=20, warmup=3):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def lz_time(fn, reps=20):
    return median_s(lambda: mx.eval(fn()), reps)


def torch_time(fn, reps=20):
    def run():
        fn()
        torch.cuda.synchronize()

    return median_s(run, reps)


ROWS = []
COPY_TBS = None


def row(case, lz_s, torch_s, unit, amount, limit=None):
    """amount: FLOPs or bytes of the case; unit: 'TFLOP/s' or 'TB/s'."""
    lz_rate, t_rate = amount / lz_s / 1e12, amount / torch_s / 1e12
    if unit == "TB/s" and COPY_TBS:
        limit = f"{lz_rate / COPY_TBS:.2f} of copy"
    ROWS.append((case, lz_s * 1e3, torch_s * 1e3, f"{lz_rate:.2f} {unit}", f"{t_rate:.2f} {unit}",
                 torch_s / lz_s, limit))
    print(f"{case}: lazuli {lz_s * 1e3:.3f} ms, torch {torch_s * 1e3:.3f} ms", file=sys.stderr, flush=True)


TORCH_DTYPE = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32,
               "float64": torch.float64}


def bench_matmul():
    for name, n in [("bfloat16", 8192), ("float16", 8192), ("float32", 8192), ("float64", 4096)]:
        dt = getattr(mx, name)
        a = mx.random.normal((n, n), stream=mx.cpu).astype(dt)
        b = mx.random.normal((n, n), stream=mx.cpu).astype(dt)
        mx.eval(a, b)
        ta = torch.randn(n, n, device="cuda", dtype=TORCH_DTYPE[name])
        tb = torch.randn(n, n, device="cuda", dtype=TORCH_DTYPE[name])
        torch.backends.cuda.matmul.allow_tf32 = False
        reps = 10 if name != "float64" else 5
        row(f"matmul {name} {n}³", lz_time(lambda: a @ b, reps), torch_time(lambda: ta @ tb, reps), "TFLOP/s",
            2 * n**3)
    # batch-1 (gemv): a decoding step's projection, 1 x 4096 @ 4096 x 11008 in float16
    x = mx.random.normal((1, 4096), stream=mx.cpu).astype(mx.float16)
    w = mx.random.normal((4096, 11008), stream=mx.cpu).astype(mx.float16)
    tx = torch.randn(1, 4096, device="cuda", dtype=torch.float16)
    tw = torch.randn(4096, 11008, device="cuda", dtype=torch.float16)
    mx.eval(x, w)
    row("gemv float16 1×4096 @ 4096×11008", lz_time(lambda: x @ w, 50), torch_time(lambda: tx @ tw, 50), "TB/s",
        w.size * 2)
    # The same through a Linear layer's layout: the weight stored (out, in), used as x @ W.T.
    wt = mx.random.normal((11008, 4096), stream=mx.cpu).astype(mx.float16)
    twt = torch.randn(11008, 4096, device="cuda", dtype=torch.float16)
    mx.eval(wt)
    row("gemv float16 1×4096 @ (11008×4096)ᵀ, as nn.Linear", lz_time(lambda: x @ wt.T, 50),
        torch_time(lambda: tx @ twt.T, 50), "TB/s", w.size * 2)


def bench_bandwidth():
    n = 1 << 28  # 256M float32: 1 GiB per array
    x = mx.random.normal((n,), stream=mx.cpu)
    y = mx.random.normal((n,), stream=mx.cpu)
    mx.eval(x, y)
    tx = torch.randn(n, device="cuda")
    ty = torch.randn(n, device="cuda")
    gib = n * 4
    # The copy bandwidth that the bandwidth-bound cases are measured against.
    global COPY_TBS
    COPY_TBS = 2 * gib / torch_time(lambda: tx.clone()) / 1e12
    print(f"copy bandwidth (torch clone): {COPY_TBS:.2f} TB/s", file=sys.stderr)
    row("add float32 256M", lz_time(lambda: x + y), torch_time(lambda: tx + ty), "TB/s", 3 * gib)
    row("exp float32 256M", lz_time(lambda: mx.exp(x)), torch_time(lambda: torch.exp(tx)), "TB/s", 2 * gib)
    row("x * 2 + 1 float32 256M (2 ops)", lz_time(lambda: x * 2 + 1), torch_time(lambda: tx * 2 + 1), "TB/s",
        4 * gib)
    xb, yb, txb, tyb = x.astype(mx.bfloat16), y.astype(mx.bfloat16), tx.to(torch.bfloat16), ty.to(torch.bfloat16)
    mx.eval(xb, yb)
    row("add bfloat16 256M", lz_time(lambda: xb + yb), torch_time(lambda: txb + tyb), "TB/s", 3 * n * 2)
    try:
        row("sum float32 256M (all)", lz_time(lambda: mx.sum(x)), torch_time(lambda: tx.sum()), "TB/s", gib)
        m = x.reshape(16384, 16384)
        tm = tx.reshape(16384, 16384)
        row("sum float32 16384² (last axis)", lz_time(lambda: mx.sum(m, axis=1)), torch_time(lambda: tm.sum(1)),
            "TB/s", gib)
        row("sum float32 16384² (first axis)", lz_time(lambda: mx.sum(m, axis=0)), torch_time(lambda: tm.sum(0)),
            "TB/s", gib)
        row("max float32 16384² (last axis)", lz_time(lambda: mx.max(m, axis=1)),
            torch_time(lambda: tm.amax(1)), "TB/s", gib)
    except (RuntimeError, ValueError) as e:
        print(f"reductions skipped: {e}", file=sys.stderr)


def bench_compiled():
    """A fused elementwise chain under mx.compile: step by step (the interpreter) and as one
    NVRTC kernel (LAZULI_CUDA_JIT=1, read at each evaluation), against PyTorch eager."""
    import os

    n = 1 << 25
    x = mx.random.normal((n,), stream=mx.cpu)
    mx.eval(x)
    tx = torch.randn(n, device="cuda")
    f = mx.compile(lambda a: mx.tanh(a * 2 + 1) * mx.exp(-a) + a)
    torch_s = torch_time(lambda: torch.tanh(tx * 2 + 1) * torch.exp(-tx) + tx)
    for mode, value in [("interpreted", "0"), ("one JIT kernel", "1")]:
        os.environ["LAZULI_CUDA_JIT"] = value
        try:
            row(f"compiled tanh(2x+1)·exp(-x)+x float32 32M, {mode}", lz_time(lambda: f(x)), torch_s, "TB/s",
                2 * n * 4)
        except RuntimeError as e:
            print(f"compiled {mode} failed: {e}", file=sys.stderr)
    os.environ.pop("LAZULI_CUDA_JIT", None)


def bench_quantized():
    """Batch-1 decoding's projection: 4-bit affine weights (group 64) against PyTorch's fp16 gemv."""
    w = mx.random.normal((11008, 4096), stream=mx.cpu).astype(mx.float16)
    wq, scales, biases = mx.quantize(w, group_size=64, bits=4)
    x = mx.random.normal((1, 4096), stream=mx.cpu).astype(mx.float16)
    mx.eval(wq, scales, biases, x)
    tw = torch.randn(11008, 4096, device="cuda", dtype=torch.float16)
    tx = torch.randn(1, 4096, device="cuda", dtype=torch.float16)
    weight_bytes = wq.nbytes + scales.nbytes + biases.nbytes
    row("quantized_matmul 4-bit g64 1×4096 @ (11008×4096)ᵀ vs fp16 gemv",
        lz_time(lambda: mx.quantized_matmul(x, wq, scales, biases, group_size=64, bits=4), 50),
        torch_time(lambda: tx @ tw.T, 50), "TB/s", weight_bytes)


def bench_overhead():
    """Per-op cost of chains of 1000 dependent tiny ops, evaluated once: graph building,
    scheduling and one kernel launch each. Three chains split the cost: `y + 1` (a new
    scalar and a new output buffer per op), `y + y` (a new output buffer) and `exp(y)`
    (the output reuses its input's buffer)."""
    k = 1000
    x = mx.ones((16,))
    mx.eval(x)
    tx = torch.ones(16, device="cuda")
    for what, lz_step, torch_step in [
        ("adds of 1", lambda y: y + 1, lambda y: y + 1),
        ("y + y", lambda y: y + y, lambda y: y + y),
        ("exps", mx.exp, torch.exp),
    ]:
        def lz_chain():
            y = x
            for _ in range(k):
                y = lz_step(y)
            return y

        def torch_chain():
            y = tx
            for _ in range(k):
                y = torch_step(y)
            return y

        lz_s, t_s = lz_time(lz_chain, 10) / k, torch_time(torch_chain, 10) / k
        ROWS.append((f"per-op overhead (chain of {k} {what}, 16 floats)", lz_s * 1e3, t_s * 1e3,
                     f"{lz_s * 1e6:.1f} µs/op", f"{t_s * 1e6:.1f} µs/op", t_s / lz_s, None))
        print(f"overhead ({what}): lazuli {lz_s * 1e6:.2f} us/op, torch {t_s * 1e6:.2f} us/op", file=sys.stderr)


def main():
    mx.set_default_device(mx.gpu)
    name = torch.cuda.get_device_name()
    bench_matmul()
    bench_bandwidth()
    bench_compiled()
    bench_quantized()
    bench_overhead()
    print(f"\nDevice: {name}; PyTorch {torch.__version__}; one process, medians.\n")
    if COPY_TBS:
        print(f"Copy bandwidth (PyTorch clone of 1 GiB): {COPY_TBS:.2f} TB/s.\n")
    print("| case | Lazuli ms | PyTorch ms | Lazuli rate | PyTorch rate | speed vs PyTorch | vs limit |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case, lz_ms, t_ms, lz_r, t_r, ratio, limit in ROWS:
        print(f"| {case} | {lz_ms:.3f} | {t_ms:.3f} | {lz_r} | {t_r} | {ratio:.2f}× | {limit or ''} |")


if __name__ == "__main__":
    main()
