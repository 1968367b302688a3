"""Feature maps of the four MambaVision levels on an image, tiled into one picture.

    python tools/analysis_tools/vis_features.py demo.jpg configs/det/mask_rcnn_mambavision_t.py CKPT \
        --out-file feats.png

CHECKPOINT may be any official MambaVision file (classification .pth.tar, safetensors, det/seg checkpoint) or one
written by tools/model_converters/mambavision2mm.py; without it the backbone keeps its random initialisation. Each
panel is mmengine's `Visualizer.draw_featmap` of one level's output (the channel mean, overlaid on the image).
"""
import argparse
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction

from mmvision_mamba.analysis.feature_maps import feature_picture, preprocess
from mmvision_mamba.apis import init_model, load_config
from mmvision_mamba.models import MambaVision


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Visualise the feature maps of the four MambaVision levels')
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='mmdet / mmseg config with a MambaVision backbone')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (official or converted); default: random init')
    parser.add_argument('--out-file', required=True, help='picture to write (.png / .jpg)')
    parser.add_argument('--max-size', type=int, default=512,
                        help='resize the image so that its longer side is this many pixels (default 512)')
    parser.add_argument('--channel-reduction', default='squeeze_mean', choices=['squeeze_mean', 'select_max'],
                        help="how draw_featmap reduces the channels (default 'squeeze_mean')")
    parser.add_argument('--alpha', type=float, default=0.5, help='weight of the feature map over the image')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args(argv)
    if args.max_size < 32:
        parser.error(f'--max-size must be at least 32 (the backbone stride), got {args.max_size}')
    if not 0 <= args.alpha <= 1:
        parser.error(f'--alpha must be in [0, 1], got {args.alpha}')
    return args


def build_backbone(cfg: Config, checkpoint: Optional[str]) -> MambaVision:
    """The config's MambaVision backbone with all four levels, with the checkpoint's weights if given."""
    backbone_type = (cfg.model.get('backbone') or {}).get('type')
    if backbone_type not in ('MambaVision', MambaVision):
        raise SystemExit(f"error: the config's model.backbone is {backbone_type!r}, not MambaVision.")
    model = init_model(cfg, checkpoint, cfg_options={'model.backbone.out_indices': (0, 1, 2, 3),
                                                     'model.backbone.init_cfg': None})
    if checkpoint is None:
        model.backbone.init_weights()
    return model.backbone


def main(argv=None) -> None:
    args = parse_args(argv)
    import cv2
    if not osp.isfile(args.image):
        raise SystemExit(f'error: image not found: {args.image!r}')
    if not osp.isfile(args.config):
        raise SystemExit(f'error: config not found: {args.config!r}')
    cfg = load_config(args.config, args.cfg_options)
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f'error: {args.image!r} is not an image that OpenCV can read.')
    try:
        backbone = build_backbone(cfg, args.checkpoint)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}') from e
    x, rgb = preprocess(image, cfg.model.get('data_preprocessor'), args.max_size)
    picture = feature_picture(backbone, x, rgb, args.channel_reduction, args.alpha)
    os.makedirs(osp.dirname(osp.abspath(args.out_file)), exist_ok=True)
    if not cv2.imwrite(args.out_file, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f'error: could not write {args.out_file!r}')
    weights = args.checkpoint or 'random initialisation'
    print(f'{args.out_file}: feature maps of levels 0-3 ({weights}), {picture.shape[1]}x{picture.shape[0]} px')


if __name__ == '__main__':
    main()
