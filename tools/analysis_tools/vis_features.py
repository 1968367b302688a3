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
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
import torch.nn.functional as F
from torch import Tensor, nn

from mmvision_mamba.models import MambaVision
from mmvision_mamba.models.utils import extract_state_dict
from mmvision_mamba.fileio import load_checkpoint_file


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
    """The config's MambaVision backbone (all four levels), with the checkpoint's weights if given."""
    from mmengine.registry import MODELS
    backbone_cfg = cfg.model.get('backbone') or {}
    if backbone_cfg.get('type') not in ('MambaVision', MambaVision):
        raise SystemExit(f"error: the config's model.backbone is {backbone_cfg.get('type')!r}, not MambaVision.")
    backbone_cfg = dict(backbone_cfg, out_indices=(0, 1, 2, 3), init_cfg=None)
    backbone: MambaVision = MODELS.build(backbone_cfg)
    backbone.init_weights()
    if checkpoint is not None:
        state = extract_state_dict(load_checkpoint_file(checkpoint))
        if any(k.startswith('backbone.') for k in state):
            own = backbone.state_dict()
            weights = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
            backbone.load_state_dict({k: v for k, v in weights.items() if k in own}, strict=False)
        else:
            backbone.load_pretrained(checkpoint)
    return backbone.eval()


def preprocess(image: np.ndarray, cfg: Config, max_size: int) -> Tuple[Tensor, np.ndarray]:
    """BGR uint8 image -> normalised (1, 3, H, W) tensor (the config's data_preprocessor mean / std) and the
    resized RGB image."""
    import cv2
    h, w = image.shape[:2]
    scale = max_size / max(h, w)
    image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    pre = cfg.model.get('data_preprocessor', {})
    mean = np.array(pre.get('mean', (123.675, 116.28, 103.53)), dtype=np.float32)
    std = np.array(pre.get('std', (58.395, 57.12, 57.375)), dtype=np.float32)
    pixels = rgb if pre.get('bgr_to_rgb', False) else image
    x = torch.from_numpy((pixels.astype(np.float32) - mean) / std).permute(2, 0, 1)[None]
    return x, rgb


def tile(panels: Sequence[np.ndarray], titles: Sequence[str]) -> np.ndarray:
    """Panels (RGB, same size) side by side in a 2x2 grid, each with its title above."""
    import cv2
    h, w = panels[0].shape[:2]
    bar = max(18, h // 16)
    cells: List[np.ndarray] = []
    for panel, title in zip(panels, titles):
        cell = np.full((h + bar, w, 3), 255, np.uint8)
        cell[bar:] = panel
        cv2.putText(cell, title, (4, bar - 5), cv2.FONT_HERSHEY_SIMPLEX, bar / 30, (0, 0, 0), 1, cv2.LINE_AA)
        cells.append(cell)
    return np.concatenate([np.concatenate(cells[:2], 1), np.concatenate(cells[2:], 1)], 0)


@torch.no_grad()
def feature_picture(backbone: nn.Module, x: Tensor, rgb: np.ndarray, channel_reduction: str = 'squeeze_mean',
                    alpha: float = 0.5) -> np.ndarray:
    """The four levels' maps drawn with `Visualizer.draw_featmap` over `rgb`, tiled into one RGB picture."""
    from mmengine.visualization import Visualizer
    feats = backbone(x)
    # upsampled here, so that draw_featmap does not warn that it interpolates
    panels = [Visualizer.draw_featmap(F.interpolate(f, rgb.shape[:2], mode='bilinear')[0], rgb,
                                      channel_reduction=channel_reduction, alpha=alpha) for f in feats]
    titles = [f'level {i}: {f.shape[1]} ch, stride {4 * 2 ** i}' for i, f in enumerate(feats)]
    return tile(panels, titles)


def main(argv=None) -> None:
    args = parse_args(argv)
    import cv2
    if not osp.isfile(args.image):
        raise SystemExit(f'error: image not found: {args.image!r}')
    if not osp.isfile(args.config):
        raise SystemExit(f'error: config not found: {args.config!r}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f'error: {args.image!r} is not an image that OpenCV can read.')
    try:
        backbone = build_backbone(cfg, args.checkpoint)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}') from e
    x, rgb = preprocess(image, cfg, args.max_size)
    picture = feature_picture(backbone, x, rgb, args.channel_reduction, args.alpha)
    os.makedirs(osp.dirname(osp.abspath(args.out_file)), exist_ok=True)
    if not cv2.imwrite(args.out_file, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f'error: could not write {args.out_file!r}')
    weights = args.checkpoint or 'random initialisation'
    print(f'{args.out_file}: feature maps of levels 0-3 ({weights}), {picture.shape[1]}x{picture.shape[0]} px')


if __name__ == '__main__':
    main()
