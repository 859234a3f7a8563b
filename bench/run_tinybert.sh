#!/usr/bin/env bash
# TinyBERT task distillation benchmark on SST-2 (CPU, one thread per run), teacher models/sst2/teacher
# (MiniLM-L6-H384, fine-tuned on the first 20,000 training examples, len 64).
#   (a) 3-layer student truncated from the teacher (--init_from_teacher --student_layers 3, layers 2, 4, 6)
#   (b) 4-layer, 312-wide, 12-head random-init student (--student_config; 4 does not divide 6, so
#       --layer_map 1:2,2:3,3:5,4:6)
# CPU budget: both pipelines run side by side on the first 3,000 training examples; (a) is also run in stage 2
# on train_aug.tsv (the same 3,000 sentences, N=2 variants each: the bundled MiniLM has no MLM head, so the
# candidates are its input-embedding neighbours).
# Usage: nohup bash bench/run_tinybert.sh > logs/tinybert_bench.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
T=models/sst2/teacher
N_TRAIN=${N_TRAIN:-3000}
COMMON="--teacher_model $T --task_name sst-2 --max_seq_length 64 --do_lower_case --max_train_examples $N_TRAIN \
  --train_batch_size 32 --overwrite_output_dir --cache_dir logs/tinybert_cache --speed_texts 256"
mkdir -p logs

cat > logs/tinybert_student_312.json <<'JSON'
{"hidden_size": 312, "num_hidden_layers": 4, "num_attention_heads": 12, "intermediate_size": 1248,
 "max_position_embeddings": 512, "type_vocab_size": 2}
JSON

pipeline_a() {
  python src/tinybert/data_augmentation.py --glue_dir data --task_name sst-2 --max_examples $N_TRAIN --N 2 \
    --M 15 --p 0.4 --do_lower_case --overwrite_output
  python src/tinybert/task_distill.py $COMMON --init_from_teacher --student_layers 3 \
    --output_dir models/sst2/tinybert_tmp_trunc3 --num_train_epochs 1 --learning_rate 5e-5 --speed_texts 0
  python src/tinybert/task_distill.py $COMMON --pred_distill --student_model models/sst2/tinybert_tmp_trunc3 \
    --output_dir models/sst2/tinybert_trunc3 --num_train_epochs 2 --learning_rate 3e-5 --eval_step 0
  python src/tinybert/task_distill.py $COMMON --pred_distill --student_model models/sst2/tinybert_tmp_trunc3 \
    --output_dir models/sst2/tinybert_trunc3_aug --aug_train --max_train_examples 100000000 \
    --num_train_epochs 1 --learning_rate 3e-5 --eval_step 100
}

pipeline_b() {
  python src/tinybert/task_distill.py $COMMON --student_config logs/tinybert_student_312.json \
    --layer_map 1:2,2:3,3:5,4:6 --output_dir models/sst2/tinybert_tmp_narrow312 --num_train_epochs 2 --learning_rate 1e-4 --speed_texts 0
  python src/tinybert/task_distill.py $COMMON --pred_distill --student_model models/sst2/tinybert_tmp_narrow312 \
    --output_dir models/sst2/tinybert_narrow312 --num_train_epochs 3 --learning_rate 1e-4 --eval_step 0
}

# PIPELINES="a" or "b" runs one of them.
start=$(date +%s)
pids=()
for p in ${PIPELINES:-a b}; do
  pipeline_$p > logs/tinybert_$p.log 2>&1 &
  pids+=("$p:$!")
done
for entry in "${pids[@]}"; do
  rc=0; wait "${entry#*:}" || rc=$?
  echo "pipeline ${entry%%:*} exit $rc after $(( $(date +%s) - start )) s"
done
python src/plot_results.py --run_dir models/sst2  # table of every finished model under models/sst2
OMP_NUM_THREADS=1 python bench/tinybert_aug_speed.py --n 50  # augmentation sentences/s, batched vs one at a time
