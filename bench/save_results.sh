#!/usr/bin/env bash
# Keep a benchmark's record in git: every run's metrics.json and args.json (no weights) under
# results/<name>/runs/, then the table, its JSON and the figure drawn from those files.
# Usage: bash bench/save_results.sh models/sst2 results/sst2 [plot_results.py flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd)
models=${1:?usage: bench/save_results.sh MODELS_DIR RESULTS_DIR}; results=${2:?usage: bench/save_results.sh MODELS_DIR RESULTS_DIR}
shift 2
rm -rf "$results/runs.new"
for run in "$models"/*/; do
  [ -f "$run/metrics.json" ] || continue
  mkdir -p "$results/runs.new/$(basename "$run")"
  cp "$run/metrics.json" "$run/args.json" "$results/runs.new/$(basename "$run")/"
done
rm -rf "$results/runs" && mv "$results/runs.new" "$results/runs"
python src/plot_results.py --run_dir "$results/runs" --output "$results/img.png" --results_dir "$results" "$@"
