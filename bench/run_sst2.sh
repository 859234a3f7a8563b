#!/usr/bin/env bash
# SST-2 benchmark; its figure is the README's img.png: cp results/sst2/img.png img.png
exec bash "$(dirname "$0")/run_benchmark.sh" sst2
