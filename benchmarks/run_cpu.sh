#!/usr/bin/env bash
# Runs the CPU benchmarks of Lazuli (every build/benchmarks/bench_* program) and of its peers
# (every benchmarks/peers_*.py: NumPy and MLX under the project's venv, PyTorch — files
# named peers_*torch*.py — under Debian's /usr/bin/python3) one after the other on this
# machine and prints the markdown table for docs/benchmarks.md. An argument runs only the
# programs whose name contains it (e.g. `run_cpu.sh fft`).
set -euo pipefail
cd "$(dirname "$0")/.."
only=${1:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
: > "$out/lazuli.jsonl"; : > "$out/peers.jsonl"
for b in build/benchmarks/bench_*; do
  [[ -x $b && $b == *"$only"* ]] && "$b" >> "$out/lazuli.jsonl"
done
for p in benchmarks/peers_*.py; do
  [[ $p == *"$only"* ]] || continue
  if [[ $p == *torch* ]]; then /usr/bin/python3 "$p" >> "$out/peers.jsonl"
  else .venv/bin/python "$p" >> "$out/peers.jsonl"; fi
done
.venv/bin/python benchmarks/report.py "$out/lazuli.jsonl" "$out/peers.jsonl"
