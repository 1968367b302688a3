"""FLOP counting for MambaVision models with mmengine's FlopAnalyzer, and the paper's conv + linear count.

mmengine traces the model and counts each op with a handle; out of the box it has none for the selective scan (a
custom op) and `aten::scaled_dot_product_attention`, so those are reported as unsupported and left out. The handles
here count them. Every count follows mmengine's convention: one multiply-accumulate (MAC) is one flop.
"""
import math
import typing
from collections import Counter, OrderedDict
from typing import Any, ContextManager, Dict, List, Optional, Sequence, Set, Tuple, Union

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.model import BaseDataPreprocessor
from torch import Tensor, nn

from mmvision_mamba.models.backbones.mambavision import MambaVision
from mmvision_mamba.models.layers import DropPath, MambaVisionMixer
from mmvision_mamba.ops import available_backends, register_backend, scan_backend, selective_scan, selective_scan_ref

#: the custom forward ops of the selective-scan backends; their first nine arguments are
#: (u, delta, A, B, C, D, z, delta_bias, delta_softplus)
SCAN_OPS = ('mmvision_mamba::selective_scan_fwd', 'mmvision_mamba::selective_scan_triton_fwd',
            'mmvision_mamba::selective_scan_mamba_fwd', 'mmvision_mamba::selective_scan_ref_fwd')
#: element-wise ops left uncounted, as mmengine (fvcore) does for activations and residual additions
ELEMENTWISE_OPS = ('aten::add', 'aten::add_', 'aten::sub', 'aten::mul', 'aten::mul_', 'aten::div',
                   'aten::neg', 'aten::exp', 'aten::silu', 'aten::gelu', 'aten::softplus', 'aten::sigmoid',
                   'aten::relu', 'aten::mean', 'aten::softmax', 'aten::rsub', 'aten::sqrt', 'aten::log2')
#: data movement and comparisons (no multiply-accumulate) that mmengine does not list as free yet
ZERO_FLOP_OPS = ('aten::pad', 'aten::feature_dropout', 'aten::repeat', 'aten::sort', 'aten::max_pool2d')
#: modules whose weights their parent uses functionally (so the trace never calls them); their flops are
#: counted in the parent (the mixer)
FUNCTIONAL_WEIGHT_MODULES = {MambaVisionMixer: ('conv1d_x', 'conv1d_z')}
#: modules that run no op in eval mode, so a trace never sees them called
NO_OP_IN_EVAL = (DropPath,)


def _is_none(value: Any) -> bool:
    return isinstance(value.type(), torch._C.NoneType)


def scan_flop_jit(inputs: List[Any], outputs: List[Any]) -> typing.Counter[str]:
    """Flops of one selective scan, u (b, d, l) and A (d, N), in multiply-accumulates.

    Per (b, d, l, n), N = d_state: delta * A (1), its exp (1), (delta * u) * B (1), the state update
    h = exp(delta A) h + delta B u (1 MAC) and the output y += C h (1 MAC): 5 flops.
    Per (b, d, l): delta * u (1), plus 1 each for the delta_bias addition, the softplus, the skip y += D u and,
    with a gate z, 2 for y * silu(z).

        flops = b * d * l * (5 N + 1 + [delta_bias] + [softplus] + [D] + 2 [z])

    MambaVision's mixer (bias, softplus, D, no z) costs b * d * l * (5 N + 4); with N = 8, 44 per element.
    """
    u, _, a, _, _, d_skip, z, delta_bias, softplus = inputs[:9]
    b, d, length = get_shape(u)
    n = get_shape(a)[-1]
    per_element = 1 + (not _is_none(delta_bias)) + bool(softplus.toIValue()) + (not _is_none(d_skip))
    per_element += 2 * (not _is_none(z))
    return Counter({'selective_scan': b * d * length * (5 * n + per_element)})


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> typing.Counter[str]:
    """Flops of `scaled_dot_product_attention(q, k, v)`: the two matrix products in MACs.

    q (..., L, E), k (..., S, E), v (..., S, Ev): prod(...) * L * S * (E + Ev), what mmengine counts for the
    unfused q @ k^T and attn @ v; the softmax and the scaling are element-wise and not counted.
    """
    q, k, v = (get_shape(t) for t in inputs[:3])
    return Counter({'attention': math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])})


def flop_handles() -> Dict[str, Any]:
    """The handles to add to an mmengine FlopAnalyzer: `FlopAnalyzer(model, x).set_op_handle(**flop_handles())`.

    The 1-D depthwise convs of the mixer are `aten::_convolution`, which mmengine counts already.
    """
    handles: Dict[str, Any] = {op: scan_flop_jit for op in SCAN_OPS}
    handles['aten::scaled_dot_product_attention'] = sdpa_flop_jit
    handles.update({op: None for op in ELEMENTWISE_OPS + ZERO_FLOP_OPS})
    return handles


@torch.library.custom_op('mmvision_mamba::selective_scan_ref_fwd', mutates_args=())
def selective_scan_ref_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
                           z: Optional[Tensor], delta_bias: Optional[Tensor], delta_softplus: bool) -> Tensor:
    """The reference scan as one opaque op, so that a trace holds one node per scan instead of L steps."""
    return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


@selective_scan_ref_fwd.register_fake
def _(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
      delta_bias: Optional[Tensor], delta_softplus: bool) -> Tensor:
    return torch.empty_like(u)


#: the scan backend that `scan_as_one_op` selects (forward only: never chosen by 'auto')
ONE_OP_BACKEND = 'flop_count'


def _scan_one_op(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor] = None,
                 z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None, delta_softplus: bool = False,
                 return_last_state: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """The scan 'auto' would run, except that the reference runs as the single op
    `mmvision_mamba::selective_scan_ref_fwd` (the kernels' ops are traced and counted as they are)."""
    if return_last_state or available_backends(u)[:1] != ['reference']:
        return selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, backend='auto')
    return selective_scan_ref_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


register_backend(ONE_OP_BACKEND, _scan_one_op, lambda u: True, auto=False)


def scan_as_one_op() -> ContextManager[None]:
    """Within this context, scans that would run on the reference (no compiled kernel for the device) run as the
    single op `mmvision_mamba::selective_scan_ref_fwd`, which the scan handle counts (the scan backend
    `ONE_OP_BACKEND`)."""
    return scan_backend(ONE_OP_BACKEND)


class MambaVisionFlopAnalyzer(FlopAnalyzer):
    """mmengine's FlopAnalyzer with the handles of `flop_handles()`, tracing the scan as one op, and no
    "never called" warning for modules whose weights their parent uses functionally (the mixer's 1-D convs,
    counted in the mixer), that run no op in eval (DropPath) or that run before the forward (an mmdet / mmseg
    data preprocessor)."""

    def __init__(self, model: nn.Module, inputs: Union[Tensor, Tuple[Any, ...]]):
        super().__init__(model, inputs)
        self.set_op_handle(**flop_handles())
        self._functional: Set[str] = {
            f'{name}.{child}' if name else child
            for name, module in model.named_modules()
            for cls, children in FUNCTIONAL_WEIGHT_MODULES.items() if isinstance(module, cls)
            for child in children}
        self._functional |= {name for name, module in model.named_modules() if isinstance(module, NO_OP_IN_EVAL)}
        # an mmdet / mmseg model's data preprocessor runs before the traced tensor-mode forward
        self._functional |= {name for name, module in model.named_modules()
                             if isinstance(module, BaseDataPreprocessor)}

    def _analyze(self):
        if self._stats is None:
            with scan_as_one_op():
                return super()._analyze()
        return self._stats

    def uncalled_modules(self) -> Set[str]:
        """Modules the trace never called, less those whose weights their parent applies (see class doc)."""
        return super().uncalled_modules() - self._functional

    def _warn_uncalled_mods(self, uncalled_mods: Set[str]) -> None:
        super()._warn_uncalled_mods(uncalled_mods - self._functional)


class PaperFlopCounter:
    """The paper's count (ptflops style): multiply-accumulates of nn.Conv{1,2}d and nn.Linear modules only.

    Counted with forward hooks, so convs and linears applied functionally (the mixer's 1-D convs, attention's
    matrix products, the scan) are left out as ptflops leaves them out. A conv costs out_elements *
    (in_channels / groups) * kernel_size (+ out_elements with a bias); a linear in_elements * out_features
    (+ out_features with a bias), as in ptflops.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.counts: typing.Counter[str] = Counter()
        self._handles: list = []

    def _hook(self, name: str):
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            if isinstance(module, nn.Linear):
                flops = int(args[0].numel()) * module.out_features + (module.out_features if module.bias is not None
                                                                   else 0)
            else:
                per_position = module.in_channels // module.groups * math.prod(module.kernel_size)
                flops = int(output.numel()) * per_position + (int(output.numel()) if module.bias is not None else 0)
            self.counts[name] += flops
        return hook

    def __enter__(self) -> 'PaperFlopCounter':
        self.counts.clear()
        for name, module in self.model.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def total(self, prefix: str = '') -> int:
        """Flops of the modules under `prefix` ('' for all)."""
        return sum(v for k, v in self.counts.items() if not prefix or k == prefix or k.startswith(prefix + '.'))


def breakdown_groups(model: nn.Module) -> List[str]:
    """Names of the parts a count is broken down into: the top-level children, with a MambaVision (the model
    itself or a child, e.g. `backbone`) split into its stem, each level (with the downsample that follows it)
    and its output norms."""
    groups = []
    for name, child in [('', model)] if isinstance(model, MambaVision) else model.named_children():
        if isinstance(child, BaseDataPreprocessor):  # runs before the forward that is counted
            continue
        if isinstance(child, MambaVision):
            prefix = f'{name}.' if name else ''
            groups += [f'{prefix}patch_embed'] + [f'{prefix}levels.{i}' for i in range(len(child.levels))]
            groups += [f'{prefix}{n}' for n, m in child.named_children()
                       if n.startswith('outnorm') and not isinstance(m, nn.Identity)]
        else:
            groups.append(name)
    return groups


def count_paper_flops(model: nn.Module, inputs: Union[Tensor, Tuple[Any, ...]]) -> int:
    """The paper's count (`PaperFlopCounter`) of `model(*inputs)` alone: one forward, no trace, so it also runs
    on the meta device (`model.to('meta')` and meta inputs count in moments, without computing anything)."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    was_training = model.training
    try:
        with torch.no_grad(), scan_as_one_op(), PaperFlopCounter(model.eval()) as paper:
            model(*inputs)
    finally:
        model.train(was_training)
    return paper.total()


def count_flops(model: nn.Module, inputs: Union[Tensor, Tuple[Any, ...]],
                groups: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Counts the flops (MACs) and parameters of `model(*inputs)`, in eval mode and without gradients.

    Args:
        model: any module whose forward takes tensors (e.g. MambaVision, MambaVisionClassifier, or an mmdet/mmseg
            model with its data samples bound, see tools/analysis_tools/get_flops.py).
        inputs: a tensor, e.g. (1, 3, H, W), or a tuple of forward arguments.
        groups: module names to break the count down into; default `breakdown_groups(model)`.

    Returns:
        dict with 'flops' (full count: every conv and linear, the attention products, the selective scans,
        norms; see `flop_handles`), 'paper_flops' (conv + linear modules only, see `PaperFlopCounter`),
        'params', 'by_operator' (full count per op type), 'unsupported_ops' (ops traced but not counted) and
        'groups': an ordered name -> dict(flops, paper_flops, params) breakdown, with '(rest)' for what the
        model runs outside the groups, if anything.
    """
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    groups = breakdown_groups(model) if groups is None else list(groups)
    named = dict(model.named_modules())
    unknown = [g for g in groups if g not in named]
    if unknown:
        raise KeyError(f'No module named {unknown} in {type(model).__name__}; choose from its named_modules().')
    was_training = model.training
    model.eval()
    try:
        analyzer = MambaVisionFlopAnalyzer(model, inputs)
        with torch.no_grad(), PaperFlopCounter(model) as paper:
            by_module = analyzer.by_module()
        by_operator = analyzer.by_operator()
        unsupported = analyzer.unsupported_ops()
    finally:
        model.train(was_training)
    result: Dict[str, Any] = OrderedDict(
        flops=by_module[''], paper_flops=paper.total(), params=sum(p.numel() for p in model.parameters()),
        by_operator=dict(by_operator), unsupported_ops=dict(unsupported), groups=OrderedDict())
    for name in groups:
        result['groups'][name] = dict(flops=by_module[analyzer.canonical_module_name(name)],
                                      paper_flops=paper.total(name),
                                      params=sum(p.numel() for p in named[name].parameters()))
    rest = {key: result[key] - sum(g[key] for g in result['groups'].values())
            for key in ('flops', 'paper_flops', 'params')}
    if any(rest.values()):  # ops of the model's own forward (e.g. a resize), outside the groups
        result['groups']['(rest)'] = rest
    return result


def format_count(n: float, unit: str = 'G') -> str:
    """1.234e9 -> '1.23 G' (units G, M or K)."""
    scale = {'G': 1e9, 'M': 1e6, 'K': 1e3}[unit]
    return f'{n / scale:.2f} {unit}'


def flops_table(result: Dict[str, Any]) -> str:
    """A plain-text table of `count_flops`'s result: one row per group and the total."""
    rows = [('part', 'flops (full)', 'flops (paper)', 'params')]
    for name, g in result['groups'].items():
        rows.append((name, format_count(g['flops']), format_count(g['paper_flops']),
                     format_count(g['params'], 'M')))
    rows.append(('total', format_count(result['flops']), format_count(result['paper_flops']),
                 format_count(result['params'], 'M')))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, '-' * len(lines[0]))
    lines.insert(len(lines) - 1, '-' * len(lines[0]))
    return '\n'.join(lines)
