#!/usr/bin/env bash
# GLUE and CLUE tasks (pairs, a regression, many classes): for each task, its data directory from the folder in
# ../shared/data, the teacher (the bundled MiniLM-L6-H384 fine-tuned on it; Chinese tasks add the training
# texts' characters to its vocabulary, --extend_vocab), TinyBERT on 3 of the teacher's 6 layers (stage 1,
# then stage 2) and the BiLSTM (siamese for pairs) on gold labels and distilled, each picking its dev checkpoint
# by the task's main metric; with STAGES including "augment", the distilled BiLSTM on a transfer set grown by
# Tang et al.'s augmentation ($N_AUG draws an example, $AUG_EPOCHS epochs); with "pairs", the distilled BiLSTM
# and with "tinypairs" TinyBERT's two stages on the training pairs plus $PAIRS times as many new pairs of the
# kinds $KINDS that the teacher labels (--pair_transfer). STAGES (default "teacher tinybert bilstm") picks
# stages, e.g. a third lane STAGES="bilstm augment" for tasks whose teacher is done. Runs are kept under models/tasks/<task>/
# and their metrics.json and args.json under results/tasks/<task>/; bench/tasks_table.py prints the table.
# CPU budget (2 cores, one thread per lane): at most $MAX_TRAIN training examples a task, $EPOCHS epochs for the
# teacher, $STAGE1_EPOCHS and $STAGE2_EPOCHS for the TinyBERT stages, augmentation only for the BiLSTM, length $LEN.
# Usage: nohup bash bench/run_tasks.sh mrpc rte sts-b cola > logs/tasks_en.log 2>&1 &
#        LEN=64 STAGES="teacher tinybert bilstm pairs" nohup bash bench/run_tasks.sh rte lcqmc bq > logs/p.log 2>&1 &
#        nohup bash bench/run_tasks.sh lcqmc afqmc tnews > logs/tasks_zh.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
SHARED=${SHARED:-../shared/data} MAX_TRAIN=${MAX_TRAIN:-4000} EPOCHS=${EPOCHS:-3} LEN=${LEN:-128}
STAGE1_EPOCHS=${STAGE1_EPOCHS:-1} STAGE2_EPOCHS=${STAGE2_EPOCHS:-2} STAGES=${STAGES:-teacher tinybert bilstm}
BILSTM_EPOCHS=${BILSTM_EPOCHS:-10} N_AUG=${N_AUG:-10} AUG_EPOCHS=${AUG_EPOCHS:-4} PAIRS=${PAIRS:-4} KINDS=${KINDS:-random}
declare -A FOLDER=([sts-b]=stsb [sst-2]=sst2 [bq]=bq_corpus [xnli]=xnli_zh)
done_() { [ -f "$1/metrics.json" ]; }
stage() { echo "== $1 ($(date +%T))"; }

for task in "$@"; do
  D=data/tasks/$task M=models/tasks/$task
  folder=${FOLDER[$task]:-$task}
  [ -f $D/prepare.json ] || python src/prepare_data.py --source "$SHARED/$folder" --task "$task" --output_dir $D
  # Chinese: the teacher learns the training texts' characters; the BiLSTM reads characters from LAC's vectors.
  # English: the BiLSTM reads the teacher's word pieces from its embeddings (the best SST-2 student).
  zh=() student=(--student_tokenizer teacher --init_from_teacher)
  case $task in lcqmc|afqmc|tnews|bq|xnli|ocnli|chnsenticorp)
    zh=(--extend_vocab --embedding_learning_rate 1e-3) student=(--student_tokenizer char --char_vectors lac);;
  esac
  [[ $STAGES == *teacher* ]] && { stage "$task teacher"; done_ $M/teacher || python \
      src/distill_task_specific_bert/bert_classification.py --data_dir $D --output_dir $M/teacher \
      --max_seq_length $LEN --max_train_examples $MAX_TRAIN \
      --num_train_epochs $EPOCHS --learning_rate 5e-5 --train_batch_size 32 --do_lower_case "${zh[@]}"; }
  [[ $STAGES == *tinybert* ]] && { stage "$task tinybert stage 1"; done_ $M/tinybert_trunc3_stage1 || python \
      src/tinybert/task_distill.py --teacher_model $M/teacher --init_from_teacher --student_layers 3 \
      --data_dir $D --task_name $task \
      --output_dir $M/tinybert_trunc3_stage1 --max_seq_length $LEN --max_train_examples $MAX_TRAIN \
      --num_train_epochs $STAGE1_EPOCHS --do_lower_case --speed_texts 0
  stage "$task tinybert stage 2"; done_ $M/tinybert_trunc3 || python src/tinybert/task_distill.py --pred_distill \
      --teacher_model $M/teacher --student_model $M/tinybert_trunc3_stage1 --data_dir $D --task_name $task \
      --output_dir $M/tinybert_trunc3 --max_seq_length $LEN --max_train_examples $MAX_TRAIN \
      --num_train_epochs $STAGE2_EPOCHS --learning_rate 5e-5 --do_lower_case; }
  if [[ $STAGES == *bilstm* ]]; then
    for distill in 0 1; do
      stage "$task bilstm --distill $distill"; done_ $M/bilstm_distill$distill || python \
        src/distill_task_specific_bert/distill.py --data_dir $D --teacher_model $M/teacher --distill $distill \
        --output_dir $M/bilstm_distill$distill --max_train_examples $MAX_TRAIN --num_train_epochs $BILSTM_EPOCHS \
        --speed_threads 1 "${student[@]}"
    done
  fi
  # The distilled BiLSTM on train + Tang et al.'s synthetic examples. One flag set for every task: the rules that
  # cannot apply are skipped with a warning (POS replacement on English, n-grams of pairs unless --p_ng is given).
  [[ $STAGES == *augment* ]] && { stage "$task bilstm augmented x$N_AUG"; done_ $M/bilstm_aug || python \
      src/distill_task_specific_bert/distill.py --data_dir $D --teacher_model $M/teacher --distill 1 \
      --augment mask,pos,ngram --n_iter $N_AUG --output_dir $M/bilstm_aug --max_train_examples $MAX_TRAIN \
      --num_train_epochs $AUG_EPOCHS --speed_threads 1 "${student[@]}"; }
  pairs=(--pair_transfer $PAIRS --pair_kinds $KINDS)
  [[ $STAGES == *" pairs"* || $STAGES == pairs* ]] && { stage "$task bilstm pairs x$PAIRS $KINDS"
    done_ $M/bilstm_pairs || python src/distill_task_specific_bert/distill.py --data_dir $D \
      --teacher_model $M/teacher --distill 1 "${pairs[@]}" --output_dir $M/bilstm_pairs \
      --max_train_examples $MAX_TRAIN --num_train_epochs $BILSTM_EPOCHS --speed_threads 1 "${student[@]}"; }
  [[ $STAGES == *tinypairs* ]] && { stage "$task tinybert pairs x$PAIRS $KINDS"
    done_ $M/tinybert_trunc3_pairs_stage1 || python src/tinybert/task_distill.py --teacher_model $M/teacher \
      --init_from_teacher --student_layers 3 --data_dir $D --task_name $task "${pairs[@]}" \
      --output_dir $M/tinybert_trunc3_pairs_stage1 --max_seq_length $LEN --max_train_examples $MAX_TRAIN \
      --num_train_epochs $STAGE1_EPOCHS --do_lower_case --speed_texts 0
    done_ $M/tinybert_trunc3_pairs || python src/tinybert/task_distill.py --pred_distill "${pairs[@]}" \
      --teacher_model $M/teacher --student_model $M/tinybert_trunc3_pairs_stage1 --data_dir $D --task_name $task \
      --output_dir $M/tinybert_trunc3_pairs --max_seq_length $LEN --max_train_examples $MAX_TRAIN \
      --num_train_epochs $STAGE2_EPOCHS --learning_rate 5e-5 --do_lower_case; }
  for run in $M/*/; do  # the record kept in git: metrics and flags, no weights
    kept=results/tasks/$task/$(basename $run)
    done_ $run && mkdir -p $kept && cp $run/{metrics,args}.json $kept/
  done
done
stage done
