#!/usr/bin/env bash
# ChnSentiCorp hotel benchmark (Chinese).
exec bash "$(dirname "$0")/run_benchmark.sh" hotel
