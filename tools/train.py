"""Train a detector (mmdet) or segmentor (mmseg) config that uses the MambaVision backbone.

    python tools/train.py configs/det/mask_rcnn_mambavision_t.py [--amp] [--resume] ...
    bash tools/dist_train.sh CONFIG NUM_GPUS [args]        # torchrun, many GPUs / nodes
    sbatch ... tools/slurm_train.sbatch CONFIG WORK_DIR    # Slurm, requeued on preemption

Training stops on SIGTERM / SIGUSR1 with a checkpoint of the current iteration (exit status 75, or a requeue of
the Slurm job) and `--resume` continues at the next iteration (`preemption = None` in the config turns it off).
"""
import argparse
import sys

from mmengine.config import Config
from mmengine.runner import Runner

from mmvision_mamba.apis import adapt_to_device, add_run_args, close_process_group, load_run_config, prepare_run
from mmvision_mamba.engine import use_atomic_checkpoints, use_resumable_training


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a MambaVision detector or segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision (GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale lr with the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the newest readable one in work_dir')
    add_run_args(parser)
    return parser.parse_args()


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_run_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    adapt_to_device(cfg)
    use_atomic_checkpoints(cfg)
    use_resumable_training(cfg)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = build_config(args)
    try:
        prepare_run(cfg, args.launcher)
    except ValueError as e:
        sys.exit(f'error: {e}')
    Runner.from_cfg(cfg).train()
    close_process_group()


if __name__ == '__main__':
    main()
