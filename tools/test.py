"""Evaluate a trained detector (mmdet) or segmentor (mmseg) checkpoint.

    python tools/test.py CONFIG CHECKPOINT [--show-dir DIR] [--out results.pkl] ...
    python tools/test.py CONFIG CHECKPOINT --tta                  # multi-scale + flip
    python tools/test.py CONFIG CHECKPOINT --test-data configs/_base_/coco_test_dev.py --out-dir DIR
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [args]

TTA and test-server files: docs/en/user_guides/leaderboard.md.
"""
import argparse
import sys

from mmengine.logging import print_log
from mmengine.runner import Runner

from mmvision_mamba.apis import (adapt_to_device, add_run_args, apply_tta, close_process_group, enable_visualization,
                                 finish_submission, load_run_config, prepare_run, prepare_submission)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a MambaVision model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file (mmdet) for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results in a window')
    parser.add_argument('--show-dir', help='save painted predictions under work_dir/<timestamp>/SHOW_DIR')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: multi-scale + flip (mmseg SegTTAModel / mmdet DetTTAModel)')
    parser.add_argument('--tta-box-only', action='store_true',
                        help='--tta for a detector with a mask head: drop the mask head, augment the boxes '
                        '(mmdet merges no masks)')
    parser.add_argument('--test-data', help='a test-split data config merged into CONFIG, e.g. '
                        'configs/_base_/coco_test_dev.py or configs/_base_/ade20k_test.py')
    parser.add_argument('--format-only', action='store_true',
                        help='write the evaluation server\'s files to --out-dir without evaluating')
    parser.add_argument('--out-dir', help='new or empty folder for the evaluation server\'s files: COCO results '
                        'JSONs (mmdet) or label PNGs (mmseg)')
    add_run_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        cfg = load_run_config(args)
        prepare_submission(cfg, args.out_dir, args.format_only)
        if args.tta or args.tta_box_only:
            print_log(apply_tta(cfg, box_only=args.tta_box_only), logger='current')
        cfg.load_from = args.checkpoint
        adapt_to_device(cfg)
        if args.show or args.show_dir:
            enable_visualization(cfg, args.show, args.show_dir, args.wait_time)
        prepare_run(cfg, args.launcher, splits=('test_dataloader',))
    except ValueError as e:
        sys.exit(f'error: {e}')
    runner = Runner.from_cfg(cfg)
    if args.out:
        if cfg.get('default_scope') != 'mmdet':
            raise SystemExit('error: --out is for detection configs; mmseg writes with --show-dir.')
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()
    if args.out_dir:
        files = finish_submission(cfg, args.out_dir)
        print_log(f'{len(files)} files for the evaluation server in {args.out_dir}', logger='current')
    close_process_group()


if __name__ == '__main__':
    main()
