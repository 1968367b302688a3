"""The mixer's depthwise conv + SiLU: the causal-conv1d route (shifted input, cropped output) equals 'same'."""
import pytest
import torch
import torch.nn.functional as F

from mmvision_mamba.ops import depthwise_conv


def causal_conv1d_standin(x, weight, bias=None, seq_idx=None, initial_states=None, return_final_states=False,
                          final_states_out=None, activation=None):
    """Pure-PyTorch causal_conv1d_fn: left padding k - 1, the first L outputs, optional SiLU."""
    width = weight.shape[-1]
    y = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., :x.shape[-1]]
    return F.silu(y) if activation in ('silu', 'swish') else y


def same_route(x, weight):
    return F.silu(F.conv1d(x, weight, padding=weight.shape[-1] // 2, groups=x.shape[1]))


@pytest.fixture
def causal_everywhere(monkeypatch):
    """The causal-conv1d route on CPU: the stand-in kernel, and the dispatch taking it for any tensor."""
    monkeypatch.setattr(depthwise_conv, '_causal_conv1d_fn', causal_conv1d_standin)
    monkeypatch.setattr(depthwise_conv, '_use_causal_kernel', lambda x, width: width % 2 == 1)


@pytest.mark.parametrize('width', [1, 3, 5])
@pytest.mark.parametrize('length', [1, 2, 7, 49])
def test_causal_route_equals_same(causal_everywhere, width: int, length: int) -> None:
    """Outputs and gradients of x and weight, float64, to rounding."""
    g = torch.Generator().manual_seed(width * 100 + length)
    x0 = torch.randn(3, 6, length, generator=g, dtype=torch.float64)
    w0 = torch.randn(6, 1, width, generator=g, dtype=torch.float64)
    dy = torch.randn(3, 6, length, generator=g, dtype=torch.float64)
    results = []
    for fn in (depthwise_conv.same_conv1d_silu, same_route):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        y = fn(x, w)
        y.backward(dy)
        results.append((y.detach(), x.grad, w.grad))
    for a, e in zip(*results):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-12)


def test_causal_route_with_strided_input(causal_everywhere) -> None:
    """The mixer passes a channel-strided view (a transposed, chunked projection)."""
    proj = torch.randn(2, 11, 16)  # (B, L, C)
    x, _ = proj.transpose(1, 2).chunk(2, dim=1)
    assert not x.is_contiguous()
    w = torch.randn(8, 1, 3)
    torch.testing.assert_close(depthwise_conv.same_conv1d_silu(x, w), same_route(x, w), rtol=1e-6, atol=1e-6)


def test_causal_route_is_taken(monkeypatch) -> None:
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs.get('activation'))
        return causal_conv1d_standin(*args, **kwargs)

    monkeypatch.setattr(depthwise_conv, '_causal_conv1d_fn', spy)
    monkeypatch.setattr(depthwise_conv, '_use_causal_kernel', lambda x, width: True)
    depthwise_conv.same_conv1d_silu(torch.randn(1, 4, 5), torch.randn(4, 1, 3))
    assert calls == ['silu']


def test_pytorch_path_on_cpu() -> None:
    """Without CUDA (or without causal-conv1d) it is exactly the module's conv + SiLU."""
    x, w = torch.randn(2, 4, 9), torch.randn(4, 1, 3)
    assert not depthwise_conv._use_causal_kernel(x, 3)
    conv = torch.nn.Conv1d(4, 4, 3, padding=1, groups=4, bias=False)
    conv.weight.data.copy_(w)
    torch.testing.assert_close(depthwise_conv.same_conv1d_silu(x, w), F.silu(conv(x)), rtol=0, atol=0)


def test_mixer_uses_it(monkeypatch) -> None:
    from mmvision_mamba.models.layers import MambaVisionMixer

    mixer = MambaVisionMixer(16).eval()
    x = torch.randn(2, 10, 16)
    expected = mixer(x)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return causal_conv1d_standin(*args, **kwargs)

    monkeypatch.setattr(depthwise_conv, '_causal_conv1d_fn', spy)
    monkeypatch.setattr(depthwise_conv, '_use_causal_kernel', lambda x, width: True)
    torch.testing.assert_close(mixer(x), expected, rtol=1e-5, atol=1e-6)
    assert calls == [(2, 8, 11), (2, 8, 11)]  # conv1d_x and conv1d_z, on the input padded by one step
