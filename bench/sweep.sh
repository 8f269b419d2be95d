#!/usr/bin/env bash
# sweep.sh — time one recipe and shape under several explicit schedules with
# `attnc bench`, to choose GPU defaults from measurements (GPU machine).
# usage: bench/sweep.sh ATTNC RECIPE SHAPE SCHEDULE...   (prints one line each)
set -u
attnc=$1 recipe=$2 shape=$3
shift 3
for s in "$@"; do
  line=$("$attnc" bench "$recipe" --shape "$shape" --schedule "$s" --json --warmup 10 --iters 30 2>&1 | grep '^{' | tail -1)
  printf '%-44s %-34s %s\n' "$(basename "$recipe")" "$s" "${line:-FAILED}"
done
