#!/usr/bin/env bash
# compress.py on a README benchmark: the data and a teacher as the README's benchmarks make them, then one command
# picks the fastest student keeping $KEEP of the teacher's dev score. The report (report.md, report.json,
# pareto.png), the plan, the training times and the model card are copied to results/compress/<name>/
#   hotel:     ChnSentiCorp hotel reviews 8:1:1; the plain offline teacher of bench/run_teachers.sh (the bundled
#              MiniLM with the reviews' characters added, 64 pieces, 2 epochs; 89.6 on test in the README)
#   hotel_mlm: the same reviews; bench/run_benchmark.sh's teacher (after Chinese masked-LM pretraining, 128
#              pieces; about 2 hours of pretraining on 2 cores before compress.py starts)
#   sst2:      GLUE SST-2's first 20,000 phrases; bench/run_benchmark.sh's teacher (64 pieces, 1 epoch)
#   sst2_u:    the same, with the other 45,634 training phrases as unlabeled.tsv (bench/sst2_unlabeled.sh): the
#              teacher labels them for the students
# Usage: nohup bash bench/run_compress.sh hotel > logs/compress_hotel.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$(pwd) TOKENIZERS_PARALLELISM=false
name=${1:?usage: bench/run_compress.sh hotel|hotel_mlm|sst2|sst2_u} KEEP=${KEEP:-0.97}
case $name in
  hotel) STAGES=none bash bench/run_teachers.sh hotel; D=data/hotel T=models/ens/hotel/teacher ;;
  hotel_mlm) TEACHER_ONLY=1 bash bench/run_benchmark.sh hotel; D=data/hotel T=models/hotel/teacher ;;
  sst2) TEACHER_ONLY=1 bash bench/run_benchmark.sh sst2; D=data/sst2 T=models/sst2/teacher ;;
  sst2_u) TEACHER_ONLY=1 bash bench/run_benchmark.sh sst2; bash bench/sst2_unlabeled.sh 20000; D=data/sst2_u
          T=models/sst2/teacher ;;
  *) echo "unknown benchmark $name (hotel, hotel_mlm, sst2, sst2_u)" >&2; exit 2 ;;
esac
out=models/compressed/$name
python src/compress.py --data_dir $D --teacher_model $T --keep $KEEP --output_dir $out --max_train_examples 20000 \
    ${COMPRESS_FLAGS:-}
mkdir -p results/compress/$name
cp $out/{report.md,report.json,pareto.png,plan.json,times.json} results/compress/$name/
cp $out/export/README.md results/compress/$name/export_README.md
