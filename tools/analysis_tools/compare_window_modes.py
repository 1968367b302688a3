"""Train Mask R-CNN + MambaVision with the detection windows (8, 8, 112, 56) in both window modes,
same seed, same data, same steps, on a small synthetic shapes set; record the losses and plot them.

    python tools/analysis_tools/compare_window_modes.py [--steps 40] [--arch small] \\
        [--out-dir work_dirs/window_modes]

On 128 px images the level-2/3 maps are 8x8 / 4x4: window_mode='official' pads them to 112x112 /
56x56 (all but 64 of 12,544 level-2 tokens are zeros that attention and the scan see), 'fit' runs
them as one 8x8 / 4x4 window. The recipe is configs/det/quickstart_mask_rcnn_mambavision_t_shapes.py
(from scratch, AdamW 4e-4, gradients clipped at norm 10) with those windows, a linear warm-up over
the first tenth of the steps and a constant lr after it. `--arch small` (default) is a narrow,
shallow MambaVision (dim 32, depths 1, 1, 2, 2) so that the padded official mode fits a few minutes
on a CPU; `--arch tiny` is the real T. Writes window_modes.json (per step: losses, gradient norm
before clipping, seconds) and window_modes.png, and exits with 1 if fit mode had a non-finite loss.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed

from mmvision_mamba.analysis.training_curves import summarise, train_steps
from mmvision_mamba.apis import init_model
from mmvision_mamba.testing import make_coco_shapes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIG = osp.join(ROOT, 'configs', 'det', 'quickstart_mask_rcnn_mambavision_t_shapes.py')
DET_WINDOWS = (8, 8, 112, 56)
ARCHS = {'small': dict(dim=32, in_dim=16, depths=(1, 1, 2, 2), num_heads=(1, 2, 4, 8)), 'tiny': 'tiny'}
MODES = ('official', 'fit')


def build_config(data_root: str, arch: str, mode: str, batch_size: int) -> Config:
    """The quickstart recipe with the detection windows in `mode`, on the set under `data_root`."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.update(window_size=DET_WINDOWS, window_mode=mode, arch=ARCHS[arch])
    if arch != 'tiny':
        channels = [ARCHS[arch]['dim'] * 2 ** i for i in range(4)]
        cfg.model.neck.in_channels = channels
    cfg.train_dataloader.update(batch_size=batch_size, num_workers=0)
    cfg.train_dataloader.dataset.data_root = data_root
    return cfg


def plot(histories: Dict[str, List[dict]], title: str, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(8, 3))
    for mode, history in histories.items():
        steps = range(1, len(history) + 1)
        ax_loss.plot(steps, [h['loss'] for h in history], label=f"window_mode='{mode}'")
        ax_grad.plot(steps, [h['grad_norm'] for h in history], label=mode)
    ax_loss.set(xlabel='step', ylabel='total loss')
    ax_grad.set(xlabel='step', ylabel='grad norm (before clip)', yscale='log')
    ax_loss.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--arch', choices=list(ARCHS), default='small')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--num-images', type=int, default=32, help='training images of the synthetic set')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2, help='CPU threads')
    parser.add_argument('--out-dir', default='work_dirs/window_modes')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    os.makedirs(args.out_dir, exist_ok=True)
    histories = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data_root = make_coco_shapes(osp.join(tmp, 'shapes'), num_train=args.num_images, num_val=1, seed=args.seed)
        for mode in MODES:
            print(f"window_mode='{mode}', windows {DET_WINDOWS}, arch {args.arch}:", flush=True)
            cfg = build_config(data_root + '/', args.arch, mode, args.batch_size)
            set_random_seed(args.seed)
            model = init_model(cfg)
            model.init_weights()
            histories[mode] = train_steps(model, cfg, args.steps, args.seed)
    tail = max(1, args.steps // 5)
    summary = {mode: summarise(h, tail) for mode, h in histories.items()}
    result = dict(windows=DET_WINDOWS, arch=args.arch, steps=args.steps, batch_size=args.batch_size,
                  image_size=128, seed=args.seed, threads=args.threads, last_loss_mean_over=tail,
                  seconds=time.perf_counter() - start, summary=summary, history=histories)
    with open(osp.join(args.out_dir, 'window_modes.json'), 'w') as f:
        json.dump(result, f, indent=1)
    plot(histories, f'Mask R-CNN + MambaVision ({args.arch}), windows {DET_WINDOWS}, 128 px shapes, '
                    f'seed {args.seed}', osp.join(args.out_dir, 'window_modes.png'))
    for mode, s in summary.items():
        print(f"{mode:>8}: finite {s['finite']}, loss {s['first_loss']:.3f} -> {s['last_loss_mean']:.3f} "
              f"(mean of the last {tail} steps), max grad norm {s['max_grad_norm']:.3g}, "
              f"median step {s['median_step_s']:.2f} s")
    print(f'Wrote {args.out_dir}/window_modes.json and window_modes.png '
          f'({time.perf_counter() - start:.0f} s)')
    sys.exit(0 if summary['fit']['finite'] else 1)


if __name__ == '__main__':
    main()
