#!/usr/bin/env bash
# data/sst2_u: data/sst2 (linked) plus unlabeled.tsv, the SST-2 training phrases after the first $1 (20,000)
# without their labels. The teacher was trained on the first 20,000 only, so these are new texts it labels
# for the students. Used by bench/run_bilstm.sh and UNLABELED=1 bench/run_tinybert.sh; kept if it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
U=data/sst2_u
[ -f $U/unlabeled.tsv ] && exit 0
mkdir -p $U && for split in train dev test; do ln -sf ../sst2/$split.tsv $U/$split.tsv; done
PYTHONPATH=$(pwd) python - data/sst2/train.tsv "${1:-20000}" $U/unlabeled.tsv <<'PY'
import sys
from src.data.reading import read_examples
rows = read_examples(sys.argv[1])[int(sys.argv[2]):]
open(sys.argv[3], "w", encoding="utf-8").write("sentence\n" + "".join(ex.text + "\n" for ex in rows))
PY
