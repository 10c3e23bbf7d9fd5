"""The timing rule every benchmark script uses: warm up once, then the median of `reps` runs."""
import json
import statistics
import time


def median_ms(f, reps):
    f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def report(case, lib, ms):
    """One peer result line for benchmarks/report.py."""
    print(json.dumps({"case": case, "lib": lib, "ms": round(ms, 4)}), flush=True)
