"""Merges Lazuli's and its peers' benchmark results into a markdown table.

usage: report.py LAZULI_JSONL PEERS_JSONL > table.md
"""
import json
import platform
import sys

# Bytes each case must move at least (read + write) and flops, for the hardware-limit column.
# A benchmark may instead print them in its JSON line: {"case": ..., "ms": ..., "flops": N}
# or "bytes": N.
N = 1 << 25
WORK = {
    "exp f32 32M": ("bytes", 2 * 4 * N),
    "broadcast add f32 (4096x8192)+(8192)": ("bytes", 2 * 4 * N),
    "sum axis=0 f32 4096x4096": ("bytes", 4 * 4096 * 4096),
    "sum axis=1 f32 4096x4096": ("bytes", 4 * 4096 * 4096),
    "sum all f32 4096x4096": ("bytes", 4 * 4096 * 4096),
    "sgemm 2048": ("flops", 2 * 2048 ** 3),
}


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def main():
    ours = load(sys.argv[1])
    peers = load(sys.argv[2])
    peer_ms = {(r["case"], r["lib"]): r["ms"] for r in peers}
    # A peer gets a column where it ran a case of the main table (torch also runs the MLP).
    libs = [lib for lib in ("numpy", "mlx", "torch")
            if any(k[1] == lib and not k[0].startswith("mlp") for k in peer_ms)]
    mlp = [r for r in ours if r["case"].startswith("mlp")]
    ours = [r for r in ours if not r["case"].startswith("mlp")]
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os
    print(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}.\n")
    head = "| case | Lazuli ms | " + " | ".join(f"{lib} ms | Lazuli vs {lib}" for lib in libs) + " | Lazuli throughput |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    graph = None
    for r in ours:
        if "us" in r:
            graph = r
            continue
        case, ms = r["case"], r["ms"]
        row = f"| {case} | {ms:.2f} | "
        for lib in libs:
            p = peer_ms.get((case, lib))
            row += f"{p:.2f} | {p / ms:.2f}x | " if p else "– | – | "
        kind, work = WORK.get(case, (None, 0))
        for key in ("flops", "bytes"):
            if key in r:
                kind, work = key, r[key]
        if kind == "bytes":
            row += f"{work / ms / 1e6:.1f} GB/s |"
        elif kind == "flops":
            row += f"{work / ms / 1e9:.1f} TFLOP/s |" if work / ms > 1e12 else f"{work / ms / 1e6:.1f} GFLOP/s |"
        else:
            row += " |"
        print(row)
    print("\n`Lazuli vs X` is X's time over Lazuli's: above 1 means Lazuli is faster.")
    if graph:
        print(f"\nGraph building (C++, `add` on a small array, record + free): **{graph['us']:.3f} µs per op**.")
    copy = peer_ms.get(("copy 128MB", "numpy"))
    if copy:
        print(f"\nMemory bandwidth seen by one core (NumPy copying 128 MB, read + write): "
              f"{2 * 4 * N / copy / 1e6:.1f} GB/s.")
    if mlp:
        ms = {r["case"]: r["ms"] for r in mlp}
        fwd, step = ms["mlp forward (loss)"], ms["mlp value_and_grad"]
        tf, ts = peer_ms.get(("mlp forward (loss)", "torch")), peer_ms.get(("mlp value_and_grad", "torch"))
        print("\nMLP training step (784-512-512-10, tanh, softmax cross-entropy, batch 256, float32):\n")
        print("| | forward ms | forward + backward ms | backward / forward |")
        print("|---|---|---|---|")
        print(f"| Lazuli (`value_and_grad`) | {fwd:.2f} | {step:.2f} | {(step - fwd) / fwd:.2f} |")
        if tf and ts:
            print(f"| PyTorch CPU (`backward()`) | {tf:.2f} | {ts:.2f} | {(ts - tf) / tf:.2f} |")


if __name__ == "__main__":
    main()
