"""Detection (mmdet) or segmentation (mmseg) of one image with a MambaVision model; the picture is written.

    python tools/demo.py demo.jpg configs/det/cascade_mask_rcnn_mambavision_t_3x.py CKPT --out-file det.png
    python tools/demo.py demo.jpg configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py CKPT --out-file seg.png

The config's default_scope picks DetInferencer or MMSegInferencer. CHECKPOINT is an mmengine checkpoint, e.g. an
official det/seg file converted by tools/model_converters/mambavision2mm.py (which stores the class names), as a
local path or an http(s) URL (downloaded once into <torch hub dir>/checkpoints). --device: cuda where torch sees
a GPU, else cpu.
"""
import argparse
import os
import os.path as osp

import torch

from mmvision_mamba.apis import infer_image, init_inferencer
from mmvision_mamba.fileio.checkpoint_io import resolve_checkpoint_path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run a MambaVision detector or segmentor on an image')
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='mmdet or mmseg config file')
    parser.add_argument('checkpoint', help='checkpoint file or http(s) URL (mmengine format, see mambavision2mm.py)')
    parser.add_argument('--out-file', required=True, help='picture to write (.png / .jpg)')
    parser.add_argument('--device', default=None,
                        help="device, e.g. 'cpu' or 'cuda:0' (default: cuda where available, else cpu)")
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection: lowest score drawn')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation: opacity of the mask')
    args = parser.parse_args(argv)
    remote = args.checkpoint.startswith(('http://', 'https://'))
    for name, path in (('image', args.image), ('config', args.config), ('checkpoint', args.checkpoint)):
        if not osp.isfile(path) and not (name == 'checkpoint' and remote):
            parser.error(f'{name} not found: {path!r}')
    if not 0 <= args.score_thr <= 1 or not 0 <= args.opacity <= 1:
        parser.error('--score-thr and --opacity must be in [0, 1]')
    return args


def save_picture(result: dict, out_file: str) -> None:
    """Writes the painted picture of `infer_image`'s result."""
    import cv2
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    if not cv2.imwrite(out_file, cv2.cvtColor(result['visualization'][0], cv2.COLOR_RGB2BGR)):
        raise SystemExit(f'error: could not write {out_file!r}')


def main(argv=None) -> None:
    args = parse_args(argv)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        inferencer = init_inferencer(args.config, resolve_checkpoint_path(args.checkpoint), device)
    except ValueError as e:
        raise SystemExit(f'error: {e}') from e
    save_picture(infer_image(inferencer, args.image, args.score_thr, args.opacity), args.out_file)
    print(f'{args.out_file}: predictions of {osp.basename(args.config)} on {args.image}')


if __name__ == '__main__':
    main()
