"""Ahead-of-time compile check of the Triton selective-scan kernels for named GPU targets, without a GPU or driver.

The launches checked are those the backend makes: its `launch_fwd` and `launch_bwd` run on meta tensors laid out as
the caller passes them, with a launcher that records each launch instead of running it; the scan sizes come from
MambaVision's arch table. Triton's own launch-time
specialisation (argument dtypes, 16-byte aligned pointers, integers equal to 1 or divisible by 16, as the kernel
allows) turns a launch into a compile key; each distinct key is compiled once per target with `triton.compile`
(Triton ships the `ptxas` it needs).
The `-v` log of that ptxas gives registers, spills and stack per thread; Triton's metadata the shared memory per block.

A kernel passes on a target when it compiles, spills nothing, needs no stack (local memory), fits the card's shared
memory per block and its registers fit one block (as Triton checks when it loads a kernel). Numerics are not checked
here (tests/test_ops/test_selective_scan_triton.py runs the kernels in Triton's interpreter).
"""
import contextlib
import inspect
import io
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmvision_mamba.models.backbones import MambaVision
from mmvision_mamba.models.layers import MambaVisionMixer
from mmvision_mamba.ops import selective_scan_triton as scan_triton
from mmvision_mamba.testing.scan_inputs import mixer_x_proj_width, scan_inputs

triton = scan_triton.triton


@dataclass(frozen=True)
class GPUArch:
    """A compile target: `capability` as Triton's GPUTarget takes it (80 = sm_80) and the shared memory one block
    may use (cudaDevAttrMaxSharedMemoryPerBlockOptin, what Triton checks at load)."""
    name: str
    capability: int
    max_shared: int
    cards: str


TARGETS: Tuple[GPUArch, ...] = (
    GPUArch('sm_80', 80, 163 * 1024, 'A100, A30'),
    GPUArch('sm_86', 86, 99 * 1024, 'RTX 30xx, A10, A40'),
    GPUArch('sm_89', 89, 99 * 1024, 'RTX 40xx, L4, L40S'),
    GPUArch('sm_90', 90, 227 * 1024, 'H100, H200'),
    GPUArch('sm_100', 100, 227 * 1024, 'B200, GB200'),
)
#: 32-bit registers one block may hold (every target above)
REGS_PER_BLOCK = 65536

#: MambaVision's variants (upper-case aliases, e.g. 'T', 'L3') -> arch names of `MambaVision.arch_settings`
MAMBAVISION_ARCHS: Dict[str, str] = {alias.upper(): name for alias, name in MambaVision.arch_aliases.items()}
#: scan length = window area of levels 2 and 3, per setting: classification at 224 px (the arch table's windows: one
#: window per map; L3's 16 and 8 pad the 14x14 and 7x7 maps), and the windows of the detection configs (one padded
#: window per map at 1333x800) and the segmentation configs (512 px; L3 640 px), per variant ('*': the others)
CONFIG_WINDOWS: Dict[str, Dict[str, Tuple[int, int]]] = {
    'det': {'*': (112, 56)},
    'seg': {'*': (64, 32), 'S': (160, 56)},
}
SETTINGS = ('cls224',) + tuple(CONFIG_WINDOWS)
#: the mixer's state size N
D_STATE: int = inspect.signature(MambaVisionMixer).parameters['d_state'].default
#: the hybrid levels, whose mixers scan
SCAN_LEVELS = (2, 3)


def level_windows(variant: str, setting: str) -> Tuple[int, ...]:
    """The windows of levels 2 and 3 of MambaVision-`variant` (e.g. 'T') in an image `setting` (`SETTINGS`)."""
    if setting == 'cls224':
        return tuple(MambaVision.resolve_arch(MAMBAVISION_ARCHS[variant])['window_size'][level]
                     for level in SCAN_LEVELS)
    windows = CONFIG_WINDOWS[setting]
    return windows.get(variant, windows['*'])


#: dtype modes: (activations u, delta, B, C, z; parameters A, D, delta_bias). 'amp-*' is the mixer under autocast
#: (half activations, float32 parameters); 'fp16' / 'bf16' a model cast to half.
DTYPES: Dict[str, Tuple[torch.dtype, torch.dtype]] = {
    'fp32': (torch.float32, torch.float32),
    'fp16': (torch.float16, torch.float16),
    'bf16': (torch.bfloat16, torch.bfloat16),
    'amp-fp16': (torch.float16, torch.float32),
    'amp-bf16': (torch.bfloat16, torch.float32),
}


@dataclass(frozen=True)
class Variant:
    """Which optional inputs a call has, and the layout of its tensors: 'mixer' as MambaVisionMixer passes them
    (delta and dout transposed from (batch, L, dim), B and C slices of x_proj's (batch, L, dt_rank + 2N) output);
    'mixer-causal-conv' the same with u cropped from causal-conv1d's output (one step in: not 16-byte aligned);
    'contiguous' all (batch, dim, L) / (batch, N, L) contiguous."""
    D: bool
    z: bool
    delta_bias: bool
    softplus: bool
    last_state_grad: bool
    layout: str


VARIANTS: Dict[str, Variant] = {
    'mambavision': Variant(D=True, z=False, delta_bias=True, softplus=True, last_state_grad=False, layout='mixer'),
    'mambavision-cc': Variant(D=True, z=False, delta_bias=True, softplus=True, last_state_grad=False,
                              layout='mixer-causal-conv'),
    'all': Variant(D=True, z=True, delta_bias=True, softplus=True, last_state_grad=True, layout='contiguous'),
    'none': Variant(D=False, z=False, delta_bias=False, softplus=False, last_state_grad=False, layout='contiguous'),
}


#: what the full sweep compiles, (variant, dtypes): MambaVision's own call in the dtypes it runs in (float32 and
#: autocast; with causal-conv1d installed, under bf16 autocast), and direct calls with every optional input or none,
#: in each uniform dtype
SWEEP: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('mambavision', ('fp32', 'amp-fp16', 'amp-bf16')),
    ('mambavision-cc', ('amp-bf16',)),
    ('all', ('fp32', 'fp16', 'bf16')),
    ('none', ('fp32', 'fp16', 'bf16')),
)


@dataclass(frozen=True)
class ScanShape:
    """One scan of a model: (batch, dim, length) with N states; `x_proj` = the mixer's dt_rank + 2N."""
    name: str
    dim: int
    length: int
    n_state: int = D_STATE

    @property
    def x_proj(self) -> int:
        return mixer_x_proj_width(self.dim, self.n_state)


def mambavision_shapes(variants: Optional[Iterable[str]] = None,
                       settings: Optional[Iterable[str]] = None) -> List[ScanShape]:
    """The scans of MambaVision's hybrid levels, named '<variant>.<setting>.l<level>' (e.g. 'T.cls224.l2'): the
    mixer of a level with C channels scans C / 2 of them (its x/z split) over a window's area."""
    shapes = []
    for variant in variants or MAMBAVISION_ARCHS:
        if variant not in MAMBAVISION_ARCHS:
            raise ValueError(f'unknown MambaVision variant {variant!r}; choose from {list(MAMBAVISION_ARCHS)}')
        channels = MambaVision.arch_channels(MAMBAVISION_ARCHS[variant], SCAN_LEVELS)
        for setting in settings or SETTINGS:
            for level, width, window in zip(SCAN_LEVELS, channels, level_windows(variant, setting)):
                shapes.append(ScanShape(f'{variant}.{setting}.l{level}', width // 2, window * window))
    return shapes


# ------------------------------------------------------------------------------------------------ recorded launches
@dataclass
class Launch:
    """A kernel launch as the backend makes it (tensor arguments are meta tensors)."""
    kernel: Any
    grid: Tuple[int, ...]
    args: tuple
    kwargs: dict


def launch_inputs(shape: ScanShape, variant: Variant, dtype: str, batch: int = 2) -> Dict[str, Optional[Tensor]]:
    """Meta tensors of one scan call in `variant`'s layout, and 'dout', the gradient of its output."""
    act, param = DTYPES[dtype]
    if variant.layout not in ('mixer', 'mixer-causal-conv', 'contiguous'):
        raise ValueError(f"layout must be 'mixer', 'mixer-causal-conv' or 'contiguous', got {variant.layout!r}")
    x = scan_inputs(batch, shape.dim, shape.n_state, shape.length, dtype=act, param_dtype=param, device='meta',
                    D=variant.D, z=variant.z, delta_bias=variant.delta_bias, layout=variant.layout)
    if variant.layout == 'contiguous':
        x['dout'] = torch.empty(batch, shape.dim, shape.length, dtype=act, device='meta')
    else:  # out_proj's input gradient, the scan output's half
        x['dout'] = torch.empty(batch, shape.length, 2 * shape.dim, dtype=act, device='meta').transpose(1, 2)[
            :, :shape.dim]
    return x


def record_launches(shape: ScanShape, variant: Variant, dtype: str) -> List[Launch]:
    """The forward and backward launches of one scan (with the current `TUNING`)."""
    launches: List[Launch] = []

    def record(kernel, grid, args, kwargs) -> None:
        launches.append(Launch(kernel, grid, args, kwargs))

    x = launch_inputs(shape, variant, dtype)
    chunk = scan_triton.chunk_len()
    _, last, ckpt = scan_triton.launch_fwd(x['u'], x['delta'], x['A'], x['B'], x['C'], x['D'], x['z'],
                                           x['delta_bias'], variant.softplus, chunk, launch=record)
    dlast = torch.empty_like(last) if variant.last_state_grad else None
    scan_triton.launch_bwd(x['dout'], x['u'], x['delta'], x['A'], x['B'], x['C'], x['D'], x['z'], x['delta_bias'],
                           ckpt, dlast, variant.softplus, chunk, launch=record)
    return launches


# ------------------------------------------------------------------------------------------------- compilation
class _ArgStandIn:
    """What Triton's launch-time specialisation reads of a tensor: its dtype and address (a base 256-byte aligned,
    as torch's allocators give, plus the view's offset)."""

    def __init__(self, t: Tensor):
        self.dtype = t.dtype
        self._ptr = t.storage_offset() * t.element_size()

    def data_ptr(self) -> int:
        return self._ptr


@dataclass(frozen=True)
class Specialisation:
    """What `triton.compile` gets for one launch; `key` is the same for every target."""
    kernel: Any
    signature: Dict[str, str]
    constexprs: Dict[tuple, Any]
    attrs: Dict[tuple, Any]
    options: Dict[str, Any]
    key: str


def _require_compile_api() -> None:
    """Raises where the installed Triton lacks the (partly internal) API this check uses; written for Triton 3.9."""
    if triton is None:
        raise RuntimeError('the Triton compile check needs the `triton` package (with tl.associative_scan)')
    from triton.runtime import jit

    needed = {'triton.knobs': hasattr(triton, 'knobs'),
              'JITFunction._pack_args': hasattr(jit.JITFunction, '_pack_args'),
              'triton.runtime.jit.create_function_from_signature': hasattr(jit, 'create_function_from_signature')}
    missing = [name for name, present in needed.items() if not present]
    if missing:
        raise RuntimeError(f'the Triton compile check uses {", ".join(missing)}, which Triton {triton.__version__} '
                           'lacks; it was written for Triton 3.9')


def specialise(launch: Launch) -> Specialisation:
    """Triton's launch-time specialisation of `launch` (its JITFunction binder, as `kernel[grid](...)` runs it)."""
    _require_compile_api()
    from triton.backends.compiler import GPUTarget
    from triton.compiler import make_backend
    from triton.runtime.jit import create_function_from_signature

    kernel = launch.kernel
    backend = make_backend(GPUTarget('cuda', 80, 32))  # the rules are the same for every NVIDIA target
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    args = [_ArgStandIn(a) if isinstance(a, Tensor) else a for a in launch.args]
    bound, spec, opts = binder(*args, **launch.kwargs)
    parsed, signature, constexprs, attrs = kernel._pack_args(backend, launch.kwargs, bound, spec, opts)
    options = {k: v for k, v in launch.kwargs.items() if k in parsed.__dict__}  # num_warps, num_stages, ...
    key = repr((kernel.fn.__qualname__, kernel.cache_key, sorted(signature.items()),
                sorted((k, str(v)) for k, v in constexprs.items()), sorted(attrs.items()), sorted(options.items())))
    return Specialisation(kernel, signature, constexprs, attrs, options, key)


@dataclass
class CompileStats:
    """ptxas' and Triton's numbers for one kernel on one target (None where it did not compile)."""
    regs: Optional[int] = None
    spill_stores: Optional[int] = None
    spill_loads: Optional[int] = None
    stack: Optional[int] = None
    shared: Optional[int] = None
    error: str = ''


_PTXAS_LOG = {
    'regs': re.compile(r'Used (\d+) registers'),
    'stack': re.compile(r'(\d+) bytes stack frame'),
    'spill_stores': re.compile(r'(\d+) bytes spill stores'),
    'spill_loads': re.compile(r'(\d+) bytes spill loads'),
}
_compiled: Dict[Tuple[str, int], CompileStats] = {}  # (key, capability) -> stats: each kernel compiles once a run
_jobs: List[Tuple[Specialisation, int]] = []  # what forked workers compile (inherited, not pickled)


def compile_stats(jobs: Sequence[Tuple[Specialisation, GPUArch]], workers: int = 1) -> List[CompileStats]:
    """Compiles each (specialisation, target) once per process (cached) and reads the bundled ptxas' -v log.

    Args:
        workers: processes compiling in parallel (forked; 1: in this process).
    """
    todo = list({(s.key, t.capability): (s, t.capability) for s, t in jobs
                 if (s.key, t.capability) not in _compiled}.values())
    _jobs[:] = todo
    try:
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context('fork')) as pool:
                results = list(pool.map(_compile_job, range(len(todo))))
        else:
            results = [_compile_job(i) for i in range(len(todo))]
    finally:
        _jobs.clear()
    for (spec, capability), stats in zip(todo, results):
        _compiled[(spec.key, capability)] = stats
    return [_compiled[(s.key, t.capability)] for s, t in jobs]


def _compile_job(index: int) -> CompileStats:
    spec, capability = _jobs[index]
    return _compile(spec.kernel, spec.signature, spec.constexprs, spec.attrs, spec.options, capability)


def _compile(kernel, signature: dict, constexprs: dict, attrs: dict, options: dict, capability: int
             ) -> CompileStats:
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    log = io.StringIO()
    try:
        # Triton prints ptxas' log when asked, and only when ptxas runs: always compile (no cache hit)
        with knobs.nvidia.scope(), knobs.compilation.scope(), contextlib.redirect_stdout(log):
            knobs.nvidia.dump_ptxas_log = True
            knobs.compilation.always_compile = True
            compiled = triton.compile(ASTSource(kernel, signature, constexprs, attrs),
                                      target=GPUTarget('cuda', capability, 32), options=options)
    except Exception as err:  # noqa: BLE001 - any compile failure is a finding, reported per kernel
        lines = [line.strip() for line in str(err).splitlines() if line.strip() and 'Repro command' not in line]
        where_what = ' '.join(lines[:1] + lines[-1:] if len(lines) > 1 else lines)  # e.g. 'at 5:53: <message>'
        return CompileStats(error=f'{type(err).__name__}: {where_what}'[:300])
    stats = CompileStats(shared=int(compiled.metadata.shared))
    text = log.getvalue()
    for name, pattern in _PTXAS_LOG.items():
        found = pattern.search(text)
        if found is None:
            raise RuntimeError(f'no {name!r} in the ptxas log of {kernel.fn.__name__} for sm_{capability} '
                               f'(Triton {triton.__version__} printed: {text[-500:]!r}); this check reads the log '
                               'Triton prints with knobs.nvidia.dump_ptxas_log')
        setattr(stats, name, int(found.group(1)))
    return stats


_support: Dict[int, str] = {}


def target_support(target: GPUArch) -> str:
    """'' when the installed Triton compiles for `target`, else why not (a trivial kernel fails there)."""
    if target.capability not in _support:
        _support[target.capability] = _compile(_probe, {'out_ptr': '*fp32'}, {}, {}, {}, target.capability).error
    return _support[target.capability]


if triton is not None:

    @triton.jit
    def _probe(out_ptr):
        scan_triton.tl.store(out_ptr, 1.0)


# ------------------------------------------------------------------------------------------------- the sweep
@dataclass
class KernelReport:
    """One compiled specialisation on one target, with the scans that launch it."""
    target: GPUArch
    kernel: str
    dtype: str
    variant: str
    config: str
    shapes: List[str]
    num_warps: int
    stats: CompileStats

    def problems(self) -> List[str]:
        """What makes it fail the check (empty: passes)."""
        s = self.stats
        if s.error:
            return [f'does not compile: {s.error}']
        found = []
        if s.spill_stores or s.spill_loads:
            found.append(f'spills {s.spill_stores} B stored / {s.spill_loads} B loaded per thread')
        if s.stack:
            found.append(f'{s.stack} B stack frame (local memory) per thread')
        if s.shared > self.target.max_shared:
            found.append(f'{s.shared} B shared memory > {self.target.max_shared} B per block on {self.target.name}')
        threads = 32 * self.num_warps
        if _round_up(s.regs, 8) * threads > REGS_PER_BLOCK:  # ptxas allocates registers in units of 8
            found.append(f'{s.regs} registers x {threads} threads > {REGS_PER_BLOCK} per block')
        return found

    def row(self) -> dict:
        """JSON-ready summary."""
        s = self.stats
        return dict(target=self.target.name, kernel=self.kernel, dtype=self.dtype, variant=self.variant,
                    config=self.config, shapes=self.shapes, regs=s.regs, spill_stores=s.spill_stores,
                    spill_loads=s.spill_loads, stack=s.stack, shared=s.shared, max_shared=self.target.max_shared,
                    error=s.error, problems=self.problems())


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _config_label(kwargs: dict) -> str:
    tiles = ' '.join(f'{k}{kwargs[k]}' for k in ('BD', 'NP', 'BL') if k in kwargs)
    return f"{tiles} w{kwargs.get('num_warps', 4)}".strip()


def check_launch(launch: Launch, target: GPUArch, kernel: str = '', dtype: str = '', variant: str = '',
                 shapes: Sequence[str] = ()) -> KernelReport:
    """Compiles one launch (any Triton kernel) for `target` and reports on it; the labels are for the table."""
    spec = specialise(launch)
    return KernelReport(target, kernel or launch.kernel.fn.__name__, dtype, variant, _config_label(launch.kwargs),
                        list(shapes), spec.options.get('num_warps', 4), compile_stats([(spec, target)])[0])


def default_workers() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def sweep(targets: Sequence[GPUArch] = TARGETS, combos: Sequence[Tuple[str, Sequence[str]]] = SWEEP,
          shapes: Optional[Sequence[ScanShape]] = None, directions: Sequence[str] = ('fwd', 'bwd'),
          workers: Optional[int] = None) -> Tuple[List[KernelReport], Dict[str, str]]:
    """Compiles every distinct specialisation the scans launch, for every target the installed Triton supports.

    Args:
        combos: (variant, dtypes) pairs, keys of VARIANTS and DTYPES (default: SWEEP).
        shapes: the scans (default: `mambavision_shapes()`).
        directions: 'fwd' and/or 'bwd'.
        workers: compile processes (default: the CPUs available).

    Returns:
        The reports (one per distinct specialisation and target), and the targets skipped with the reason.
    """
    _require_compile_api()
    if not isinstance(scan_triton.fwd_kernel, triton.runtime.JITFunction):
        raise RuntimeError('the Triton kernels are interpreted here (TRITON_INTERPRET=1 was set before triton was '
                           'imported): run the compile check in a process without TRITON_INTERPRET')
    shapes = mambavision_shapes() if shapes is None else shapes
    names = {scan_triton.fwd_kernel.fn.__name__: 'fwd', scan_triton.bwd_kernel.fn.__name__: 'bwd'}
    unique: Dict[Tuple[str, str, str], Tuple[Specialisation, Launch, List[str]]] = {}
    for variant, dtypes in combos:
        for dtype in dtypes:
            for shape in shapes:
                for launch in record_launches(shape, VARIANTS[variant], dtype):
                    if names[launch.kernel.fn.__name__] in directions:
                        spec = specialise(launch)
                        unique.setdefault((variant, dtype, spec.key), (spec, launch, []))[2].append(shape.name)
    skipped = {t.name: why for t in targets if (why := target_support(t))}
    jobs = [(spec, t) for t in targets if t.name not in skipped for spec, _, _ in unique.values()]
    stats = iter(compile_stats(jobs, workers or default_workers()))
    reports = []
    for target in targets:
        if target.name not in skipped:
            for (variant, dtype, _), (spec, launch, covered) in unique.items():
                reports.append(KernelReport(target, names[launch.kernel.fn.__name__], dtype, variant,
                                            _config_label(launch.kwargs), covered, spec.options.get('num_warps', 4),
                                            next(stats)))
    return reports, skipped


def format_table(reports: Sequence[KernelReport]) -> str:
    """A markdown table: target, kernel, dtype, variant, launch config, shapes, regs, spills, stack, shared, check.
    Specialisations of one kernel with the same numbers (they differ in alignment or strides) share a row."""
    rows: Dict[tuple, List[str]] = {}
    for r in reports:
        s = r.stats
        nums = ('-', '-', '-', '-') if s.error else (s.regs, f'{s.spill_stores}/{s.spill_loads}', s.stack, s.shared)
        key = (r.target.name, r.kernel, r.dtype, r.variant, r.config, *nums, '; '.join(r.problems()) or 'ok')
        rows.setdefault(key, []).extend(name for name in r.shapes if name not in rows.get(key, ()))
    lines = ['| target | kernel | dtype | variant | config | shapes | regs | spills (B st/ld) | stack (B) '
             '| shared (B) | check |', '|' + '---|' * 11]
    for key, shapes in rows.items():
        label = shapes[0] + (f' +{len(shapes) - 1}' if len(shapes) > 1 else '') if shapes else '-'
        cells = (*key[:5], label, *key[5:])
        lines.append('| ' + ' | '.join(str(c) for c in cells) + ' |')
    return '\n'.join(lines)
