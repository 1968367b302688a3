"""Times every selective-scan backend that runs on CPU against the reference, at MambaVision-T's stage-3 shape.

Forward and forward+backward, fp32, B/C of shape (batch, N, L), D, delta_bias and softplus (as the model
calls it). Each backend runs in blocks of consecutive calls (warm caches, as in a timing loop); the blocks
of all backends alternate, so that load elsewhere on the machine affects them alike. Reports medians.

    python tools/bench_scan_cpu.py [--threads 2] [--rounds 5] [--calls 20]
"""
import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch

from mmvision_mamba.ops import available_backends, selective_scan

SHAPES = [(8, 160, 196), (1, 160, 196)]  # (batch, dim, L) of MambaVision-T stage 3 at 224 px
N_STATE = 8


def make_inputs(batch: int, dim: int, length: int, n_state: int = N_STATE) -> Dict[str, torch.Tensor]:
    """Inputs in the model's ranges, fp32, all requiring grad."""
    g = torch.Generator().manual_seed(0)
    x = dict(u=torch.randn(batch, dim, length, generator=g),
             delta=torch.randn(batch, dim, length, generator=g) - 3.0,
             A=-torch.exp(torch.randn(dim, n_state, generator=g)),
             B=torch.randn(batch, n_state, length, generator=g),
             C=torch.randn(batch, n_state, length, generator=g),
             D=torch.randn(dim, generator=g),
             delta_bias=torch.randn(dim, generator=g) * 0.5)
    return {k: v.requires_grad_() for k, v in x.items()}


def step_fns(backend: str, x: Dict[str, torch.Tensor]) -> Tuple[Callable[[], object], Callable[[], object]]:
    """(forward, forward+backward) of one backend on inputs x."""
    leaves = list(x.values())
    dout = torch.randn_like(x['u'])

    def forward() -> object:
        with torch.no_grad():
            return selective_scan(**x, delta_softplus=True, backend=backend)

    def forward_backward() -> object:
        out = selective_scan(**x, delta_softplus=True, backend=backend)
        return torch.autograd.grad(out, leaves, dout)

    return forward, forward_backward


def median_times_ms(fns: Dict[str, Callable[[], object]], rounds: int, calls: int, warmup: int = 3
                    ) -> Dict[str, float]:
    """Median wall time of each fn: `rounds` rounds, each a block of `calls` timed calls per fn."""
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(warmup):
                fn()
            for _ in range(calls):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--calls', type=int, default=20, help='timed calls per block')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    for batch, dim, length in SHAPES:
        x = make_inputs(batch, dim, length)
        backends = available_backends(x['u'])
        fns = {b: step_fns(b, x) for b in backends}
        fwd = median_times_ms({b: f[0] for b, f in fns.items()}, args.rounds, args.calls)
        fwd_bwd = median_times_ms({b: f[1] for b, f in fns.items()}, args.rounds, args.calls)
        print(f'u ({batch}, {dim}, {length}), N={N_STATE}, fp32, {args.threads} threads, '
              f'median of {args.rounds} x {args.calls} calls:')
        print(f'  {"backend":<12}{"fwd ms":>10}{"x ref":>8}{"fwd+bwd ms":>13}{"x ref":>8}')
        for b in backends:
            print(f'  {b:<12}{fwd[b]:>10.3f}{fwd["reference"] / fwd[b]:>8.1f}'
                  f'{fwd_bwd[b]:>13.3f}{fwd_bwd["reference"] / fwd_bwd[b]:>8.1f}')


if __name__ == '__main__':
    main()
