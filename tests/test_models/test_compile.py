"""torch.compile of the whole backbone: one graph (no break), same outputs and gradients.

The backbone goes through AOTAutograd without code generation (`aot_eager`); inductor's generated code around the
scan op is tested on the op (tests/test_ops/test_selective_scan_cpu.py), where it compiles in seconds."""
import torch

from mmvision_mamba.models import MambaVision
from mmvision_mamba.ops import available_backends

SMALL = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4), window_size=(4, 4, 4, 2))


def test_compile_fullgraph_matches_eager() -> None:
    torch._dynamo.reset()
    model = MambaVision(SMALL).eval()
    x = torch.randn(1, 3, 48, 40)
    assert available_backends(x)[0] == 'cpu'
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model, fullgraph=True, backend='aot_eager')(x)
    for a, b in zip(eager, compiled):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_compile_fullgraph_training_gradients_match_eager() -> None:
    torch._dynamo.reset()
    model = MambaVision(SMALL).train()
    x = torch.randn(2, 3, 48, 40)
    grads = []
    for fn in (torch.compile(model, fullgraph=True, backend='aot_eager'), model):
        model.zero_grad()
        sum((o * o).mean() for o in fn(x)).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-4, atol=1e-5, msg=n)
