"""`make quickstart`: train Mask R-CNN + MambaVision-T on the CPU on a synthetic shapes set, evaluate
it with the COCO metric and save a picture of its predictions.

    python tools/quickstart.py [--work-dir work_dirs/quickstart]

The recipe (8 epochs of 160 images, 128 px) is configs/det/quickstart_mask_rcnn_mambavision_t_shapes.py.
"""
import argparse
import glob
import json
import os.path as osp
import subprocess
import sys
import time

import cv2
import numpy as np
from mmengine.config import Config

from mmvision_mamba.testing import make_coco_shapes

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIG = osp.join(ROOT, 'configs', 'det', 'quickstart_mask_rcnn_mambavision_t_shapes.py')
DATA = 'data/shapes_coco'


def run(cmd: list) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def tile(paths: list, out: str, cols: int = 4) -> None:
    """Lays the painted validation images out in one PNG."""
    imgs = [cv2.imread(p) for p in sorted(paths)[:2 * cols]]
    h, w = imgs[0].shape[:2]
    imgs += [np.zeros_like(imgs[0])] * (-len(imgs) % cols)
    rows = [np.concatenate([cv2.resize(i, (w, h)) for i in imgs[r:r + cols]], 1) for r in range(0, len(imgs), cols)]
    cv2.imwrite(out, np.concatenate(rows, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    args = parser.parse_args()
    start = time.time()
    if not osp.exists(osp.join(ROOT, DATA, 'annotations', 'instances_val.json')):
        print(f'Writing the synthetic COCO-format shapes set to {DATA}/ ...', flush=True)
        make_coco_shapes(osp.join(ROOT, DATA), num_train=160, num_val=24)
    py = sys.executable
    epochs = Config.fromfile(CONFIG).train_cfg.max_epochs
    # no validation during training: tools/test.py evaluates the final checkpoint below
    run([py, 'tools/train.py', CONFIG, '--work-dir', args.work_dir,
         '--cfg-options', f'train_cfg.val_begin={epochs + 1}'])
    ckpt = osp.join(args.work_dir, f'epoch_{epochs}.pth')
    run([py, 'tools/test.py', CONFIG, ckpt, '--work-dir', args.work_dir, '--show-dir', 'predictions'])

    runs = sorted(glob.glob(osp.join(ROOT, args.work_dir, '2*', '2*.json')))
    metrics = json.load(open(runs[-1])) if runs else {}
    painted = glob.glob(osp.join(ROOT, args.work_dir, '2*', 'predictions', '*.png'))
    picture = osp.join(args.work_dir, 'predictions.png')
    if painted:
        tile(painted, osp.join(ROOT, picture))
    minutes = (time.time() - start) / 60
    print(f'\nQuickstart done in {minutes:.1f} min: bbox mAP {metrics.get("coco/bbox_mAP", float("nan")):.3f}, '
          f'segm mAP {metrics.get("coco/segm_mAP", float("nan")):.3f}, bbox mAP@0.5 '
          f'{metrics.get("coco/bbox_mAP_50", float("nan")):.3f}; predictions: {picture}')


if __name__ == '__main__':
    main()
