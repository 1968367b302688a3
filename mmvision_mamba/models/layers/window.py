"""Non-overlapping window partition of NCHW maps, padded right/bottom like the official network."""
from typing import Tuple

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, window: int) -> Tensor:
    """Zero-pads (B, C, H, W) on the right and bottom to multiples of `window` (pads are not masked)."""
    h, w = x.shape[-2:]
    pad_b, pad_r = -h % window, -w % window
    return F.pad(x, (0, pad_r, 0, pad_b)) if pad_b or pad_r else x


def window_partition(x: Tensor, window: int) -> Tensor:
    """(B, C, H, W) with H, W multiples of `window` -> (B * nW, window * window, C), row-major tokens."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // window, window, w // window, window)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, window * window, c)


def window_reverse(windows: Tensor, window: int, size: Tuple[int, int]) -> Tensor:
    """Inverse of `window_partition`: (B * nW, window * window, C) -> (B, C, H, W)."""
    h, w = size
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(-1, c, h, w)
