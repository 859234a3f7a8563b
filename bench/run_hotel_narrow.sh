#!/usr/bin/env bash
# A narrow TinyBERT of the hotel teacher (run bench/run_hotel_zh3.sh first: it makes the teacher and the
# augmented set data/hotel_aug). General distillation from the teacher's own starting point, the three-pass
# Chinese masked LM models/minilm_zh3, on the 8,000 hotel training reviews (labels unused: in-domain text, as
# the paper recommends), 128 pieces; then both task stages at 256 pieces on the augmented set (by default
# 1 epoch each: the set has one variant per review, twice the rows).
#   STUDENT=4L312 (the default): 4 layers x 312 (bench/students/4L312.json, the paper's TinyBERT-4 shape),
#     layer map 1:2,2:3,3:5,4:6; about 1 h 30 min on one CPU thread.
#   STUDENT=3L192: 3 layers x 192 (bench/students/3L192.json), teacher layers 2, 4, 6. Run it with longer
#     stages, as on SST-2, where stage 1's epochs were the lever; about 2 h:
#     STUDENT=3L192 GENERAL_EPOCHS=2 STAGE1_EPOCHS=3 STAGE2_EPOCHS=2
# Epochs other than 1 name their runs (general_3L192_e2, tinybert_3L192_aug_s1e3_s2e2). Usage:
#   nohup bash bench/run_hotel_narrow.sh > logs/hotel_narrow.log 2>&1 &
# then: bash bench/save_results.sh models/hotel256_zh3 results/hotel256_zh3
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
M=models/hotel256_zh3 A=data/hotel_aug S=${STUDENT:-4L312}
case $S in 4L312) MAP=1:2,2:3,3:5,4:6 ;; 3L192) MAP=1:2,2:4,3:6 ;; *) echo "unknown STUDENT=$S" >&2; exit 2 ;; esac
E0=${GENERAL_EPOCHS:-1} E1=${STAGE1_EPOCHS:-1} E2=${STAGE2_EPOCHS:-1}
suffix() { [ "$2" = 1 ] || echo "_$1$2"; }
G=$M/general_$S$(suffix e "$E0") S1=$M/tinybert_stage1_${S}_aug$(suffix s1e "$E1")
S2=$M/tinybert_${S}_aug$(suffix s1e "$E1")$(suffix s2e "$E2")
done_() { [ -f "$1/metrics.json" ]; }
[ -d $M/teacher ] || { echo "$M/teacher is missing: run bench/run_hotel_zh3.sh first" >&2; exit 2; }
mkdir -p logs
[ -f logs/hotel_corpus.txt ] || python bench/tsv_texts.py data/hotel/train.tsv logs/hotel_corpus.txt
done_ $G || python src/tinybert/general_distill.py --teacher_model models/minilm_zh3 \
    --student_config bench/students/$S.json --corpus logs/hotel_corpus.txt --output_dir $G \
    --max_seq_length 128 --train_batch_size 32 --num_train_epochs $E0 --learning_rate 3e-4 --do_lower_case \
    --layer_map $MAP
# the augmented set is written by bench/run_hotel_zh3.sh; wait for it when both run at once
while [ ! -f $A/train_aug.tsv ]; do sleep 60; done
TB=(--teacher_model $M/teacher --data_dir $A --task_name hotel --max_seq_length 256 --do_lower_case --aug_train
    --train_batch_size 32 --cache_dir logs/tinybert_cache --layer_map $MAP)
done_ $S1 || python src/tinybert/task_distill.py "${TB[@]}" --student_model $G --output_dir $S1 \
    --num_train_epochs $E1 --learning_rate 1e-4 --speed_texts 0
done_ $S2 || python src/tinybert/task_distill.py "${TB[@]}" --pred_distill --student_model $S1 --output_dir $S2 \
    --num_train_epochs $E2 --learning_rate 3e-5 --eval_step 200 --speed_texts 256
python src/plot_results.py --run_dir $M
