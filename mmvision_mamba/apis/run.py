"""What every run does between its config and `Runner.from_cfg`."""
from typing import Sequence

from mmengine.config import Config

from ..engine import resolve_load_from
from .config_checks import check_backbone_channels, missing_data
from .launch import init_cpu_distributed


def prepare_run(cfg: Config, launcher: str, splits: Sequence[str] = ('train_dataloader', 'val_dataloader')) -> None:
    """Checks the config and starts the process group: the neck / heads take the backbone's channels, the data
    of `splits` is on disk, `load_from` (or the newest checkpoint of work_dir, for `resume=True`) is readable,
    and a CPU machine gets its gloo group.

    Raises:
        ValueError: what is wrong and what would be right (tools print it and exit).
    """
    problem = check_backbone_channels(cfg) or missing_data(cfg, splits=tuple(splits))
    if problem:
        raise ValueError(problem)
    resolve_load_from(cfg)  # UnreadableCheckpointError is a ValueError
    init_cpu_distributed(launcher, cfg)
