#!/usr/bin/env bash
# The hotel teacher of the README (test 91.9 against TF-IDF's 91.5) and its students. The teacher starts
# from models/minilm_zh3, the three-pass masked LM of bench/run_reviews_zh.sh (run bench/run_hotel.sh, then
# that script, first), and reads 256 pieces with length-bucketed batches. Three teacher runs are compared on
# dev: 2e-5 for 2 epochs from the three-pass and from the two-pass model, and 3e-5 for 3 epochs from the
# three-pass model. The last had the best dev score (91.7), so the students learn from it: the two LAC
# BiLSTMs of bench/run_benchmark.sh hotel and TinyBERT with 3 of the teacher's layers, at 256 pieces.
# About 4 hours on one CPU thread (two lanes: about 2 h 30 min), 2 more for the augmented TinyBERT and 2 more
# for it with stage 1 for 3 epochs (then stage 2 for 1 and for 2 epochs), and 2 h 30 min (two lanes) for it on
# 2 and 3 variants per review, and 1 h 45 min (two lanes) for two reseeded teachers and their 3-layer cuts. Usage:
#   nohup bash bench/run_hotel_zh3.sh > logs/hotel_zh3.log 2>&1 &
# then: bash bench/save_results.sh models/hotel256_zh3 results/hotel256_zh3
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
done_() { [ -f "$1/metrics.json" ]; }
[ -d models/minilm_zh3 ] || { echo "models/minilm_zh3 is missing: run bench/run_reviews_zh.sh first" >&2; exit 2; }
D=data/hotel M=models/hotel256_zh3 N=20000 len=256
teacher() {  # output, masked LM, flags
  done_ "$1" || python src/distill_task_specific_bert/bert_classification.py --data_dir $D --output_dir "$1" \
      --bert_model "$2" --max_seq_length $len --eval_step 100 --extend_vocab --embedding_learning_rate 1e-3 "${@:3}"
}
teacher models/hotel/teacher256_mlm3 models/minilm_zh3 --num_train_epochs 2
teacher models/hotel/teacher256_mlm2 models/minilm_zh2 --num_train_epochs 2
teacher models/hotel/teacher256_mlm3_lr3e-5 models/minilm_zh3 --num_train_epochs 3 --learning_rate 3e-5
mkdir -p $M; [ -e $M/teacher ] || ln -s ../hotel/teacher256_mlm3_lr3e-5 $M/teacher
T=$M/teacher

bilstm() { done_ "$M/$1" || python src/distill_task_specific_bert/distill.py --data_dir $D --teacher_model $T \
    --max_train_examples $N --output_dir "$M/$1" --speed_threads 1 "${@:2}"; }
bilstm bilstm_distill_lac_char_h100 --distill 1 --num_train_epochs 10 --char_vectors lac --student_tokenizer char \
    --hidden_size 100 --match_teacher_coverage
bilstm bilstm_distill_lac --distill 1 --num_train_epochs 10 --char_vectors lac --match_teacher_coverage

trunc3() {  # data dir, run suffix, stage-1 epochs, stage-2 epochs, stage-2 suffix, more flags: 3 teacher layers
  local TB=(--teacher_model $T --data_dir $1 --task_name hotel --max_seq_length $len --do_lower_case
            --train_batch_size 32 --cache_dir logs/tinybert_cache "${@:6}")
  done_ $M/tinybert_stage1_trunc3$2 || python src/tinybert/task_distill.py "${TB[@]}" --init_from_teacher \
      --student_layers 3 --output_dir $M/tinybert_stage1_trunc3$2 --num_train_epochs $3 --learning_rate 5e-5 \
      --speed_texts 0
  done_ $M/tinybert_trunc3$2$5 || python src/tinybert/task_distill.py "${TB[@]}" --pred_distill \
      --student_model $M/tinybert_stage1_trunc3$2 --output_dir $M/tinybert_trunc3$2$5 --num_train_epochs $4 \
      --learning_rate 3e-5 --eval_step 200 --speed_texts 256
}
trunc3 $D "" 1 2 "" --max_train_examples $N

# The same TinyBERT on the augmented set (--aug_train in both stages): one variant per review from the
# three-pass masked LM in bfloat16 (--N 1, not the paper's 20: CPU budget). Stage 2 runs 1 epoch of the
# doubled set: as many steps as the 2 epochs above. About 2 hours of one thread.
link_hotel() { mkdir -p $1 && for f in train.tsv dev.tsv test.tsv prepare.json; do ln -sf ../hotel/$f $1/$f; done; }
A=data/hotel_aug
link_hotel $A
[ -f $A/train_aug.tsv ] || python src/tinybert/data_augmentation.py --pretrained_bert_model models/minilm_zh3 \
    --data_dir $A --N 1 --M 15 --p 0.4 --do_lower_case --bf16
trunc3 $A _aug 1 1 "" --aug_train
# Stage 1 for 3 epochs (its attention loss was still falling after 1; the lever of the SST-2 students), then
# stage 2 for 1 and for 2 epochs.
trunc3 $A _aug_s1e3 3 1 "" --aug_train
trunc3 $A _aug_s1e3 3 2 _s2e2 --aug_train

# More variants per review, the paper's lever (N = 20 there): two more one-variant augmentations, seeds 43
# and 44, in two one-thread lanes (about 50 min each). Each is a fresh set of draws, like the next attempt
# of one --N 3 run, but the first variant is not computed again. Then the 3-layer cut, 1 epoch per stage,
# on the originals plus 2 (data/hotel_aug_v2) and plus 3 variants each (data/hotel_aug_v3), again in two
# lanes (about 70 and 95 min).
for seed in 43 44; do
  [ -f $A/train_aug_s$seed.tsv ] || OMP_NUM_THREADS=1 python src/tinybert/data_augmentation.py \
      --pretrained_bert_model models/minilm_zh3 --data_dir $A --output $A/train_aug_s$seed.tsv --seed $seed \
      --N 1 --M 15 --p 0.4 --do_lower_case --bf16 &
done
wait
merge_aug() {  # output dir, augmented files: the originals once, then the variants of each file, no repeats
  local n; n=$(wc -l < $D/train.tsv)
  link_hotel $1
  { head -n $n "$2"; for f in "${@:2}"; do tail -n +$((n + 1)) "$f"; done | awk '!seen[$0]++'; } > $1/train_aug.tsv
}
merge_aug data/hotel_aug_v2 $A/train_aug.tsv $A/train_aug_s43.tsv
merge_aug data/hotel_aug_v3 $A/train_aug.tsv $A/train_aug_s43.tsv $A/train_aug_s44.tsv
OMP_NUM_THREADS=1 trunc3 data/hotel_aug_v2 _aug_v2 1 1 "" --aug_train & v2=$!
OMP_NUM_THREADS=1 trunc3 data/hotel_aug_v3 _aug_v3 1 1 "" --aug_train & v3=$!
wait $v2; wait $v3
python src/plot_results.py --run_dir $M

# The teacher's own spread, the lever left after the variants: the same teacher run with seeds 43 and 44
# (3e-5, 3 epochs from minilm_zh3, best dev checkpoint), in two one-thread lanes, then the 3-layer cut of
# each on the one-variant set (1 epoch per stage, as tinybert_trunc3_aug above) in models/hotel256_zh3_t<seed>.
# Measured: 52 min for the teachers and 46 for the students (two lanes). Then, for each seed:
#   bash bench/save_results.sh models/hotel256_zh3_t<seed> results/hotel256_zh3_t<seed>
# and the paired tests (results/*/paired_test.json): bench/paired_test.py --data data/hotel/test.tsv
#   --reference <a teacher> --models <its students, the other teachers>
seed_lane() {  # seed: its teacher, then the 3-layer cut of it
  local S=models/hotel256_zh3_t$1
  teacher models/hotel/teacher256_mlm3_lr3e-5_s$1 models/minilm_zh3 --num_train_epochs 3 --learning_rate 3e-5 \
      --seed $1
  mkdir -p $S; [ -e $S/teacher ] || ln -s ../hotel/teacher256_mlm3_lr3e-5_s$1 $S/teacher
  T=$S/teacher M=$S trunc3 $A _aug 1 1 "" --aug_train
}
OMP_NUM_THREADS=1 seed_lane 43 & s43=$!
OMP_NUM_THREADS=1 seed_lane 44 & s44=$!
wait $s43; wait $s44
