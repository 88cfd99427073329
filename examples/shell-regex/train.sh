#!/usr/bin/env bash
# A trial without the SDK: Sweeplab reads its metric from plain lines with regexes.
#
#   command template:  bash train.sh --lr {lr} --layers {layers}
#   metric regex:      loss   loss=([0-9.eE+-]+)     step regex: epoch=(\d+)
#
# Prints "epoch=3 loss=0.4100" once per epoch; the loss is lowest near lr = 0.003
# and layers = 3. SWEEPLAB_MAX_EPOCHS sets the epochs (default 8),
# SHELL_REGEX_EPOCH_SECONDS the pause per epoch (default 0.1).
set -euo pipefail

die() { echo "train.sh: $*" >&2; exit 2; }

lr=0.01
layers=2
while [ "$#" -gt 0 ]; do
    case "$1" in
        --lr|--layers)
            [ "$#" -ge 2 ] || die "$1 needs a value"
            if [ "$1" = --lr ]; then lr=$2; else layers=$2; fi
            shift 2 ;;
        *) die "unknown argument '$1' (usage: train.sh --lr VALUE --layers N)" ;;
    esac
done

[[ "$lr" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] && awk -v v="$lr" 'BEGIN { exit !(v > 0) }' \
    || die "--lr must be a number > 0, got '$lr'"
[[ "$layers" =~ ^[0-9]+$ ]] && [ "$layers" -ge 1 ] || die "--layers must be a whole number >= 1, got '$layers'"

epochs=${SWEEPLAB_MAX_EPOCHS:-8}
pause=${SHELL_REGEX_EPOCH_SECONDS:-0.1}
echo "training: lr=$lr layers=$layers epochs=$epochs"

for ((epoch = 1; epoch <= epochs; epoch++)); do
    sleep "$pause"
    awk -v lr="$lr" -v layers="$layers" -v epoch="$epoch" 'BEGIN {
        gap = (log(lr) / log(10) + 2.5) ^ 2 * 0.2 + (layers - 3) ^ 2 * 0.05
        printf "epoch=%d loss=%.4f\n", epoch, 0.1 + gap + 2.0 * 0.6 ^ epoch
    }'
done
