#!/usr/bin/env bash
# Runs the CPU benchmarks of Lazuli, NumPy and MLX (CPU build) one after the other on this
# machine and prints the markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
./build/benchmarks/bench_cpu > "$out/lazuli.jsonl"
.venv/bin/python benchmarks/peers_cpu.py > "$out/peers.jsonl"
/usr/bin/python3 benchmarks/peers_torch.py >> "$out/peers.jsonl"
.venv/bin/python benchmarks/report.py "$out/lazuli.jsonl" "$out/peers.jsonl"
