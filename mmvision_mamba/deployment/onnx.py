"""torch.export and ONNX export of MambaVision models with dynamic batch, height and width, and an ONNX Runtime check.

    from mmvision_mamba.deployment import export_onnx, run_onnxruntime
    export_onnx(backbone.eval(), torch.randn(1, 3, 224, 224), 'mambavision_t.onnx')  # any batch, H, W >= 64
    outs = run_onnxruntime('mambavision_t.onnx', torch.randn(2, 3, 320, 480))

Needs the `export` extra (onnx, onnxscript, onnxruntime) for ONNX; torch.export needs nothing more.
"""
import contextlib
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .scan_onnx import OPSET, onnx_translations

Inputs = Union[Tensor, Tuple[Tensor, ...]]
#: smallest / largest dynamic image side; below 64 px the stride-32 map would be a single column, which the
#: exported graph does not special-case
MIN_SIZE, MAX_SIZE = 64, 8192


def _as_tuple(inputs: Inputs) -> Tuple[Tensor, ...]:
    return (inputs, ) if isinstance(inputs, Tensor) else tuple(inputs)


def dynamic_shapes(inputs: Inputs, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE) -> tuple:
    """`dynamic_shapes` for torch.export: dynamic batch, height and width of every (N, C, H, W) image input."""
    from torch.export import Dim

    batch = Dim('batch', min=1, max=1024)
    height = Dim('height', min=min_size, max=max_size)
    width = Dim('width', min=min_size, max=max_size)
    return tuple({0: batch, 2: height, 3: width} for _ in _as_tuple(inputs))


@contextlib.contextmanager
def export_context() -> Iterator[None]:
    """Lets torch.export treat sizes that are 1 in the example as general (e.g. one window per map), instead of
    specialising the graph to them; in effect for every export of this module."""
    from torch.fx.experimental import _config

    with _config.patch(backed_size_oblivious=True):
        yield


def _check_export_args(model: nn.Module, inputs: Tuple[Tensor, ...], min_size: int) -> None:
    devices = {p.device.type for p in model.parameters()} | {x.device.type for x in inputs if isinstance(x, Tensor)}
    if devices - {'cpu'}:
        raise ValueError(f'Export runs on the CPU (the scan exports through its CPU op); got tensors on {devices}: '
                         'call model.cpu() and pass CPU inputs.')
    for x in inputs:
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise ValueError(f'Expected (N, C, H, W) image tensors, got '
                             f'{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}.')
        if min(x.shape[-2:]) < min_size:
            raise ValueError(f'The example input {tuple(x.shape)} is smaller than {min_size} px; export with an '
                             f'image of at least {min_size}x{min_size} (the graph serves any size from there).')


def export_program(model: nn.Module, inputs: Inputs, dynamic: bool = True,
                   min_size: int = MIN_SIZE, max_size: int = MAX_SIZE) -> 'torch.export.ExportedProgram':
    """`torch.export.export` of `model` (eval mode) with dynamic batch, H and W (`dynamic`), or at the example size.

    Raises:
        ValueError: the example input is not a 4-D image batch of at least `min_size` px.
    """
    inputs = _as_tuple(inputs)
    _check_export_args(model, inputs, min_size if dynamic else 1)
    shapes = dynamic_shapes(inputs, min_size, max_size) if dynamic else None
    with export_context():
        return torch.export.export(model, inputs, dynamic_shapes=shapes, strict=False)


def newest_opset() -> int:
    """The newest opset that both the installed onnx and torch's exporter support (past it, torch writes nodes of
    older versions that ONNX Runtime rejects)."""
    import onnx
    from torch.onnx import _constants

    return min(onnx.defs.onnx_opset_version(), getattr(_constants, 'ONNX_MAX_OPSET', OPSET))


def check_opset(opset_version: int) -> None:
    """Raises ValueError unless `OPSET` <= `opset_version` <= `newest_opset()`."""
    newest = newest_opset()
    if not OPSET <= opset_version <= newest:
        raise ValueError(f'opset {opset_version}: choose an opset from {OPSET} to {newest} (the newest that the '
                         'installed onnx and torch exporter support); 23 writes the attention as one Attention op.')


def export_onnx(model: nn.Module, inputs: Inputs, path: str, dynamic: bool = True,
                input_names: Sequence[str] = ('input', ), output_names: Optional[Sequence[str]] = None,
                opset_version: int = OPSET, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE,
                optimize: bool = True, verbose: bool = False) -> str:
    """Exports `model` to an ONNX file with the default (dynamo) exporter; the selective scan becomes one ONNX
    `Scan` (see `scan_onnx`).

    Args:
        model: any module whose forward takes image tensors (put it in eval mode).
        inputs: example (N, C, H, W) input(s).
        path: the .onnx file to write (its folder is created).
        dynamic: batch, height and width dynamic (any size >= `min_size`); else fixed to the example's.
        input_names, output_names: names of the graph's inputs and outputs.
        opset_version: ONNX opset (>= 18).

    Returns:
        `path`.
    """
    try:
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ImportError('ONNX export needs onnx and onnxscript: pip install "mmvision_mamba[export]" '
                          '(or pip install onnx onnxscript onnxruntime).') from err
    check_opset(opset_version)
    inputs = _as_tuple(inputs)
    _check_export_args(model, inputs, min_size if dynamic else 1)
    shapes = dynamic_shapes(inputs, min_size, max_size) if dynamic else None
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    with export_context():
        program = torch.onnx.export(
            model, inputs, dynamo=True, dynamic_shapes=shapes, custom_translation_table=onnx_translations(),
            input_names=list(input_names), output_names=None if output_names is None else list(output_names),
            opset_version=opset_version, optimize=optimize, verbose=verbose)
    program.save(path)
    return path


def count_nodes(model: Union[str, 'onnx.ModelProto']) -> Dict[str, int]:  # noqa: F821
    """Node count of an ONNX model: 'total' (main graph, functions and subgraphs), 'main' and 'subgraphs', and
    per op type ('Scan', 'Loop', ...)."""
    import onnx

    if isinstance(model, str):
        model = onnx.load(model, load_external_data=False)
    counts: Dict[str, int] = {'total': 0, 'main': len(model.graph.node), 'subgraphs': 0}

    def visit(nodes, sub: bool) -> None:
        for node in nodes:
            counts['total'] += 1
            counts['subgraphs'] += sub
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
            for attr in node.attribute:
                for graph in ([attr.g] if attr.HasField('g') else []) + list(attr.graphs):
                    visit(graph.node, True)

    visit(model.graph.node, False)
    for fn in model.functions:
        visit(fn.node, False)
    return counts


class OnnxRuntimeModel:
    """An ONNX file in an ONNX Runtime CPU session: `__call__(*tensors) -> list of tensors`.

    Args:
        path: the .onnx file.
        threads: intra-op threads (default: ONNX Runtime's).
    """

    def __init__(self, path: str, threads: Optional[int] = None):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError('Running ONNX needs onnxruntime: pip install "mmvision_mamba[export]".') from err
        options = ort.SessionOptions()
        # no busy-waiting of idle workers: they would take the cores from PyTorch running in the same process
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, *inputs: Tensor) -> List[Tensor]:
        if len(inputs) != len(self.input_names):
            raise ValueError(f'The ONNX model takes {len(self.input_names)} inputs {self.input_names}, '
                             f'got {len(inputs)}.')
        feed = {n: x.detach().cpu().numpy() for n, x in zip(self.input_names, inputs)}
        return [torch.from_numpy(o) for o in self.session.run(None, feed)]


def run_onnxruntime(path: str, inputs: Inputs, threads: Optional[int] = None) -> List[Tensor]:
    """The outputs of the ONNX file on `inputs`, from ONNX Runtime on the CPU."""
    return OnnxRuntimeModel(path, threads)(*_as_tuple(inputs))


def flatten_outputs(outputs) -> List[Tensor]:
    """Tensors of a (nested) tuple/list/dict of model outputs, in order."""
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    return [t for o in outputs for t in flatten_outputs(o)]


def compare_with_onnxruntime(model: nn.Module, inputs: Inputs, path: str, repeats: int = 10,
                             threads: Optional[int] = None) -> Dict[str, float]:
    """The exported file `path` in ONNX Runtime against `model` in PyTorch on the same inputs.

    Returns:
        outputs (count), abs_err and rel_err (the largest over the outputs, :func:`max_errors`), torch_ms and
        ort_ms (medians of `repeats` calls).
    """
    from ..utils.tensor_error import max_errors
    from ..utils.timing import median_ms

    inputs = _as_tuple(inputs)
    ort_model = OnnxRuntimeModel(path, threads)
    with torch.no_grad():
        reference = flatten_outputs(model(*inputs))
        abs_err, rel_err = max_errors(reference, ort_model(*inputs))
        torch_ms = median_ms(lambda: model(*inputs), repeats)
        ort_ms = median_ms(lambda: ort_model(*inputs), repeats)
    return dict(outputs=len(reference), abs_err=abs_err, rel_err=rel_err, torch_ms=torch_ms, ort_ms=ort_ms)
