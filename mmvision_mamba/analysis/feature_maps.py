"""Pictures of a backbone's feature maps: each level's output drawn over the image with mmengine's
`Visualizer.draw_featmap`, tiled into one picture (tools/analysis_tools/vis_features.py)."""
from typing import List, Mapping, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def preprocess(image: np.ndarray, data_preprocessor: Mapping, max_size: int) -> Tuple[Tensor, np.ndarray]:
    """BGR uint8 image -> normalised (1, 3, H, W) tensor and the resized RGB image.

    Args:
        image: BGR uint8 (H, W, 3), as OpenCV reads it.
        data_preprocessor: a config's `model.data_preprocessor` (its mean, std and bgr_to_rgb; ImageNet's by default).
        max_size: the longer side after resizing.
    """
    import cv2
    h, w = image.shape[:2]
    scale = max_size / max(h, w)
    image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    pre = data_preprocessor or {}
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
