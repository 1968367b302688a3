"""Naive, functional MambaVision backbone written directly from the spec.

Used as an independent oracle in exactness tests: every formula is spelled out
with plain tensor ops and explicit loops, reading weights from a state dict in
the official (unprefixed) key layout.
"""
import math
import zlib
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
StateDict = Dict[str, Tensor]

D_STATE = 8


def _attention_indices(depth: int) -> List[int]:
    """Returns the indices of the attention blocks in a level of ``depth``."""
    start = depth // 2 + 1 if depth % 2 else depth // 2
    return list(range(start, depth))


def _get(sd: StateDict, key: str, like: Tensor) -> Tensor:
    """Fetches ``key`` from ``sd`` cast to the dtype and device of ``like``."""
    return sd[key].to(dtype=like.dtype, device=like.device)


def _linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """Computes ``x @ weight.T + bias``."""
    out = x @ weight.t()
    return out if bias is None else out + bias


def _batch_norm(sd: StateDict, prefix: str, x: Tensor, eps: float) -> Tensor:
    """Inference-mode BatchNorm2d over the channels of an NCHW tensor."""
    shape = (1, -1, 1, 1)
    mean = _get(sd, prefix + '.running_mean', x).view(shape)
    var = _get(sd, prefix + '.running_var', x).view(shape)
    weight = _get(sd, prefix + '.weight', x).view(shape)
    bias = _get(sd, prefix + '.bias', x).view(shape)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """LayerNorm over the last dimension with a biased variance."""
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _gelu_exact(x: Tensor) -> Tensor:
    """Exact (erf) GELU."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _gelu_tanh(x: Tensor) -> Tensor:
    """Tanh-approximated GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _silu(x: Tensor) -> Tensor:
    """SiLU written as ``x * sigmoid(x)``."""
    return x * torch.sigmoid(x)


def _softplus(v: Tensor) -> Tensor:
    """Softplus ``log(1 + exp(v))``, returning ``v`` itself where ``v > 20``."""
    return torch.where(v > 20, v, torch.log1p(torch.exp(torch.clamp(v, max=20.0))))


def _depthwise_conv1d_same(x: Tensor, weight: Tensor) -> Tensor:
    """Depthwise cross-correlation with a 3-tap kernel and one zero pad each side.

    Args:
        x: (B, D, L).
        weight: (D, 1, 3).
    """
    assert weight.shape[1:] == (1, 3), weight.shape
    w = weight[:, 0, :]
    zero = torch.zeros_like(x[:, :, :1])
    left = torch.cat([zero, x[:, :, :-1]], dim=2)
    right = torch.cat([x[:, :, 1:], zero], dim=2)
    return (w[None, :, 0:1] * left + w[None, :, 1:2] * x + w[None, :, 2:3] * right)


def _stem(sd: StateDict, x: Tensor) -> Tensor:
    """Two (conv s2 -> BN eps 1e-4 -> ReLU) stages."""
    for conv, bn in ((0, 1), (3, 4)):
        x = F.conv2d(x, _get(sd, f'patch_embed.conv_down.{conv}.weight', x), stride=2, padding=1)
        x = _batch_norm(sd, f'patch_embed.conv_down.{bn}', x, eps=1e-4)
        x = torch.clamp(x, min=0)
    return x


def _conv_block(sd: StateDict, prefix: str, x: Tensor) -> Tensor:
    """Residual ConvBlock of levels 0 and 1."""
    y = F.conv2d(x, _get(sd, prefix + '.conv1.weight', x), _get(sd, prefix + '.conv1.bias', x), padding=1)
    y = _batch_norm(sd, prefix + '.norm1', y, eps=1e-5)
    y = _gelu_tanh(y)
    y = F.conv2d(y, _get(sd, prefix + '.conv2.weight', x), _get(sd, prefix + '.conv2.bias', x), padding=1)
    y = _batch_norm(sd, prefix + '.norm2', y, eps=1e-5)
    if prefix + '.gamma' in sd:
        y = y * _get(sd, prefix + '.gamma', x).view(1, -1, 1, 1)
    return x + y


def _selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor) -> Tensor:
    """Sequential selective scan.

    Args:
        u: inputs (B, D, L).
        delta: step sizes (B, D, L).
        A: (D, N).
        B: (B, N, L), shared by all channels.
        C: (B, N, L), shared by all channels.
        D: (D,).

    Returns:
        y of shape (B, D, L).
    """
    batch, dim, length = u.shape
    h = torch.zeros(batch, dim, A.shape[1], dtype=u.dtype, device=u.device)
    ys = []
    for t in range(length):
        d_t = delta[:, :, t, None]
        h = torch.exp(d_t * A[None]) * h + d_t * B[:, None, :, t] * u[:, :, t, None]
        ys.append((h * C[:, None, :, t]).sum(dim=-1) + D[None] * u[:, :, t])
    return torch.stack(ys, dim=2)


def _mamba_mixer(sd: StateDict, prefix: str, x: Tensor) -> Tensor:
    """MambaVisionMixer on tokens (B, L, C)."""
    channels = x.shape[-1]
    half = channels // 2
    dt_proj_w = _get(sd, prefix + '.dt_proj.weight', x)
    dt_proj_b = _get(sd, prefix + '.dt_proj.bias', x)
    dt_rank = dt_proj_w.shape[1]
    assert dt_rank == math.ceil(channels / 16), (dt_rank, channels)

    xz = _linear(x, _get(sd, prefix + '.in_proj.weight', x)).transpose(1, 2)
    xs, z = xz[:, :half], xz[:, half:]
    xs = _silu(_depthwise_conv1d_same(xs, _get(sd, prefix + '.conv1d_x.weight', x)))
    z = _silu(_depthwise_conv1d_same(z, _get(sd, prefix + '.conv1d_z.weight', x)))

    x_dbl = _linear(xs.transpose(1, 2), _get(sd, prefix + '.x_proj.weight', x))
    assert x_dbl.shape[-1] == dt_rank + 2 * D_STATE, x_dbl.shape
    dt = x_dbl[..., :dt_rank]
    b_ssm = x_dbl[..., dt_rank:dt_rank + D_STATE].transpose(1, 2)
    c_ssm = x_dbl[..., dt_rank + D_STATE:].transpose(1, 2)
    dt = _linear(dt, dt_proj_w, dt_proj_b).transpose(1, 2)
    delta = _softplus(dt + dt_proj_b[None, :, None])

    A = -torch.exp(_get(sd, prefix + '.A_log', x))
    D = _get(sd, prefix + '.D', x)
    y = _selective_scan(xs, delta, A, b_ssm, c_ssm, D)
    out = torch.cat([y, z], dim=1).transpose(1, 2)
    return _linear(out, _get(sd, prefix + '.out_proj.weight', x))


def _attention(sd: StateDict, prefix: str, x: Tensor, heads: int) -> Tensor:
    """Plain multi-head self-attention on tokens (B, N, C)."""
    batch, tokens, channels = x.shape
    head_dim = channels // heads
    qkv = _linear(x, _get(sd, prefix + '.qkv.weight', x), _get(sd, prefix + '.qkv.bias', x))
    qkv = qkv.reshape(batch, tokens, 3, heads, head_dim)
    q = qkv[:, :, 0].transpose(1, 2)
    k = qkv[:, :, 1].transpose(1, 2)
    v = qkv[:, :, 2].transpose(1, 2)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
    out = torch.softmax(scores, dim=-1) @ v
    out = out.transpose(1, 2).reshape(batch, tokens, channels)
    return _linear(out, _get(sd, prefix + '.proj.weight', x), _get(sd, prefix + '.proj.bias', x))


def _hybrid_block(sd: StateDict, prefix: str, x: Tensor, heads: int, is_attention: bool) -> Tensor:
    """Pre-norm mixer + MLP block with optional layer scale, on tokens (B, L, C)."""
    y = _layer_norm(x, _get(sd, prefix + '.norm1.weight', x), _get(sd, prefix + '.norm1.bias', x))
    if is_attention:
        y = _attention(sd, prefix + '.mixer', y, heads)
    else:
        y = _mamba_mixer(sd, prefix + '.mixer', y)
    if prefix + '.gamma_1' in sd:
        y = y * _get(sd, prefix + '.gamma_1', x)
    x = x + y

    y = _layer_norm(x, _get(sd, prefix + '.norm2.weight', x), _get(sd, prefix + '.norm2.bias', x))
    y = _linear(y, _get(sd, prefix + '.mlp.fc1.weight', x), _get(sd, prefix + '.mlp.fc1.bias', x))
    y = _gelu_exact(y)
    y = _linear(y, _get(sd, prefix + '.mlp.fc2.weight', x), _get(sd, prefix + '.mlp.fc2.bias', x))
    if prefix + '.gamma_2' in sd:
        y = y * _get(sd, prefix + '.gamma_2', x)
    return x + y


def _window_partition(x: Tensor, ws: int) -> Tensor:
    """Splits a padded NCHW map into windows of row-major tokens (B * nW, ws * ws, C)."""
    batch, channels, height, width = x.shape
    windows = []
    for b in range(batch):
        for i in range(height // ws):
            for j in range(width // ws):
                patch = x[b, :, i * ws:(i + 1) * ws, j * ws:(j + 1) * ws]
                windows.append(patch.reshape(channels, ws * ws).t())
    return torch.stack(windows, dim=0)


def _window_reverse(windows: Tensor, ws: int, batch: int, height: int, width: int) -> Tensor:
    """Inverse of :func:`_window_partition`, returning an NCHW map."""
    channels = windows.shape[-1]
    x = windows.new_zeros(batch, channels, height, width)
    index = 0
    for b in range(batch):
        for i in range(height // ws):
            for j in range(width // ws):
                x[b, :, i * ws:(i + 1) * ws, j * ws:(j + 1) * ws] = windows[index].t().reshape(channels, ws, ws)
                index += 1
    return x


def _hybrid_level(sd: StateDict, level: int, x: Tensor, depth: int, heads: int, ws: int) -> Tensor:
    """Runs the blocks of a windowed level (2 or 3) on an NCHW map."""
    batch, _, height, width = x.shape
    pad_b = (ws - height % ws) % ws
    pad_r = (ws - width % ws) % ws
    x = F.pad(x, (0, pad_r, 0, pad_b))
    tokens = _window_partition(x, ws)
    attention = _attention_indices(depth)
    for j in range(depth):
        prefix = f'levels.{level}.blocks.{j}'
        is_attention = prefix + '.mixer.qkv.weight' in sd
        assert is_attention == (j in attention), f'{prefix}: attention={is_attention}, rule says {j in attention}'
        tokens = _hybrid_block(sd, prefix, tokens, heads, is_attention)
    x = _window_reverse(tokens, ws, batch, height + pad_b, width + pad_r)
    return x[:, :, :height, :width]


def naive_mambavision(state_dict: Dict[str, torch.Tensor], x: torch.Tensor, depths: Sequence[int],
                      num_heads: Sequence[int], window_size: Sequence[int],
                      out_indices: Sequence[int] = (0, 1, 2, 3), outnorm: bool = True) -> List[torch.Tensor]:
    """Returns the NCHW feature map of each level in out_indices, taken BEFORE that level's downsample, then (if outnorm) a LayerNorm over channels (eps 1e-5) with outnorm{i}.weight/bias.

    Args:
        state_dict: weights in the official unprefixed key layout.
        x: input images (B, 3, H, W); its dtype is used for all the math.
        depths: blocks per level.
        num_heads: attention heads per level (levels 2 and 3 are used).
        window_size: window size per level (levels 2 and 3 are used).
        out_indices: levels whose features are returned, in this order.
        outnorm: whether to apply ``outnorm{i}`` to each returned map.

    Returns:
        One NCHW tensor per entry of ``out_indices``.
    """
    feats = {}
    x = _stem(state_dict, x)
    for level in range(4):
        if level < 2:
            for j in range(depths[level]):
                x = _conv_block(state_dict, f'levels.{level}.blocks.{j}', x)
        else:
            x = _hybrid_level(state_dict, level, x, depths[level], num_heads[level], window_size[level])
        feats[level] = x
        if level < 3:
            weight = _get(state_dict, f'levels.{level}.downsample.reduction.0.weight', x)
            x = F.conv2d(x, weight, stride=2, padding=1)

    outs = []
    for i in out_indices:
        feat = feats[i]
        if outnorm:
            nhwc = feat.permute(0, 2, 3, 1)
            nhwc = _layer_norm(nhwc, _get(state_dict, f'outnorm{i}.weight', feat),
                               _get(state_dict, f'outnorm{i}.bias', feat))
            feat = nhwc.permute(0, 3, 1, 2)
        outs.append(feat.contiguous())
    return outs


def _key_generator(seed: int, key: str) -> torch.Generator:
    """A generator seeded by ``seed`` and a stable hash of ``key``."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))


def _uniform(shape: torch.Size, low: float, high: float, gen: torch.Generator) -> Tensor:
    """Float64 samples from U(low, high)."""
    return low + (high - low) * torch.rand(shape, generator=gen, dtype=torch.float64)


def _normal(shape: torch.Size, mean: float, std: float, gen: torch.Generator) -> Tensor:
    """Float64 samples from N(mean, std)."""
    return mean + std * torch.randn(shape, generator=gen, dtype=torch.float64)


def _random_value(key: str, tensor: Tensor, gen: torch.Generator) -> Tensor:
    """Draws a non-trivial random value for one state-dict entry."""
    shape = tensor.shape
    name = key.rsplit('.', 1)[-1]
    if name == 'A_log':
        return torch.log(_uniform(shape, 0.5, 8.0, gen))
    if name == 'D':
        return _normal(shape, 1.0, 0.3, gen)
    if key.endswith('dt_proj.bias'):
        return _normal(shape, -2.0, 0.5, gen)
    if name in ('gamma', 'gamma_1', 'gamma_2'):
        return _uniform(shape, 0.5, 1.5, gen)
    if name == 'running_mean':
        return _normal(shape, 0.0, 0.1, gen)
    if name == 'running_var':
        return _uniform(shape, 0.5, 1.5, gen)
    if name == 'bias':
        return _normal(shape, 0.0, 0.1, gen)
    if name == 'weight' and tensor.dim() == 1:
        return _uniform(shape, 0.5, 1.5, gen)
    if tensor.dim() >= 2:
        fan_in = math.prod(shape[1:])
        return _normal(shape, 0.0, 1.0 / math.sqrt(fan_in), gen)
    return _normal(shape, 0.0, 0.1, gen)


def randomize_state_dict(state_dict: Dict[str, torch.Tensor], seed: int = 0) -> Dict[str, torch.Tensor]:
    """Returns a copy with non-trivial random values suitable for exactness tests: conv/linear weights ~ N(0, s) with s chosen so activations stay O(1) (e.g. 1/sqrt(fan_in)), biases small random, BatchNorm weight ~ U(0.5,1.5), bias ~ N(0,0.1), running_mean ~ N(0,0.1), running_var ~ U(0.5,1.5); LayerNorm weights similar; layer-scale gammas (keys ending in gamma_1/gamma_2/gamma) ~ U(0.5, 1.5) (NOT 1e-5, so that the mixer branches matter); A_log ~ log(U(0.5, 8)); D ~ N(1, 0.3); dt_proj.bias ~ N(-2, 0.5) ; num_batches_tracked untouched. Deterministic for a given seed (use a torch.Generator), keeps each tensor's dtype and shape.

    Each entry is drawn from its own generator seeded by ``seed`` and the key
    name, so a key's value does not depend on which other keys are present.
    Non-floating-point tensors (e.g. ``num_batches_tracked``) are cloned as is.
    """
    out = {}
    for key, tensor in state_dict.items():
        if key.endswith('num_batches_tracked') or not tensor.is_floating_point():
            out[key] = tensor.clone()
            continue
        value = _random_value(key, tensor, _key_generator(seed, key))
        out[key] = value.to(dtype=tensor.dtype, device=tensor.device)
    return out


def make_state_dict(dim: int, in_dim: int, depths: Sequence[int], num_heads: Sequence[int],
                    layer_scale: bool, dtype: torch.dtype = torch.float32) -> Dict[str, torch.Tensor]:
    """Builds a backbone state dict with every key and shape of a MambaVision variant.

    Values follow the from-scratch initialisation (linear/conv weights ~ N(0, 0.02)
    from a fixed generator, norms 1/0, BN stats 0/1, A_log = log(1..N), D = 1, gammas
    1e-5); pass the result through :func:`randomize_state_dict` for exactness tests.
    Includes ``outnorm{i}`` and no ``norm.`` / ``head.`` keys.

    Args:
        dim: width of level 0.
        in_dim: width of the first stem conv.
        depths: blocks per level.
        num_heads: attention heads per level (checked to divide the width).
        layer_scale: whether hybrid blocks carry ``gamma_1`` / ``gamma_2``.
        dtype: floating dtype of the parameters and buffers.

    Returns:
        An ordered dict of tensors keyed as in the official checkpoints.
    """
    gen = torch.Generator().manual_seed(0)
    sd: Dict[str, Tensor] = {}

    def weight(key: str, *shape: int) -> None:
        sd[key] = (0.02 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)

    def const(key: str, value: float, *shape: int) -> None:
        sd[key] = torch.full(shape, value, dtype=dtype)

    def batch_norm(prefix: str, c: int) -> None:
        const(prefix + '.weight', 1.0, c)
        const(prefix + '.bias', 0.0, c)
        const(prefix + '.running_mean', 0.0, c)
        const(prefix + '.running_var', 1.0, c)
        sd[prefix + '.num_batches_tracked'] = torch.tensor(0, dtype=torch.long)

    def layer_norm(prefix: str, c: int) -> None:
        const(prefix + '.weight', 1.0, c)
        const(prefix + '.bias', 0.0, c)

    weight('patch_embed.conv_down.0.weight', in_dim, 3, 3, 3)
    batch_norm('patch_embed.conv_down.1', in_dim)
    weight('patch_embed.conv_down.3.weight', dim, in_dim, 3, 3)
    batch_norm('patch_embed.conv_down.4', dim)

    for level, depth in enumerate(depths):
        c = dim * 2 ** level
        assert c % num_heads[level] == 0, (c, num_heads[level])
        for j in range(depth):
            p = f'levels.{level}.blocks.{j}'
            if level < 2:
                for conv, norm in (('conv1', 'norm1'), ('conv2', 'norm2')):
                    weight(f'{p}.{conv}.weight', c, c, 3, 3)
                    const(f'{p}.{conv}.bias', 0.0, c)
                    batch_norm(f'{p}.{norm}', c)
                continue
            layer_norm(p + '.norm1', c)
            if j in _attention_indices(depth):
                weight(p + '.mixer.qkv.weight', 3 * c, c)
                const(p + '.mixer.qkv.bias', 0.0, 3 * c)
                weight(p + '.mixer.proj.weight', c, c)
                const(p + '.mixer.proj.bias', 0.0, c)
            else:
                half = c // 2
                dt_rank = math.ceil(c / 16)
                sd[p + '.mixer.A_log'] = torch.log(
                    torch.arange(1, D_STATE + 1, dtype=torch.float64)).repeat(half, 1).to(dtype)
                const(p + '.mixer.D', 1.0, half)
                weight(p + '.mixer.in_proj.weight', c, c)
                weight(p + '.mixer.conv1d_x.weight', half, 1, 3)
                weight(p + '.mixer.conv1d_z.weight', half, 1, 3)
                weight(p + '.mixer.x_proj.weight', dt_rank + 2 * D_STATE, half)
                weight(p + '.mixer.dt_proj.weight', half, dt_rank)
                const(p + '.mixer.dt_proj.bias', 0.0, half)
                weight(p + '.mixer.out_proj.weight', c, c)
            if layer_scale:
                const(p + '.gamma_1', 1e-5, c)
                const(p + '.gamma_2', 1e-5, c)
            layer_norm(p + '.norm2', c)
            weight(p + '.mlp.fc1.weight', 4 * c, c)
            const(p + '.mlp.fc1.bias', 0.0, 4 * c)
            weight(p + '.mlp.fc2.weight', c, 4 * c)
            const(p + '.mlp.fc2.bias', 0.0, c)
        if level < 3:
            weight(f'levels.{level}.downsample.reduction.0.weight', 2 * c, c, 3, 3)

    for i in range(len(depths)):
        layer_norm(f'outnorm{i}', dim * 2 ** i)
    return sd
