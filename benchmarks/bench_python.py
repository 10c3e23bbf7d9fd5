"""Python cost per op: building a lazy Lazuli op from Python against NumPy's eager op on a
tiny array (and MLX's lazy op where MLX is installed). Prints a markdown table."""
import importlib.util
import sys
import timeit

import numpy as np

import lazuli.core as lz

N = 200_000


def per_op_us(stmt, setup_globals):
    t = min(timeit.repeat(stmt, globals=setup_globals, number=N, repeat=5))
    return t / N * 1e6


def main():
    rows = []
    x = np.ones(4, dtype=np.float32)
    rows.append(("NumPy `np.add(x, y)` (eager, 4 floats)", per_op_us("np.add(x, x)", {"np": np, "x": x})))
    a = lz.ones((4,))
    rows.append(("Lazuli `mx.add(a, b)` (lazy: builds the node)", per_op_us("lz.add(a, a)", {"lz": lz, "a": a})))
    rows.append(("Lazuli `a + b`", per_op_us("a + a", {"a": a})))
    rows.append(("Lazuli `a * 2.0` (weak scalar)", per_op_us("a * 2.0", {"a": a})))
    if importlib.util.find_spec("mlx"):
        import mlx.core as mx

        m = mx.ones((4,))
        rows.append(("MLX `mx.add(a, b)` (lazy)", per_op_us("mx.add(m, m)", {"mx": mx, "m": m})))
    print(f"Python {sys.version.split()[0]}; each figure is the best of 5 runs of {N} calls.\n")
    print("| call | µs per op |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.3f} |")


if __name__ == "__main__":
    main()
