"""Converts an official MambaVision checkpoint into an mmengine checkpoint for mmdet / mmseg.

    python tools/model_converters/mambavision2mm.py mambavision_tiny_1k.pth.tar mambavision_t_mm.pth
    python tools/model_converters/mambavision2mm.py model.safetensors mambavision_t_mm.pth
    python tools/model_converters/mambavision2mm.py cascade_mask_rcnn_mamba_vision_tiny_3x_coco.pth out.pth
    python tools/model_converters/mambavision2mm.py mamba_vision_160k_ade20k-512x512_tiny.pth out.pth --dataset ade20k

Sources: the classification `.pth.tar`, Hugging Face `model.safetensors` and the official detection /
segmentation checkpoints. The result is `{'state_dict': ..., 'meta': {...}}`, read offline by `load_from=`,
tools/test.py, DetInferencer and MMSegInferencer. Backbone-only sources get `backbone.`-prefixed keys (the
classifier's norm and head are dropped); detection / segmentation checkpoints keep their keys. With `--dataset`
`meta.dataset_meta` holds the class names and palette of COCO or ADE20K, so the inferencers name the classes;
without it a det/seg checkpoint keeps its own dataset_meta, or, having none, gets COCO's or ADE20K's when its head
has 80 or 150 classes.
"""
import argparse
import os
import os.path as osp

import torch

from mmvision_mamba.models.utils import MM_DATASETS, convert_to_mm_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert an official MambaVision checkpoint for mmdet / mmseg')
    parser.add_argument('src', help='official checkpoint: .pth.tar, model.safetensors or a det/seg .pth')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--dataset', choices=sorted(MM_DATASETS),
                        help='set meta.dataset_meta to these classes and palette (default: the source\'s own, or '
                             'from the class count of a det/seg head; none for a backbone-only source)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise SystemExit('error: DST must differ from SRC (the source is never overwritten).')
    try:
        ckpt = convert_to_mm_checkpoint(args.src, args.dataset)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}') from e
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(ckpt, args.dst)
    meta = ckpt['meta']
    classes = meta.get('dataset_meta', {}).get('classes')
    print(f'{args.dst}: {len(ckpt["state_dict"])} tensors ({meta["layout"]} layout, arch {meta["arch"]}); '
          + (f'dataset_meta: {len(classes)} classes ({", ".join(classes[:3])}, ...)' if classes
             else 'no dataset_meta (pass --dataset coco|ade20k for an inferencer)'))


if __name__ == '__main__':
    main()
