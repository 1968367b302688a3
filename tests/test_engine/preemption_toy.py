"""A toy training (a 1-parameter model, a 12-sample data set, both drawing from every RNG) for the tests of
preemption and exact resume, in this process or in spawned ranks (gloo)."""
import os
import os.path as osp
import random
import signal
import uuid
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.fileio import register_backend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmvision_mamba.engine import AtomicLocalBackend, use_atomic_checkpoints, use_resumable_training


@DATASETS.register_module(force=True)
class PreemptToyDataset(Dataset):
    """Sample i: i plus noise from Python's and NumPy's RNGs (as data augmentation draws)."""
    metainfo: dict = {}

    def __init__(self, size: int = 12) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict:
        noise = random.random() + np.random.rand()
        return dict(inputs=torch.tensor([float(i) + noise]), data_samples=i)


@MODELS.register_module(force=True)
class PreemptToyModel(BaseModel):
    """y = w x + b with torch-RNG noise; appends the ids it trains on to `ids_file`.rank<r>."""

    def __init__(self, ids_file: Optional[str] = None) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        self.ids_file = ids_file

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) / 12
        x = x + 0.01 * torch.rand_like(x)
        if mode == 'loss':
            if self.ids_file:
                with open(f'{self.ids_file}.rank{get_rank()}', 'a') as f:
                    f.write(''.join(f'{i}\n' for i in data_samples))
            return dict(loss=((self.linear(x) - 1) ** 2).mean())
        return [dict(pred=p) for p in self.linear(x)]


@METRICS.register_module(force=True)
class PreemptToyMetric(BaseMetric):
    """Counts validation samples; sends itself SIGUSR1 at the first batch of validation `signal_at_val`."""

    def __init__(self, signal_at_val: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.signal_at_val = signal_at_val
        self.vals = 0

    def process(self, data_batch, data_samples) -> None:
        if not self.results and self.vals + 1 == self.signal_at_val:
            os.kill(os.getpid(), signal.SIGUSR1)
        self.results.extend(data_samples)

    def compute_metrics(self, results) -> dict:
        self.vals += 1
        return dict(count=len(results))


@HOOKS.register_module(force=True)
class SignalAtIterHook(Hook):
    """Sends `signum` to its own process during iteration `iteration` (0-based), on `rank` (None: every rank)."""

    def __init__(self, iteration: int, signum: int = signal.SIGUSR1, rank: Optional[int] = None) -> None:
        self.iteration, self.signum, self.rank = iteration, signum, rank

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.iteration and self.rank in (None, get_rank()):
            os.kill(os.getpid(), self.signum)


@register_backend('signal_mid_save', force=True)
class SignalMidSaveBackend(AtomicLocalBackend):
    """Writes like `atomic_local`; sends its process SIGTERM in the middle of every checkpoint it writes."""

    def put(self, obj: bytes, filepath: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        super().put(obj, filepath)


def toy_config(work_dir: str, by_epoch: bool = True, signal_at: Optional[int] = None, signal_rank: Optional[int] = None,
               resume: bool = False, val_interval: int = 0, signal_at_val: int = 0, backend: Optional[str] = None,
               launcher: str = 'none') -> Config:
    """The toy training as tools/train.py would build it: 2 epochs of 6 iterations (batch 2, 1 rank), or 12
    iterations on an InfiniteSampler; momentum SGD with a step LR schedule; no regular checkpoint."""
    loop = (dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=val_interval or 100) if by_epoch else
            dict(type='IterBasedTrainLoop', max_iters=12, val_interval=val_interval or 100))
    cfg = Config(dict(
        model=dict(type='PreemptToyModel', ids_file=osp.join(work_dir, 'ids')),
        work_dir=work_dir,
        train_dataloader=dict(dataset=dict(type='PreemptToyDataset'), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler' if by_epoch else 'InfiniteSampler', shuffle=True)),
        train_cfg=loop,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=[dict(type='MultiStepLR', milestones=[5], gamma=0.5, by_epoch=False)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1000, by_epoch=by_epoch,
                                           save_last=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[],
        randomness=dict(seed=7),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        launcher=launcher,
        resume=resume,
        log_level='WARNING',
        experiment_name=f'toy_{uuid.uuid4().hex[:12]}',
    ))
    if launcher != 'none':
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
    if val_interval:
        cfg.val_dataloader = dict(dataset=dict(type='PreemptToyDataset', size=4), batch_size=2, num_workers=0,
                                  sampler=dict(type='DefaultSampler', shuffle=False))
        cfg.val_cfg = dict(type='ValLoop')
        cfg.val_evaluator = dict(type='PreemptToyMetric', signal_at_val=signal_at_val)
    if signal_at is not None:
        cfg.custom_hooks.append(dict(type='SignalAtIterHook', iteration=signal_at, rank=signal_rank))
    if backend:
        cfg.default_hooks.checkpoint.backend_args = dict(backend=backend)
    use_atomic_checkpoints(cfg)
    use_resumable_training(cfg)
    return cfg


def weights(runner: Runner) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in runner.model.parameters()])


def read_ids(work_dir: str, rank: int = 0) -> list:
    with open(osp.join(work_dir, f'ids.rank{rank}')) as f:
        return [int(line) for line in f]
