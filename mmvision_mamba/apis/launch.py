"""Distributed start-up on machines without CUDA (gloo), which mmengine 0.10's init_dist cannot do."""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config

from mmvision_mamba.utils.slurm import set_dist_env_from_slurm


def init_cpu_distributed(launcher: str, cfg: Config) -> None:
    """Opens the gloo process group for a torchrun ('pytorch') or srun ('slurm') launch on a CPU-only machine.

    mmengine's own `init_dist` calls `torch.cuda.set_device`, which a CPU build of torch lacks;
    with the group already open, the Runner skips it and runs as usual.
    """
    if launcher not in ('pytorch', 'slurm') or torch.cuda.is_available() or dist.is_initialized():
        return
    if launcher == 'slurm':
        set_dist_env_from_slurm(cfg.get('env_cfg', {}).get('dist_cfg', {}).get('port', 29500))
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'gloo')
    dist.init_process_group(backend=backend, rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
