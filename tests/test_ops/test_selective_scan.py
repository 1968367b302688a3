"""The reference scan and the dispatch point."""
import functools

import pytest
import torch
import torch.nn.functional as F

from mmvision_mamba.ops import available_backends, selective_scan, selective_scan_ref
from mmvision_mamba.ops.selective_scan import resolve_backend
from mmvision_mamba.testing.scan_inputs import scan_inputs


def naive_scan(u, delta, A, B, C, D, z, delta_bias):
    """Per-channel, per-state scalar loops straight from the recurrence (fp64)."""
    batch, dim, length = u.shape
    n_state = A.shape[1]
    out = torch.zeros_like(u)
    last = torch.zeros(batch, dim, n_state, dtype=u.dtype)
    for b in range(batch):
        for d in range(dim):
            h = [0.0] * n_state
            for t in range(length):
                dt = float(delta[b, d, t] + delta_bias[d])
                dt = dt if dt > 20 else float(torch.log1p(torch.exp(torch.tensor(dt, dtype=torch.float64))))
                y = 0.0
                for n in range(n_state):
                    h[n] = float(torch.exp(torch.tensor(dt * float(A[d, n]), dtype=torch.float64))) * h[n] \
                        + dt * float(B[b, n, t]) * float(u[b, d, t])
                    y += float(C[b, n, t]) * h[n]
                y += float(D[d]) * float(u[b, d, t])
                zz = float(z[b, d, t])
                out[b, d, t] = y * zz / (1 + torch.exp(torch.tensor(-zz, dtype=torch.float64)))
            last[b, d] = torch.tensor(h, dtype=u.dtype)
    return out, last


#: small float64 problems (the scalar loops above are slow)
make_inputs = functools.partial(scan_inputs, batch=2, dim=3, n_state=4, length=5, seed=1)


def test_reference_matches_scalar_loops() -> None:
    x = make_inputs()
    y, last = selective_scan_ref(**x, delta_softplus=True, return_last_state=True)
    y_naive, last_naive = naive_scan(**x)
    torch.testing.assert_close(y, y_naive, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(last, last_naive, rtol=1e-12, atol=1e-12)


def test_grouped_bc_equals_expanded() -> None:
    x = make_inputs(dim=4, groups=2)
    grouped = selective_scan_ref(**x, delta_softplus=True)
    outs = []
    for gi in range(2):
        part = dict(x, u=x['u'][:, 2 * gi:2 * gi + 2], delta=x['delta'][:, 2 * gi:2 * gi + 2],
                    A=x['A'][2 * gi:2 * gi + 2], B=x['B'][:, gi], C=x['C'][:, gi], D=x['D'][2 * gi:2 * gi + 2],
                    z=x['z'][:, 2 * gi:2 * gi + 2], delta_bias=x['delta_bias'][2 * gi:2 * gi + 2])
        outs.append(selective_scan_ref(**part, delta_softplus=True))
    torch.testing.assert_close(grouped, torch.cat(outs, 1), rtol=0, atol=0)


def test_optional_terms() -> None:
    x = make_inputs(positive_delta=True)  # no softplus below: delta > 0, as the model's
    plain = selective_scan_ref(x['u'], x['delta'], x['A'], x['B'], x['C'])
    with_d = selective_scan_ref(x['u'], x['delta'], x['A'], x['B'], x['C'], D=x['D'])
    torch.testing.assert_close(with_d - plain, x['u'] * x['D'][:, None])
    gated = selective_scan_ref(x['u'], x['delta'], x['A'], x['B'], x['C'], z=x['z'])
    torch.testing.assert_close(gated, plain * F.silu(x['z']))


def test_dtypes() -> None:
    x64 = make_inputs()
    assert selective_scan_ref(**x64).dtype == torch.float64
    x16 = {k: v.to(torch.bfloat16) for k, v in x64.items()}
    y16 = selective_scan_ref(**x16, delta_softplus=True)
    assert y16.dtype == torch.bfloat16 and torch.isfinite(y16).all()
    y32 = selective_scan_ref(**{k: v.float() for k, v in x16.items()}, delta_softplus=True)
    torch.testing.assert_close(y16.float(), y32, rtol=2e-2, atol=2e-2)


def test_gradcheck() -> None:
    x = {k: v.requires_grad_() for k, v in make_inputs(batch=1, dim=2, n_state=2, length=4).items()}
    assert torch.autograd.gradcheck(lambda *a: selective_scan_ref(*a, delta_softplus=True), tuple(x.values()))


def test_dispatch() -> None:
    x = make_inputs()
    assert 'reference' in available_backends(x['u'])
    torch.testing.assert_close(selective_scan(**x, backend='reference'), selective_scan_ref(**x))
    with pytest.raises(ValueError, match='Unknown selective-scan backend'):
        selective_scan(**x, backend='nope')
    assert resolve_backend(x['u'], 'auto') in available_backends(x['u'])
