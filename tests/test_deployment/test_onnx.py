"""ONNX export (compact scan, dynamic shapes) and torch.export of MambaVision, checked against PyTorch."""
import pytest
import torch
from torch import Tensor, nn

from mmvision_mamba import testing
from mmvision_mamba.deployment import (count_nodes, export_onnx, export_program, newest_opset, onnx_translations,
                                       run_onnxruntime)
from mmvision_mamba.models.backbones.mambavision import MambaVision
from mmvision_mamba.ops.cpu_kernel import CHUNK_LEN, kernel_available
from mmvision_mamba.ops.selective_scan_ref import selective_scan_ref
from mmvision_mamba.utils.tensor_error import max_errors

pytest.importorskip('onnxscript')
pytest.importorskip('onnxruntime')

TINY = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))
#: one export at the first size, run at all three (batch, H, W not multiples of 32, several windows per map)
SIZES = [(2, 96, 128), (1, 100, 70), (3, 250, 161)]


class ScanOp(nn.Module):
    """The custom op as the mixer calls it (3-D B), with grouped (4-D) C, z and every optional input."""

    def __init__(self, dim: int = 6, n: int = 4):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.A = nn.Parameter(-torch.rand(dim, n, generator=g) - 0.5)
        self.D = nn.Parameter(torch.randn(dim, generator=g))
        self.bias = nn.Parameter(torch.randn(dim, generator=g))

    def forward(self, u: Tensor, delta: Tensor, B: Tensor, C: Tensor, z: Tensor):
        return torch.ops.mmvision_mamba.selective_scan_fwd(u, delta, self.A, B, C, self.D, z, self.bias, True)


def scan_inputs(length: int, batch: int = 2, dim: int = 6, n: int = 4, groups: int = 2) -> tuple:
    """(u, delta, B, C, z) of one scan: B (batch, n, L), C in `groups` groups; A, D and the bias are the op's."""
    x = testing.scan_inputs(batch, dim, n, length, dtype=torch.float32, c_groups=groups, delta_shift=2.0,
                            seed=length)
    return tuple(x[k] for k in ('u', 'delta', 'B', 'C', 'z'))


def reference_checkpoints(model: ScanOp, x: tuple) -> Tensor:
    """The state before every CHUNK_LEN-th step, (batch, dim, chunks, N), from the reference scan of prefixes."""
    u, delta, B, C, z = x
    states = []
    for c in range(-(-u.shape[-1] // CHUNK_LEN)):
        t = c * CHUNK_LEN
        states.append(selective_scan_ref(u[..., :t], delta[..., :t], model.A, B[..., :t], C[..., :t], model.D,
                                         z[..., :t], model.bias, True, True)[1].detach())
    return torch.stack(states, dim=2)


def test_scan_lowers_to_one_scan_independent_of_length(tmp_path):
    model = ScanOp().eval()
    counts = []
    for length in (1, 2, 17, 150):
        path = str(tmp_path / f'scan_{length}.onnx')
        x = scan_inputs(length)
        torch.onnx.export(model, x, path, dynamo=True, custom_translation_table=onnx_translations(),
                          output_names=['out', 'last', 'checkpoints'], optimize=False)
        nodes = count_nodes(path)
        counts.append({k: v for k, v in nodes.items()})
        assert nodes['Scan'] == 1 and nodes['subgraphs'] == 3 and nodes['total'] < 60, nodes

        out, last, checkpoints = run_onnxruntime(path, x)
        u, delta, B, C, z = x
        ref, ref_last = selective_scan_ref(u, delta, model.A, B, C, model.D, z, model.bias, True, True)
        assert max_errors([ref.detach(), ref_last.detach()], [out, last])[1] <= 1e-5
        torch.testing.assert_close(checkpoints, reference_checkpoints(model, x), rtol=1e-5, atol=1e-5)
    assert all(c == counts[0] for c in counts)  # the graph does not grow with the sequence length


@pytest.mark.parametrize('windows,depths,mode', [
    ((8, 8, 14, 7), (1, 1, 2, 2), 'official'),
    # level 2/3 maps are padded to one 112x56 / 56x56 window: Mamba blocks only, attention over 6272 tokens is slow
    pytest.param((8, 8, 112, 56), (1, 1, 1, 1), 'official', marks=pytest.mark.e2e),
    # windows clipped to the map in one dimension, padded in the other, depending on the size
    ((8, 8, 6, 4), (1, 1, 2, 2), 'fit')], ids=['classification', 'detection', 'fit'])
def test_backbone_dynamic_onnx_matches_pytorch(tmp_path, windows, depths, mode):
    model = MambaVision(arch=dict(TINY, depths=depths), window_size=windows, window_mode=mode).eval()
    path = export_onnx(model, torch.randn(SIZES[0][0], 3, *SIZES[0][1:]), str(tmp_path / 'backbone.onnx'))
    nodes = count_nodes(path)
    assert nodes['Scan'] == sum(depths[2:]) - sum(len(range(d // 2 + d % 2, d)) for d in depths[2:])
    for batch, h, w in SIZES:
        x = torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(h))
        with torch.no_grad():
            ref = model(x)
        outs = run_onnxruntime(path, x)
        assert [o.shape for o in outs] == [r.shape for r in ref]
        assert max_errors(ref, outs)[1] <= 1e-4, (batch, h, w)


def test_opset23_writes_fused_attention_and_matches(tmp_path):
    """At opset 23 the exporter writes attention as one ONNX Attention op and GELU as Gelu; still exact."""
    model = MambaVision(arch=TINY).eval()
    path = export_onnx(model, torch.randn(1, 3, 96, 128), str(tmp_path / 'opset23.onnx'), opset_version=23)
    nodes = count_nodes(path)
    assert nodes.get('Attention') == 2 and nodes.get('Gelu', 0) > 0 and nodes.get('Erf', 0) == 0, nodes
    for batch, h, w in SIZES[1:]:
        x = torch.randn(batch, 3, h, w)
        with torch.no_grad():
            assert max_errors(model(x), run_onnxruntime(path, x))[1] <= 1e-4, (batch, h, w)


def test_torch_export_dynamic_height_width():
    model = MambaVision(arch=TINY).eval()
    program = export_program(model, torch.randn(2, 3, 96, 128))
    for batch, h, w in SIZES:
        x = torch.randn(batch, 3, h, w)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x))


def test_export_arguments_are_checked(tmp_path):
    model = MambaVision(arch=TINY).eval()
    with pytest.raises(ValueError, match='at least 64'):
        export_onnx(model, torch.randn(1, 3, 48, 96), str(tmp_path / 'small.onnx'))
    for opset in (13, newest_opset() + 1):  # past torch's exporter, the file would not load
        with pytest.raises(ValueError, match='choose an opset from 18 to'):
            export_onnx(model, torch.randn(1, 3, 96, 96), str(tmp_path / 'opset.onnx'), opset_version=opset)
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        export_program(model, torch.randn(3, 96, 96))


@pytest.mark.e2e
def test_export_without_kernel_keeps_the_compact_scan(tmp_path, monkeypatch):
    """Where the CPU kernel cannot be built, export still goes through the op (its fake kernel) and the Scan."""
    import mmvision_mamba.ops.selective_scan_cpu as scan_cpu

    monkeypatch.setattr(scan_cpu, 'kernel_available', lambda: False)
    model = MambaVision(arch=dict(TINY, depths=(1, 1, 1, 1))).eval()
    path = export_onnx(model, torch.randn(1, 3, 64, 64), str(tmp_path / 'nokernel.onnx'), dynamic=False)
    assert count_nodes(path)['Scan'] == 2


def test_onnx_checkpoints_have_the_kernels_layout():
    """The kernel's checkpoints equal the reference prefix states that the ONNX lowering is checked against."""
    if not kernel_available():
        pytest.skip('CPU kernel not built')
    model = ScanOp().eval()
    x = scan_inputs(40)
    with torch.no_grad():
        checkpoints = model(*x)[2]
    torch.testing.assert_close(checkpoints, reference_checkpoints(model, x), rtol=1e-5, atol=1e-5)
