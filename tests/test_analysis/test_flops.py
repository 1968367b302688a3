"""FLOP counting: the paper's figures, and the full count against a hand count of one block."""
import math

import pytest
import torch

from mmvision_mamba.analysis import MambaVisionFlopAnalyzer, count_flops, count_paper_flops, flops_table
from mmvision_mamba.analysis import flops as flops_module
from mmvision_mamba.models import MambaVision, MambaVisionClassifier
from mmvision_mamba.models.layers import HybridBlock

#: the paper's GFLOPs (ptflops MACs at 224 px) and parameters (M, with the 1000-class head)
PAPER = {'tiny': (4.4, 31.8), 'small': (7.5, 50.1), 'base': (15.0, 97.7)}


@pytest.mark.parametrize('arch', sorted(PAPER))
def test_paper_count_reproduces_the_paper(arch: str) -> None:
    model = MambaVisionClassifier(arch).to('meta')
    gflops = count_paper_flops(model, torch.empty(1, 3, 224, 224, device='meta')) / 1e9
    params = sum(p.numel() for p in model.parameters()) / 1e6
    paper_gflops, paper_params = PAPER[arch]
    assert abs(gflops / paper_gflops - 1) < 0.03, (arch, gflops)
    assert abs(params / paper_params - 1) < 0.003, (arch, params)


def mamba_block_flops(b: int, l: int, c: int, n: int = 8) -> dict:
    """Hand count (MACs) of a HybridBlock with the Mamba mixer on (b, l, c) tokens."""
    half, rank = c // 2, math.ceil(c / 16)
    return {
        'layer_norm': 2 * b * l * c * 5,                          # norm1, norm2: 5 per element with affine
        'linear': b * l * (c * c                                   # in_proj
                           + half * (rank + 2 * n)                 # x_proj
                           + rank * half                           # dt_proj
                           + c * c                                 # out_proj
                           + 2 * c * 4 * c),                       # fc1, fc2
        'conv': 2 * b * half * l * 3,                              # conv1d_x, conv1d_z (depthwise, width 3)
        'selective_scan': b * half * l * (5 * n + 4),              # 5 per state, delta*u, bias, softplus, D
    }


def attention_block_flops(b: int, l: int, c: int) -> dict:
    """Hand count (MACs) of a HybridBlock with attention on (b, l, c) tokens."""
    return {'layer_norm': 2 * b * l * c * 5,
            'linear': b * l * (3 * c * c + c * c + 2 * c * 4 * c),  # qkv, proj, fc1, fc2
            'attention': 2 * b * l * l * c}                          # q k^T and attn v over all heads


@pytest.mark.parametrize('attention', [False, True])
def test_full_count_of_one_block_matches_hand_count(attention: bool) -> None:
    b, l, c = 2, 16, 32
    block = HybridBlock(c, num_heads=2, attention=attention)
    result = count_flops(block, torch.randn(b, l, c))
    expected = attention_block_flops(b, l, c) if attention else mamba_block_flops(b, l, c)
    assert result['by_operator'] == expected
    assert result['flops'] == sum(expected.values())
    assert result['unsupported_ops'] == {}


def test_reference_scan_is_counted_as_one_op(monkeypatch) -> None:
    """Where the scan runs on the reference (no compiled kernel), the count is the same."""
    block = HybridBlock(32, num_heads=2, attention=False)
    x = torch.randn(2, 16, 32)
    monkeypatch.setattr(flops_module, 'available_backends', lambda u=None: ['reference'])
    analyzer = MambaVisionFlopAnalyzer(block, (x,))
    assert analyzer.by_operator()['selective_scan'] == mamba_block_flops(2, 16, 32)['selective_scan']
    assert not analyzer.unsupported_ops()
    assert analyzer.uncalled_modules() == {'drop_path'}  # an nn.Identity; the 1-D convs count as called
    with torch.no_grad():  # the patch is undone: the block runs the dispatcher again
        assert torch.allclose(block(x), block(x))


def test_backbone_breakdown_sums_to_total() -> None:
    arch = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2), window_size=(4, 4, 4, 2))
    result = count_flops(MambaVision(arch), torch.randn(1, 3, 64, 48))
    groups = result['groups']
    assert list(groups) == ['patch_embed', 'levels.0', 'levels.1', 'levels.2', 'levels.3',
                            'outnorm0', 'outnorm1', 'outnorm2', 'outnorm3']
    assert sum(g['flops'] for g in groups.values()) == result['flops']
    assert sum(g['paper_flops'] for g in groups.values()) == result['paper_flops']
    assert groups['levels.2']['flops'] > groups['levels.2']['paper_flops']  # the scan and attention
    assert 'levels.3' in flops_table(result)


def test_unknown_group_is_named() -> None:
    with pytest.raises(KeyError, match='No module named'):
        count_flops(HybridBlock(32, 2, False), torch.randn(1, 4, 32), groups=['neck'])


def test_scan_formula_follows_the_optional_inputs() -> None:
    """No delta_bias, softplus or D, but a gate z: b * d * l * (5 N + 1 + 2)."""
    class Scan(torch.nn.Module):
        def forward(self, u, delta, a, b, c, z):
            return flops_module.selective_scan_ref_fwd(u, delta, a, b, c, None, z, None, False)

    b, d, n, l = 2, 6, 4, 5
    u, delta, z = (torch.randn(b, d, l) for _ in range(3))
    a, bc = -torch.rand(d, n), torch.randn(b, n, l)
    result = count_flops(Scan(), (u, delta, a, bc, bc, z))
    assert result['by_operator'] == {'selective_scan': b * d * l * (5 * n + 3)}
