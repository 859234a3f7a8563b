#!/usr/bin/env bash
# BiLSTM student (Tang et al. 2019) on SST-2 against the teacher of bench/run_benchmark.sh sst2: the label-only
# baseline, the distilled student with the teacher's WordPiece embeddings as its initial word vectors, the same
# with augmentation, and the distilled student from random embeddings; then Adadelta, and the transfer set grown
# by the rest of the SST-2 training phrases (unlabeled), with and without augmentation. 1 thread each; speed timed on 1 thread.
# Usage: nohup bash bench/run_bilstm.sh > logs/bilstm_bench.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
T=models/sst2/teacher M=models/sst2 D=data/sst2 N=20000
done_() { [ -f "$1/metrics.json" ]; }
bilstm() { echo "== $1 ($(date +%T))"; done_ "$M/$1" || python src/distill_task_specific_bert/distill.py --data_dir $D \
    --teacher_model $T --max_train_examples $N --output_dir "$M/$1" --speed_threads 1 --cache_dir logs/bilstm_cache \
    "${@:2}"; }
bilstm bilstm_baseline --distill 0 --num_train_epochs 10
bilstm bilstm_distill_teacher_emb --distill 1 --num_train_epochs 10 --student_tokenizer teacher --init_from_teacher
bilstm bilstm_distill_teacher_emb_aug --distill 1 --num_train_epochs 5 --student_tokenizer teacher --init_from_teacher \
    --augment mask,ngram --n_iter ${N_ITER:-2}
bilstm bilstm_distill --distill 1 --num_train_epochs 10
bilstm bilstm_distill_teacher_emb_aug8 --distill 1 --num_train_epochs 4 --student_tokenizer teacher \
    --init_from_teacher --augment mask,ngram --n_iter 8
bilstm bilstm_distill_teacher_emb_adadelta --distill 1 --num_train_epochs 10 --student_tokenizer teacher \
    --init_from_teacher --optimizer adadelta
# The paper's transfer set is the whole training set (plus augmentation): the other 45,634 SST-2 training
# phrases join as unlabeled.tsv (the teacher labels them; it was trained on the first 20,000 only)
bash bench/sst2_unlabeled.sh $N
D=data/sst2_u
bilstm bilstm_distill_teacher_emb_u45k --distill 1 --num_train_epochs 5 --student_tokenizer teacher --init_from_teacher
bilstm bilstm_distill_teacher_emb_u45k_aug --distill 1 --num_train_epochs 4 --student_tokenizer teacher \
    --init_from_teacher --augment mask,ngram --n_iter 2
