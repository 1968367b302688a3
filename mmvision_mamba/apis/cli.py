"""What tools/train.py and tools/test.py share: the run arguments and the config they produce."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """--work-dir, --cfg-options, --launcher and --local-rank, as in mmdet's and mmseg's tools."""
    parser.add_argument('--work-dir', help='the dir for logs, checkpoints and metrics')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (xxx=yyy format)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace) -> Config:
    """The config of `args.config` with the run arguments applied (work_dir defaults to work_dirs/<name>).

    A test-data config (`args.test_data`, tools/test.py) is merged before --cfg-options, which can
    still override it.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if getattr(args, 'test_data', None):
        from .submission import apply_test_data
        apply_test_data(cfg, args.test_data)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
