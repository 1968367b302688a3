"""Non-overlapping window partition of NCHW maps, padded right/bottom like the official network."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, window: int) -> Tensor:
    """Zero-pads (B, C, H, W) on the right and bottom to multiples of `window` (pads are not masked).

    Under torch.export (and so ONNX export) the pad amounts are always applied, never branched on, so that they
    stay expressions of a dynamic H and W.
    """
    h, w = x.shape[-2:]
    # ceil-division form: the padded size is a plain multiple of `window` for the symbolic shape solver
    pad_b, pad_r = (h + window - 1) // window * window - h, (w + window - 1) // window * window - w
    if not torch.compiler.is_exporting() and not (pad_b or pad_r):
        return x
    return F.pad(x, (0, pad_r, 0, pad_b))


def crop(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """The top-left (H, W) = `size` of a padded (B, C, H', W') map, contiguous.

    Under torch.export it gathers with arange rather than slicing, so that the output size is exactly `size`
    whether or not the map was padded (a slice of a dynamic size would guard on whether it is the whole map).
    """
    h, w = size
    if not torch.compiler.is_exporting():
        return x[:, :, :h, :w].contiguous()
    x = x.index_select(2, torch.arange(h, device=x.device))
    return x.index_select(3, torch.arange(w, device=x.device))


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
