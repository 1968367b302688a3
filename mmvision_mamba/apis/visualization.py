"""The visualization flags of tools/test.py (`--show`, `--show-dir`), as mmdet's and mmseg's test tools set them."""
from typing import Optional

from mmengine.config import Config


def enable_visualization(cfg: Config, show: bool = False, show_dir: Optional[str] = None,
                         wait_time: float = 2) -> None:
    """Turns on the config's `visualization` hook: draw every test image, show it and/or save it.

    Args:
        cfg: an mmdet or mmseg config with `default_hooks.visualization`.
        show: show each picture in a window for `wait_time` seconds.
        show_dir: save the pictures under work_dir/<timestamp>/`show_dir` (mmdet) or in `show_dir` (mmseg).

    Raises:
        ValueError: the config has no visualization hook.
    """
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise ValueError('--show/--show-dir need a `visualization` entry in default_hooks.')
    hook = hooks.visualization
    hook.draw = True
    if show:
        hook.show = True
        hook.wait_time = wait_time
    if show_dir:
        key = 'test_out_dir' if cfg.get('default_scope') == 'mmdet' else 'img_dir'
        hook[key] = show_dir
        if key == 'img_dir':
            cfg.visualizer.save_dir = show_dir
            cfg.visualizer.setdefault('vis_backends', [dict(type='LocalVisBackend')])
        hook.interval = 1
