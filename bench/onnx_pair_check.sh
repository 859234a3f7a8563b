#!/usr/bin/env bash
# The exported siamese BiLSTM on real pairs: STS-B's dev file (1,500 pairs, held out) labelled through
# src/predict.py by the student's directory (PyTorch), its fp32 graph and its int8 graph, scores compared row by
# row; onnxruntime must print no warning. A small teacher (2,000 pairs, 1 epoch, 64 pieces) is enough: the
# check is of the graph, not of the scores' quality.
# Usage: bash bench/onnx_pair_check.sh    (about 5 minutes on 2 CPU cores; writes under models/onnx_pair_check)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
SHARED=${SHARED:-../shared/data} D=data/tasks/sts-b M=models/onnx_pair_check
[ -f $D/prepare.json ] || python src/prepare_data.py --source "$SHARED/stsb" --task sts-b --output_dir $D
[ -f $M/teacher/metrics.json ] || python src/distill_task_specific_bert/bert_classification.py --data_dir $D \
    --output_dir $M/teacher --max_seq_length 64 --max_train_examples 2000 --num_train_epochs 1 --do_lower_case
[ -f $M/bilstm/metrics.json ] || python src/distill_task_specific_bert/distill.py --data_dir $D \
    --teacher_model $M/teacher --output_dir $M/bilstm --num_train_epochs 5 --speed_texts 0
python src/export.py --model $M/bilstm --output_dir $M/onnx --int8 --overwrite_output_dir
dev="$SHARED/stsb/dev.tsv"
for model in $M/bilstm $M/onnx/model.onnx $M/onnx/model_quantized.onnx; do
  name=$(basename "$model" .onnx)
  python src/predict.py --model "$model" --input "$dev" --output $M/$name.tsv 2> $M/$name.log
  if grep -qi "warning\|shape mismatch" $M/$name.log; then echo "$name: onnxruntime warned:"; cat $M/$name.log; exit 1; fi
done
python - "$M" <<'PY'
import sys
import numpy as np
m = sys.argv[1]
scores = {n: np.array([float(r.split("\t")[0]) for r in open(f"{m}/{n}.tsv").read().splitlines()[1:]])
          for n in ("bilstm", "model", "model_quantized")}
print(f"| graph | rows | max abs difference to PyTorch | mean abs difference |\n|---|---|---|---|")
for n, label in (("model", "fp32"), ("model_quantized", "int8")):
    d = np.abs(scores[n] - scores["bilstm"])
    print(f"| {label} | {len(scores[n])} | {d.max():.2e} | {d.mean():.2e} |")
PY
