#!/usr/bin/env bash
# Pair tasks with new teacher-labelled pairs in the BiLSTM's transfer set (--pair_transfer, src/data/pairs.py):
# for each task, its data directory from ../shared/data, a teacher (the bundled MiniLM fine-tuned on every
# training pair, $EPOCHS epochs at $LEN pieces), then the siamese BiLSTM on gold labels, distilled on the training
# pairs, and distilled with $PAIRS times as many new pairs of each kind in $KINDS (one run per kind list). Runs
# under models/pair_transfer/<task>/; the table at the end: python bench/pair_table.py models/pair_transfer/<task>.
# Usage: nohup bash bench/run_pair_transfer.sh sts-b > logs/pairs_stsb.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
SHARED=${SHARED:-../shared/data} EPOCHS=${EPOCHS:-3} LEN=${LEN:-64} LR=${LR:-5e-5} PAIRS=${PAIRS:-8}
BILSTM_EPOCHS=${BILSTM_EPOCHS:-10} KINDS=${KINDS:-"neighbours,random,swapped,variants"}
declare -A FOLDER=([sts-b]=stsb [bq]=bq_corpus)
for task in "$@"; do
  D=data/tasks/$task M=models/pair_transfer/$task folder=${FOLDER[$task]:-$task}
  [ -f $D/prepare.json ] || python src/prepare_data.py --source "$SHARED/$folder" --task "$task" --output_dir $D
  [ -f $M/teacher/metrics.json ] || python src/distill_task_specific_bert/bert_classification.py --data_dir $D \
      --output_dir $M/teacher --max_seq_length $LEN --num_train_epochs $EPOCHS --learning_rate $LR --do_lower_case
  student=(--student_tokenizer teacher --init_from_teacher --num_train_epochs $BILSTM_EPOCHS --speed_texts 256)
  [ -f $M/bilstm_gold/metrics.json ] || python src/distill_task_specific_bert/distill.py --data_dir $D \
      --teacher_model $M/teacher --output_dir $M/bilstm_gold --distill 0 "${student[@]}"
  [ -f $M/bilstm_distilled/metrics.json ] || python src/distill_task_specific_bert/distill.py --data_dir $D \
      --teacher_model $M/teacher --output_dir $M/bilstm_distilled "${student[@]}"
  for kinds in $KINDS; do
    out=$M/bilstm_pairs${PAIRS}_${kinds//,/_}
    [ -f $out/metrics.json ] || python src/distill_task_specific_bert/distill.py --data_dir $D \
        --teacher_model $M/teacher --output_dir $out --pair_transfer $PAIRS --pair_kinds $kinds "${student[@]}"
  done
  python bench/pair_table.py $M
done
