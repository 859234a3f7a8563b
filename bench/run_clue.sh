#!/usr/bin/env bash
# Every method on the Chinese tasks of ../shared/data (CLUE's AFQMC, TNEWS, OCNLI; LCQMC, BQ, XNLI-zh,
# ChnSentiCorp), as bench/run_glue.sh does for GLUE; the teacher learns the training texts' characters
# (--extend_vocab) and the BiLSTM reads characters from LAC's vectors (bench/run_tasks.sh).
# Usage: nohup bash bench/run_clue.sh > logs/clue.log 2>&1 &     (or name tasks: bash bench/run_clue.sh lcqmc)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- chnsenticorp lcqmc bq afqmc xnli ocnli tnews
STAGES=${STAGES:-teacher tinybert bilstm augment} bash bench/run_tasks.sh "$@"
PYTHONPATH=$(pwd) python bench/tasks_table.py
