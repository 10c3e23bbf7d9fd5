#!/usr/bin/env bash
# Runs each fuzz target for FUZZ_SECONDS (default 30) from its seed corpus in
# fuzz/corpus/<format>/ and fails on the first crash, sanitizer report, leak, timeout or
# allocation over the limit. New inputs go to a scratch corpus, not to the committed seeds.
# Usage: fuzz/run.sh <fuzz build dir>
set -euo pipefail
build=${1:?usage: fuzz/run.sh <build dir>}
seconds=${FUZZ_SECONDS:-30}
here=$(cd "$(dirname "$0")" && pwd)
work="$build/work"
mkdir -p "$work/artifacts"
for fmt in npy npz safetensors gguf; do
  mkdir -p "$work/$fmt"
  echo "fuzz: $fmt for ${seconds}s"
  # Inputs are at most 64 KB, so no honest allocation comes near 256 MB.
  if ! "$build/fuzz_$fmt" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=256 -print_final_stats=1 -artifact_prefix="$work/artifacts/$fmt-" \
      "$work/$fmt" "$here/corpus/$fmt" >"$work/$fmt.log" 2>&1; then
    tail -n 60 "$work/$fmt.log"
    echo "fuzz: $fmt FAILED (input saved under $work/artifacts/)"
    exit 1
  fi
  grep -E "stat::(number_of_executed_units|new_units_added)" "$work/$fmt.log" | sed "s/^/fuzz: $fmt /" || true
done
echo "fuzz: all targets ran clean"
