#!/usr/bin/env bash
# TinyBERT on SST-2 as the paper runs it: general distillation for the narrow students, then both task stages
# on the augmented transfer set. Teacher: models/sst2/teacher (bench/run_benchmark.sh sst2 makes it: the bundled
# MiniLM-L6-H384 fine-tuned on the first 20,000 training phrases, len 64).
#   trunc3: 3 of the teacher's 6 layers (2, 4, 6), no general distillation needed
#   4L312:  4 layers x 312, 12 heads (the paper's TinyBERT-4 shape), layer map 1:2,2:3,3:5,4:6
#   3L192:  3 layers x 192, 12 heads, uniform map (layers 2, 4, 6)
# General distillation: the teacher's pretrained MiniLM on the first $N_CORPUS SST-2 training phrases (labels
# unused; in-domain text, as the paper recommends). Augmentation: the first $N_AUG training phrases, $N_VARIANTS
# variants each (MiniLM has no masked-LM head: input-embedding neighbours). CPU budget (2 cores): the
# sizes are cut to fit a session; each stage prints its time into its metrics.json.
# UNLABELED=1: the transfer set the best BiLSTM uses instead (data/sst2_u, bench/sst2_unlabeled.sh): the
# first 20,000 phrases with one variant each in train_aug.tsv, and the other 45,634 as unlabeled.tsv (the
# teacher labels them); the students are named *_u. It takes the general students of a run without it.
# STAGE2_LR=3e-5: stage 2 at the authors' README rate instead of 5e-5, in tinybert_<student>_lr3e-5.
# STAGE1_EPOCHS / STAGE2_EPOCHS other than 1 / 2 name their runs too (..._s1e3, ..._s2e3).
# Usage: nohup bash bench/run_tinybert.sh > logs/tinybert_bench.log 2>&1 &
#        STUDENTS="4L312 trunc3" bash bench/run_tinybert.sh & STUDENTS=3L192 bash bench/run_tinybert.sh  # two lanes
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
T=models/sst2/teacher M=models/sst2 D=data/sst2 U=
N_CORPUS=${N_CORPUS:-20000} N_AUG=${N_AUG:-5000} N_VARIANTS=${N_VARIANTS:-4}
if [ "${UNLABELED:-0}" = 1 ]; then  # train_aug.tsv: the first 20,000 of train.tsv, one variant each
  D=data/sst2_u U=_u N_AUG=20000 N_VARIANTS=1
  bash bench/sst2_unlabeled.sh $N_AUG
fi
GENERAL_EPOCHS=${GENERAL_EPOCHS:-3} STAGE1_EPOCHS=${STAGE1_EPOCHS:-1} STAGE2_EPOCHS=${STAGE2_EPOCHS:-2}
mkdir -p logs
done_() { [ -f "$1/metrics.json" ]; }
stage() { echo "== $1 ($(date +%T))"; }

[ -f logs/sst2_corpus.txt ] || python bench/tsv_texts.py $D/train.tsv logs/sst2_corpus.txt --max_lines $N_CORPUS

[ -f $D/train_aug.tsv ] || { stage augmentation; python src/tinybert/data_augmentation.py --data_dir $D \
    --max_examples $N_AUG --N $N_VARIANTS --M 15 --p 0.4 --do_lower_case --no_unlabeled; }

general() {  # name config layer_map
  stage "general_$1"; done_ $M/general_$1 || python src/tinybert/general_distill.py --student_config "$2" \
      --corpus logs/sst2_corpus.txt --output_dir $M/general_$1 --max_seq_length 64 --train_batch_size 32 \
      --num_train_epochs $GENERAL_EPOCHS --learning_rate 3e-4 --do_lower_case ${3:+--layer_map $3}
}
task() {  # name init-flags... (stage 1 then stage 2, both on the augmented transfer set)
  local name=$1$U; shift
  [ "$STAGE1_EPOCHS" = 1 ] || name=${name}_s1e$STAGE1_EPOCHS
  local TB=(--teacher_model $T --data_dir $D --task_name sst-2 --max_seq_length 64 --do_lower_case --aug_train
            --train_batch_size 32 --cache_dir logs/tinybert_cache)
  stage "tinybert_stage1_$name"; done_ $M/tinybert_stage1_$name || python src/tinybert/task_distill.py "${TB[@]}" \
      "$@" --output_dir $M/tinybert_stage1_$name --num_train_epochs $STAGE1_EPOCHS --learning_rate 1e-4 \
      --speed_texts 0
  local out=$M/tinybert_$name${STAGE2_LR:+_lr$STAGE2_LR}  # a non-default stage-2 rate names its own run
  [ "$STAGE2_EPOCHS" = 2 ] || out=${out}_s2e$STAGE2_EPOCHS
  stage "$out"; done_ $out || python src/tinybert/task_distill.py "${TB[@]}" --pred_distill \
      --student_model $M/tinybert_stage1_$name --output_dir $out --num_train_epochs $STAGE2_EPOCHS \
      --learning_rate ${STAGE2_LR:-5e-5} --eval_step 200 --speed_texts 256
}

for student in ${STUDENTS:-4L312 3L192 trunc3}; do
  case $student in
    4L312)  general 4L312 bench/students/4L312.json 1:2,2:3,3:5,4:6
            task 4L312 --student_model $M/general_4L312 --layer_map 1:2,2:3,3:5,4:6 ;;
    3L192)  general 3L192 bench/students/3L192.json
            task 3L192 --student_model $M/general_3L192 ;;
    trunc3) task trunc3 --init_from_teacher --student_layers 3 ;;
  esac
done
python src/plot_results.py --run_dir $M  # table and figure of every finished model under models/sst2
