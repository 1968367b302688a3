#!/usr/bin/env bash
# A one-node Slurm cluster in a folder of its own, for tests and for trying the Slurm tools on one machine.
#   bash tools/dev/local_slurm.sh start DIR    # writes DIR/slurm.conf, starts munged, slurmctld, slurmd
#   export SLURM_CONF=DIR/slurm.conf           # then sbatch / srun / squeue / scancel use it
#   bash tools/dev/local_slurm.sh stop DIR
# Needs root (SlurmUser=root) and Debian's slurm-wlm and munge (tools/dev/install_slurm.sh). Ports are free ones
# picked at start, so several clusters can run side by side. The node has all the machine's CPUs, no GPUs;
# its partition is named `local`.
set -euo pipefail
CMD=${1:?usage: local_slurm.sh start|stop DIR}
DIR=$(mkdir -p "${2:?usage: local_slurm.sh start|stop DIR}" && cd "$2" && pwd)

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_pid_file() {
    local pid
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

start() {
    for exe in munged slurmctld slurmd; do
        command -v "$exe" >/dev/null ||
            { echo "local_slurm.sh: $exe not found (bash tools/dev/install_slurm.sh)" >&2; exit 2; }
    done
    [ "$(id -u)" = 0 ] || { echo "local_slurm.sh: needs root (SlurmUser=root)" >&2; exit 2; }
    # the node is this host, by its name: training ranks reach rank 0 at the job's first node name
    NODE=$(hostname -s)
    getent hosts "$NODE" >/dev/null || { echo "local_slurm.sh: the host name $NODE does not resolve" >&2; exit 2; }
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
    chmod 700 "$DIR/munge"
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1 count=1024 status=none
    chmod 600 "$DIR/munge/munge.key"
    munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/socket" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/seed"
    cat > "$DIR/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/socket
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=10
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc --all) State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
    slurmctld -f "$DIR/slurm.conf"
    slurmd -f "$DIR/slurm.conf" -N "$NODE"
    export SLURM_CONF=$DIR/slurm.conf
    for _ in $(seq 100); do
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "local Slurm up: export SLURM_CONF=$DIR/slurm.conf"
            return 0
        fi
        sleep 0.2
    done
    echo "local_slurm.sh: the node did not come up; logs in $DIR" >&2
    tail -n 5 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
    exit 1
}

stop() {
    if [ -f "$DIR/slurm.conf" ]; then
        SLURM_CONF=$DIR/slurm.conf scancel --full --signal=KILL --partition=local 2>/dev/null || true
    fi
    stop_pid_file "$DIR/slurmd.pid"
    stop_pid_file "$DIR/slurmctld.pid"
    stop_pid_file "$DIR/munge/munged.pid"
}

case "$CMD" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: local_slurm.sh start|stop DIR" >&2; exit 2 ;;
esac
