#!/usr/bin/env bash
# compress.py on a README benchmark: the data and the teacher as bench/run_benchmark.sh makes them (hotel: the
# MiniLM after Chinese masked-LM pretraining, fine-tuned at 128 pieces; sst2: MiniLM at 64 pieces on 20,000
# phrases), then one command picks the fastest student keeping $KEEP of the teacher's dev score. The report
# (report.md, report.json, pareto.png) and the plan are copied to results/compress/<name>/.
# Usage: nohup bash bench/run_compress.sh hotel > logs/compress_hotel.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
name=${1:?usage: bench/run_compress.sh hotel|sst2} KEEP=${KEEP:-0.97}
TEACHER_ONLY=1 bash bench/run_benchmark.sh "$name"
out=models/compressed_$name
python src/compress.py --data_dir data/$name --teacher_model models/$name/teacher --keep $KEEP --output_dir $out \
    --max_train_examples 20000 ${COMPRESS_FLAGS:-}
mkdir -p results/compress/$name
cp $out/{report.md,report.json,pareto.png,plan.json} results/compress/$name/
