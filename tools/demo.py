"""Detection (mmdet) or segmentation (mmseg) of one image with a MambaVision model; the picture is written.

    python tools/demo.py demo.jpg configs/det/cascade_mask_rcnn_mambavision_t_3x.py CKPT --out-file det.png
    python tools/demo.py demo.jpg configs/seg/upernet_mambavision_t_512x512_160k_ade20k.py CKPT --out-file seg.png

The config's default_scope picks DetInferencer or MMSegInferencer. CHECKPOINT is an mmengine checkpoint, e.g. an
official det/seg file converted by tools/model_converters/mambavision2mm.py (which stores the class names).
"""
import argparse
import os
import os.path as osp


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run a MambaVision detector or segmentor on an image')
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='mmdet or mmseg config file')
    parser.add_argument('checkpoint', help='checkpoint file (mmengine format, see mambavision2mm.py)')
    parser.add_argument('--out-file', required=True, help='picture to write (.png / .jpg)')
    parser.add_argument('--device', default='cpu', help="device, e.g. 'cpu' or 'cuda:0' (default cpu)")
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection: lowest score drawn')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation: opacity of the mask')
    args = parser.parse_args(argv)
    for name, path in (('image', args.image), ('config', args.config), ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{name} not found: {path!r}')
    if not 0 <= args.score_thr <= 1 or not 0 <= args.opacity <= 1:
        parser.error('--score-thr and --opacity must be in [0, 1]')
    return args


def build_inferencer(config: str, checkpoint: str, device: str):
    """DetInferencer for an mmdet config, MMSegInferencer for an mmseg one."""
    from mmengine.config import Config
    scope = Config.fromfile(config).get('default_scope')
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        return DetInferencer(model=config, weights=checkpoint, device=device)
    if scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        return MMSegInferencer(model=config, weights=checkpoint, device=device)
    raise SystemExit(f"error: {config} has default_scope={scope!r}; demo.py runs 'mmdet' and 'mmseg' configs.")


def run(inferencer, image: str, score_thr: float = 0.3, opacity: float = 0.5) -> dict:
    """The inferencer's output for one image; 'visualization' is a list holding the painted picture (RGB)."""
    if type(inferencer).__name__ == 'DetInferencer':
        result = inferencer(image, return_vis=True, pred_score_thr=score_thr)
    else:
        result = inferencer(image, return_vis=True, opacity=opacity)
    vis = result['visualization']
    result['visualization'] = vis if isinstance(vis, list) else [vis]  # MMSegInferencer unpacks a single image
    return result


def save_picture(result: dict, out_file: str) -> None:
    """Writes the painted picture of `run`'s result."""
    import cv2
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    if not cv2.imwrite(out_file, cv2.cvtColor(result['visualization'][0], cv2.COLOR_RGB2BGR)):
        raise SystemExit(f'error: could not write {out_file!r}')


def main(argv=None) -> None:
    args = parse_args(argv)
    import mmvision_mamba  # noqa: F401  (registers the backbone and the safe checkpoint types)
    inferencer = build_inferencer(args.config, args.checkpoint, args.device)
    save_picture(run(inferencer, args.image, args.score_thr, args.opacity), args.out_file)
    print(f'{args.out_file}: predictions of {osp.basename(args.config)} on {args.image}')


if __name__ == '__main__':
    main()
