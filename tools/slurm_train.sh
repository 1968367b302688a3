#!/usr/bin/env bash
# Training on a Slurm cluster through mmengine's 'slurm' launcher (one task per GPU).
#   GPUS=16 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# GPUS: tasks in all; GPUS_PER_NODE: tasks (and GPUs) per node, 0 for CPU-only nodes (no --gres; Slurm places
# the tasks); CPUS_PER_TASK; SRUN_ARGS: more srun options; PYTHON: the interpreter.
# Inside an allocation (sbatch, salloc) it starts a job step there. srun replaces this shell, so the signals
# Slurm sends reach srun, which passes them to the training processes.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
DIR=$(cd "$(dirname "$0")" && pwd)
PER_NODE=()
if [ "$GPUS_PER_NODE" != 0 ]; then
    PER_NODE=(--gres=gpu:"$GPUS_PER_NODE" --ntasks-per-node="$GPUS_PER_NODE")
fi

export PYTHONPATH="$DIR/..${PYTHONPATH:+:$PYTHONPATH}"
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${PER_NODE[@]}" \
    --ntasks="$GPUS" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher slurm "${@:5}"
