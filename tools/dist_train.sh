#!/usr/bin/env bash
# Train on the GPUs of one machine (for CPU processes use
#   torchrun --nproc_per_node N tools/dist_train_cpu.py CONFIG):
#   bash tools/dist_train.sh CONFIG NUM_PROCESSES [tools/train.py options]
# NNODES, NODE_RANK, MASTER_ADDR and PORT set a multi-node run.
set -euo pipefail
CONFIG=$1
NPROC=$2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
torchrun \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    tools/train.py "$CONFIG" --launcher pytorch "${@:3}"
