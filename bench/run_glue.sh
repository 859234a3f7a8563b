#!/usr/bin/env bash
# Every method on the GLUE tasks of ../shared/data (English): teacher, TinyBERT 3-layer cut, the BiLSTM on gold
# labels, distilled, and distilled on an augmented transfer set; then the table and the Pareto figures
# (bench/tasks_table.py). Budget and flags: bench/run_tasks.sh (MAX_TRAIN, EPOCHS, N_AUG, ... as there).
# Usage: nohup bash bench/run_glue.sh > logs/glue.log 2>&1 &     (or name tasks: bash bench/run_glue.sh mrpc)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- mrpc rte sts-b cola sst-2
STAGES=${STAGES:-teacher tinybert bilstm augment} bash bench/run_tasks.sh "$@"
PYTHONPATH=$(pwd) python bench/tasks_table.py
