"""Non-overlapping (wh, ww) windows of NCHW maps, padded right/bottom like the official network."""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

WINDOW_MODES = ('official', 'fit')


def to_window(window: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    """An int window w as (w, w); a (wh, ww) pair as it is."""
    # no int() on the pair: under torch.export its entries may be symbolic sizes
    return (window, window) if isinstance(window, int) else (window[0], window[1])


def check_window_mode(mode: str) -> str:
    """Returns `mode` if it is one of WINDOW_MODES; raises a ValueError saying what each means otherwise."""
    if mode not in WINDOW_MODES:
        raise ValueError(
            f"window_mode must be 'official' (square windows of window_size, maps padded up to a multiple, "
            f"as the official network and its checkpoints) or 'fit' (a window never extends past the map: "
            f'per dimension min(window_size, map size), padding only the remainder), got {mode!r}.')
    return mode


def level_window(window_size: int, size: Tuple[int, int], mode: str = 'official') -> Tuple[int, int]:
    """The (wh, ww) window a level of configured `window_size` uses on an (H, W) map.

    'official': (window_size, window_size). 'fit': (min(window_size, H), min(window_size, W)), so
    that a map no larger than its window is one window of exactly the map's size (no padding),
    while a larger map keeps the configured window and only its remainder is padded. Both modes
    give the same window whenever the map tiles by window_size.
    """
    if mode == 'official':
        return window_size, window_size
    h, w = size
    # sym_min: plain min for ints, a symbolic expression (no guard) for torch.export's dynamic sizes
    return torch.sym_min(window_size, h), torch.sym_min(window_size, w)


def pad_to_multiple(x: Tensor, window: Union[int, Tuple[int, int]]) -> Tensor:
    """Zero-pads (B, C, H, W) on the right and bottom to (ceil(H / wh) * wh, ceil(W / ww) * ww).

    The padded tokens are not masked: they take part in attention and in the scan. Under torch.export (and so
    ONNX export) the pad amounts are always applied, never branched on, so that they stay expressions of a
    dynamic H and W.
    """
    wh, ww = to_window(window)
    h, w = x.shape[-2:]
    # ceil-division form: the padded size is a plain multiple of the window for the symbolic shape solver
    pad_b, pad_r = (h + wh - 1) // wh * wh - h, (w + ww - 1) // ww * ww - w
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


def window_partition(x: Tensor, window: Union[int, Tuple[int, int]]) -> Tensor:
    """(B, C, H, W), H and W multiples of (wh, ww) -> (B * H/wh * W/ww, wh * ww, C).

    Windows are ordered image, window row, window column; the tokens of a window row-major
    (the scan order).
    """
    wh, ww = to_window(window)
    b, c, h, w = x.shape
    x = x.view(b, c, h // wh, wh, w // ww, ww)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, wh * ww, c)


def window_reverse(windows: Tensor, window: Union[int, Tuple[int, int]], size: Tuple[int, int]) -> Tensor:
    """Inverse of `window_partition`: (B * H/wh * W/ww, wh * ww, C) -> (B, C, H, W), size = (H, W)."""
    wh, ww = to_window(window)
    h, w = size
    c = windows.shape[-1]
    x = windows.view(-1, h // wh, w // ww, wh, ww, c)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(-1, c, h, w)
