"""Evaluate a trained detector (mmdet) or segmentor (mmseg) checkpoint.

    python tools/test.py CONFIG CHECKPOINT [--show-dir DIR] [--out results.pkl] ...
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [args]
"""
import argparse
import sys

from mmengine.config import Config
from mmengine.runner import Runner

from mmvision_mamba.engine import UnreadableCheckpointError, resolve_load_from
from mmvision_mamba.utils.cli import add_run_args, load_run_config
from mmvision_mamba.utils.config_checks import (adapt_to_device, check_backbone_channels,
                                                missing_data)
from mmvision_mamba.utils.launch import init_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a MambaVision model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file (mmdet) for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results in a window')
    parser.add_argument('--show-dir', help='save painted predictions under work_dir/<timestamp>/SHOW_DIR')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    add_run_args(parser)
    return parser.parse_args()


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    hooks = cfg.default_hooks
    name = 'visualization'
    if name not in hooks:
        raise SystemExit('error: --show/--show-dir need a `visualization` entry in default_hooks.')
    hooks[name].draw = True
    if args.show:
        hooks[name].show = True
        hooks[name].wait_time = args.wait_time
    if args.show_dir:
        key = 'test_out_dir' if cfg.get('default_scope') == 'mmdet' else 'img_dir'
        hooks[name][key] = args.show_dir
        if key == 'img_dir':
            cfg.visualizer.save_dir = args.show_dir
            cfg.visualizer.setdefault('vis_backends', [dict(type='LocalVisBackend')])
        hooks[name].interval = 1


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)
    cfg.load_from = args.checkpoint
    adapt_to_device(cfg)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    problem = check_backbone_channels(cfg) or missing_data(cfg, splits=('test_dataloader',))
    if problem:
        sys.exit(f'error: {problem}')
    try:
        resolve_load_from(cfg)
    except UnreadableCheckpointError as e:
        sys.exit(f'error: {e}')
    init_cpu_distributed(args.launcher, cfg)
    runner = Runner.from_cfg(cfg)
    if args.out:
        if cfg.get('default_scope') != 'mmdet':
            raise SystemExit('error: --out is for detection configs; mmseg writes with --show-dir.')
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
