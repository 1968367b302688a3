"""What a process learns from, and asks of, the Slurm job it runs in (environment and `scontrol`)."""
import os
import re
import subprocess
from typing import Optional


def slurm_job_id() -> Optional[str]:
    """The id of the Slurm job this process runs in, or None outside Slurm."""
    return os.environ.get('SLURM_JOB_ID') or None


def set_dist_env_from_slurm(default_port: int = 29500) -> None:
    """Sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for `init_process_group` from the
    variables srun gives each task; MASTER_ADDR (first host of the job) and MASTER_PORT are kept where set.

    Raises:
        RuntimeError: outside an srun task (no SLURM_PROCID / SLURM_NTASKS).
    """
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher slurm needs the variables srun sets ({", ".join(missing)} missing): '
                           'start it with srun (tools/slurm_train.sh) or use --launcher pytorch')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ['SLURM_NODELIST']
        first = subprocess.run(['scontrol', 'show', 'hostnames', nodes], capture_output=True, text=True)
        os.environ['MASTER_ADDR'] = (first.stdout.split() or [nodes])[0]
    os.environ.setdefault('MASTER_PORT', str(default_port))


def job_requeueable(job_id: str) -> bool:
    """Whether Slurm lets job `job_id` be requeued: a batch job (sbatch) with `--requeue`, or on a cluster with
    JobRequeue=1."""
    try:
        shown = subprocess.run(['scontrol', 'show', 'job', '-o', job_id], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    fields = dict(re.findall(r'\b(Requeue|BatchFlag)=(\d)', shown.stdout))
    return shown.returncode == 0 and fields.get('Requeue') == '1' and fields.get('BatchFlag') == '1'


def requeue_job(job_id: str) -> Optional[str]:
    """Asks Slurm to requeue job `job_id`; returns None when it accepted, else why not."""
    try:
        done = subprocess.run(['scontrol', 'requeue', job_id], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if done.returncode == 0 else (done.stderr.strip() or f'scontrol exited with {done.returncode}')
