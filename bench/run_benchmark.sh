#!/usr/bin/env bash
# Full benchmark of both pipelines on one real data set from ../shared/data (the README's Results section).
# Usage: bash bench/run_benchmark.sh sst2|hotel    (bench/run_sst2.sh and bench/run_hotel.sh call this)
#   sst2:  GLUE SST-2, first 20,000 training phrases; dev = 2 % carved from train; test = the GLUE dev set
#   hotel: ChnSentiCorp hotel reviews, 8:1:1 split; the bundled MiniLM first learns Chinese by masked-LM
#          pretraining (the 16,000 first lines of corpus_zh: the hotel train texts, then People's Daily; two
#          passes of 1 epoch, the second continuing the first with a fresh warm-up), then the teacher
#          fine-tunes it (its added characters at --embedding_learning_rate 1e-3) for 2 epochs at
#          len 128 (reviews are long: 54 % of them are cut at 64 pieces)
# Teacher: the bundled MiniLM, len 64 (hotel: 128). Students: BiLSTM baseline / distilled / distilled + augmentation
# (Tang et al.), TinyBERT with 3 of the teacher's 6 layers (Jiao et al.). About 2 hours on 2 CPU cores.
# Finished stages (a metrics.json in their directory) are skipped on a rerun; delete a directory to redo it.
# TEACHER_ONLY=1 stops after the teacher (bench/run_compress.sh then runs compress.py on it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
name=${1:?usage: bench/run_benchmark.sh sst2|hotel}
SHARED=${SHARED:-../shared/data}
case $name in
  sst2)  prepare=(--source $SHARED/sst2/train.tsv --test_file $SHARED/sst2/dev.tsv --split 98:2:0)
         len=64 teacher_extra=(--num_train_epochs 1 --eval_step 200); aug=(--num_train_epochs 5 --n_iter 4)
         stage2_epochs=3 ;;
  hotel) prepare=(--source $SHARED/hotel/hotel.txt)
         # the teacher starts from MiniLM pretrained further on Chinese text (see the pretraining step below)
         len=128 teacher_extra=(--num_train_epochs 2 --eval_step 100 --extend_vocab --embedding_learning_rate 1e-3
                                --bert_model models/minilm_zh2)
         aug=(--num_train_epochs 3 --n_iter 2) stage2_epochs=2 ;;  # reviews are long: fewer copies and epochs
  *) echo "unknown benchmark $name (sst2 or hotel)" >&2; exit 2 ;;
esac
D=data/$name M=models/$name T=models/$name/teacher N=20000
done_() { [ -f "$1/metrics.json" ]; }
stage() { echo "== $1 ($(date +%T))"; }

[ -f $D/train.tsv ] || python src/prepare_data.py "${prepare[@]}" --output_dir $D
if [ $name = hotel ]; then  # continued masked-LM pretraining on the hotel train texts, then People's Daily 1998
  [ -f data/corpus_zh/corpus.txt ] || python src/prepare_data.py --source corpus_zh --output_dir data/corpus_zh \
      --data_dir $D
  stage pretraining
  MLM=(--corpus data/corpus_zh/corpus.txt --extend_vocab --whole_word_mask --max_seq_length 128 --train_batch_size 32
       --num_train_epochs 1 --learning_rate 1e-4 --embedding_learning_rate 1e-3 --eval_step 200
       --max_train_examples 16000 --heldout_lines 500)
  done_ models/minilm_zh || python src/pretrain_mlm.py "${MLM[@]}" --output_dir models/minilm_zh
  done_ models/minilm_zh2 || python src/pretrain_mlm.py "${MLM[@]}" --bert_model models/minilm_zh \
      --output_dir models/minilm_zh2
fi
stage teacher
done_ $T || python src/distill_task_specific_bert/bert_classification.py --data_dir $D --output_dir $T \
    --max_train_examples $N --max_seq_length $len --learning_rate 5e-5 "${teacher_extra[@]}"
[ "${TEACHER_ONLY:-0}" = 1 ] && exit 0

# BiLSTM: 300-d random embeddings, words from the automatic tokenizer (jieba for Chinese, whitespace otherwise),
# 10 epochs (fewer on the larger augmented transfer set); speed timed on 1 thread
bilstm() { stage "$1"; done_ "$M/$1" || python src/distill_task_specific_bert/distill.py --data_dir $D \
    --teacher_model $T --max_train_examples $N --output_dir "$M/$1" --speed_threads 1 "${@:2}"; }
bilstm bilstm_baseline --distill 0 --num_train_epochs 10
bilstm bilstm_distill --distill 1 --num_train_epochs 10
bilstm bilstm_distill_aug --distill 1 --augment mask,pos,ngram "${aug[@]}"
if [ $name = hotel ]; then  # LAC vectors, reading as much text as the teacher: jieba words, and characters with 100 units
  bilstm bilstm_distill_lac --distill 1 --num_train_epochs 10 --char_vectors lac --match_teacher_coverage
  bilstm bilstm_distill_lac_char_h100 --distill 1 --num_train_epochs 10 --char_vectors lac --student_tokenizer char \
      --hidden_size 100 --match_teacher_coverage
fi

# TinyBERT: teacher layers 2, 4, 6 copied into a 3-layer student; stage 1 one epoch, stage 2 three epochs (hotel: 2)
TB=(--teacher_model $T --data_dir $D --task_name $name --max_seq_length $len --do_lower_case --max_train_examples $N
    --train_batch_size 32 --cache_dir logs/tinybert_cache)
stage tinybert_stage1_trunc3
done_ $M/tinybert_stage1_trunc3 || python src/tinybert/task_distill.py "${TB[@]}" --init_from_teacher \
    --student_layers 3 --output_dir $M/tinybert_stage1_trunc3 --num_train_epochs 1 --learning_rate 5e-5 --speed_texts 0
stage tinybert_trunc3
done_ $M/tinybert_trunc3 || python src/tinybert/task_distill.py "${TB[@]}" --pred_distill \
    --student_model $M/tinybert_stage1_trunc3 --output_dir $M/tinybert_trunc3 --num_train_epochs $stage2_epochs \
    --learning_rate 3e-5 --eval_step 200 --speed_texts 256

python src/plot_results.py --run_dir $M --output results/$name/img.png --results_dir results/$name
