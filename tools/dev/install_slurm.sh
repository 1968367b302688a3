#!/usr/bin/env bash
# Installs a one-node Slurm (Debian's slurm-wlm and munge) for the Slurm tests, where it is missing.
# Idempotent and quiet; does nothing (exit 0) where Slurm is installed, and where it cannot be installed
# (not root, or no apt-get): the Slurm tests then skip and say why.
set -uo pipefail
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install_slurm.sh: Slurm is missing and cannot be installed here (needs root and apt-get);" \
        "the Slurm tests skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >"$log" 2>&1; then
    echo "install_slurm.sh: apt-get could not install slurm-wlm and munge (the Slurm tests skip):" >&2
    tail -n 20 "$log" >&2
fi
rm -f "$log"
exit 0
