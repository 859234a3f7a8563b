#!/usr/bin/env bash
# The reference repo's 1:8:1 setting on the hotel reviews: 10 % of the reviews labelled (1,000), 70 % unlabeled
# (6,999; the teacher labels them), dev and test the same 1,000 + 1,000 as bench/run_hotel.sh.
#   teacher:  the MLM-pretrained MiniLM (models/minilm_zh, from bench/run_hotel.sh) fine-tuned on the 1,000 only
#   BiLSTM:   on the 1,000 labels (LAC vectors, and random embeddings) against distilled on 1,000 + 6,999 (LAC)
#   TinyBERT: 3 of the teacher's layers, both task stages with and without the unlabeled texts; without them it
#             gets the same number of optimizer steps (8x the epochs on 1/8 of the rows). No augmentation: the
#             masked-LM candidates for 8,000 long reviews cost more CPU time than a session has.
# About 1 hour on one CPU thread. Usage: nohup bash bench/run_hotel_181.sh > logs/hotel_181.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
SHARED=${SHARED:-../shared/data}
D=data/hotel_181 M=models/hotel_181 T=models/hotel_181/teacher
done_() { [ -f "$1/metrics.json" ]; }
stage() { echo "== $1 ($(date +%T))"; }
[ -d models/minilm_zh ] || { echo "models/minilm_zh is missing: run bench/run_hotel.sh first" >&2; exit 2; }

[ -f $D/train.tsv ] || python src/prepare_data.py --source $SHARED/hotel/hotel.txt --output_dir $D --labeled_fraction 0.1
stage teacher
done_ $T || python src/distill_task_specific_bert/bert_classification.py --data_dir $D --output_dir $T \
    --bert_model models/minilm_zh --max_seq_length 64 --learning_rate 5e-5 --num_train_epochs 5 --eval_step 32 \
    --extend_vocab --embedding_learning_rate 1e-3

bilstm() { stage "$1"; done_ "$M/$1" || python src/distill_task_specific_bert/distill.py --data_dir $D \
    --teacher_model $T --output_dir "$M/$1" --speed_threads 1 "${@:2}"; }
bilstm bilstm_baseline_lac --distill 0 --num_train_epochs 30 --char_vectors lac
bilstm bilstm_baseline --distill 0 --num_train_epochs 30
bilstm bilstm_distill_lac --distill 1 --num_train_epochs 10 --char_vectors lac

TB=(--teacher_model $T --data_dir $D --task_name hotel --max_seq_length 64 --do_lower_case --train_batch_size 32)
tinybert() {  # name, stage 1 epochs, stage 2 epochs, extra flags
  stage "tinybert_$1"
  done_ $M/tinybert_stage1_$1 || python src/tinybert/task_distill.py "${TB[@]}" "${@:4}" --init_from_teacher \
      --student_layers 3 --output_dir $M/tinybert_stage1_$1 --num_train_epochs $2 --learning_rate 5e-5 --speed_texts 0
  done_ $M/tinybert_$1 || python src/tinybert/task_distill.py "${TB[@]}" "${@:4}" --pred_distill \
      --student_model $M/tinybert_stage1_$1 --output_dir $M/tinybert_$1 --num_train_epochs $3 --learning_rate 3e-5 \
      --eval_step 200 --speed_texts 256
}
tinybert trunc3 1 3
tinybert trunc3_labeled 8 24 --no_unlabeled

python src/plot_results.py --run_dir $M --output results/hotel_181/img.png --results_dir results/hotel_181
