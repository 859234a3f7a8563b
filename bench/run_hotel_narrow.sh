#!/usr/bin/env bash
# A narrow TinyBERT of the hotel teacher (run bench/run_hotel_zh3.sh first: it makes the teacher and the
# augmented set data/hotel_aug). General distillation from the teacher's own starting point, the three-pass
# Chinese masked LM models/minilm_zh3, on the 8,000 hotel training reviews (labels unused: in-domain text, as
# the paper recommends), 128 pieces, 1 epoch; then both task stages at 256 pieces on the augmented set
# (1 epoch each: the set has one variant per review, twice the rows).
# Student: 4 layers x 312 (bench/students/4L312.json, the paper's TinyBERT-4 shape), layer map 1:2,2:3,3:5,4:6.
# About 1 h 30 min on one CPU thread. Usage:
#   nohup bash bench/run_hotel_narrow.sh > logs/hotel_narrow.log 2>&1 &
# then: bash bench/save_results.sh models/hotel256_zh3 results/hotel256_zh3
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
M=models/hotel256_zh3 A=data/hotel_aug MAP=1:2,2:3,3:5,4:6
done_() { [ -f "$1/metrics.json" ]; }
[ -d $M/teacher ] || { echo "$M/teacher is missing: run bench/run_hotel_zh3.sh first" >&2; exit 2; }
mkdir -p logs
[ -f logs/hotel_corpus.txt ] || python bench/tsv_texts.py data/hotel/train.tsv logs/hotel_corpus.txt
done_ $M/general_4L312 || python src/tinybert/general_distill.py --teacher_model models/minilm_zh3 \
    --student_config bench/students/4L312.json --corpus logs/hotel_corpus.txt --output_dir $M/general_4L312 \
    --max_seq_length 128 --train_batch_size 32 --num_train_epochs 1 --learning_rate 3e-4 --do_lower_case \
    --layer_map $MAP
# the augmented set is written by bench/run_hotel_zh3.sh; wait for it when both run at once
while [ ! -f $A/train_aug.tsv ]; do sleep 60; done
TB=(--teacher_model $M/teacher --data_dir $A --task_name hotel --max_seq_length 256 --do_lower_case --aug_train
    --train_batch_size 32 --cache_dir logs/tinybert_cache --layer_map $MAP)
done_ $M/tinybert_stage1_4L312_aug || python src/tinybert/task_distill.py "${TB[@]}" \
    --student_model $M/general_4L312 --output_dir $M/tinybert_stage1_4L312_aug --num_train_epochs 1 \
    --learning_rate 1e-4 --speed_texts 0
done_ $M/tinybert_4L312_aug || python src/tinybert/task_distill.py "${TB[@]}" --pred_distill \
    --student_model $M/tinybert_stage1_4L312_aug --output_dir $M/tinybert_4L312_aug --num_train_epochs 1 \
    --learning_rate 3e-5 --eval_step 200 --speed_texts 256
python src/plot_results.py --run_dir $M
