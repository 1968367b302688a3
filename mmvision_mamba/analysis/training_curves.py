"""Short training runs of one model in several configurations, same seed, same data, same steps, recorded step by
step (tools/analysis_tools/compare_window_modes.py compares the window modes with it)."""
import math
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from torch import nn


def train_steps(model: nn.Module, cfg: Config, steps: int, seed: int) -> List[Dict[str, float]]:
    """`steps` training steps of `model` with the optimizer and training data of `cfg` (in its scope), the lr
    warmed up linearly over the first tenth of the steps and constant after it.

    Returns:
        Per step: the losses, the gradient norm before clipping ('grad_norm') and 'seconds'.
    """
    from mmengine.logging import MessageHub
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    history = []
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        model.train()
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        base_lrs = [g['lr'] for g in optim.param_groups]
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
        hub = MessageHub.get_current_instance()
        warmup = max(1, steps // 10)
        batches = iter(loader)
        for step in range(steps):
            for group, lr in zip(optim.param_groups, base_lrs):
                group['lr'] = lr * min(1., 0.01 + 0.99 * step / warmup)
            try:
                data = next(batches)
            except StopIteration:
                batches = iter(loader)
                data = next(batches)
            t0 = time.perf_counter()
            log_vars = model.train_step(data, optim)
            record = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in log_vars.items()}
            record['grad_norm'] = float(hub.get_scalar('train/grad_norm').current())
            record['seconds'] = time.perf_counter() - t0
            history.append(record)
            print_log(f"  step {step + 1}/{steps}: loss {record['loss']:.4f}, grad norm {record['grad_norm']:.3g}, "
                      f"{record['seconds']:.2f} s", logger='current')
    return history


def summarise(history: List[Dict[str, float]], tail: int) -> dict:
    """Whether every value stayed finite, the first loss, the mean loss of the last `tail` steps, the largest
    gradient norm and the median step time."""
    losses = [h['loss'] for h in history]
    return dict(finite=all(math.isfinite(v) for h in history for v in h.values()),
                first_loss=losses[0], last_loss_mean=sum(losses[-tail:]) / len(losses[-tail:]),
                max_grad_norm=max(h['grad_norm'] for h in history),
                median_step_s=sorted(h['seconds'] for h in history)[len(history) // 2])
