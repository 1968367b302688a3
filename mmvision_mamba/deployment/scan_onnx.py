"""ONNX lowering of the selective scan `mmvision_mamba::selective_scan_fwd` as one ONNX `Scan` over time.

Everything that is parallel over time (bias, softplus, exp(delta A), delta B u, the C contraction, D and the z gate)
runs as whole-tensor ops; only the recurrence h_t = a_t * h_{t-1} + b_t is an ONNX `Scan` whose body has three
nodes (Mul, Add, Identity), with the (batch, dim, N) state as its carry. The graph is thus the same for every
sequence length.

`selective_scan_fwd_onnx` is its translation for the default (dynamo) exporter: `torch.onnx.export(...,
dynamo=True, custom_translation_table=onnx_translations())`, which `mmvision_mamba.deployment.export_onnx` does.
The TorchScript exporter (`dynamo=False`) is not supported: it bakes the window arithmetic in at the traced size,
and it serialises node blocks as subgraphs of Loop and If only.
"""
import itertools
from typing import Dict

import torch

from mmvision_mamba.ops.cpu_kernel import CHUNK_LEN

OPSET = 18
_body_ids = itertools.count()


def _scan_body(dtype) -> 'onnx_ir.Graph':  # noqa: F821
    """The Scan body: (h_prev; a_t, b_t) -> (h_t; h_t), h_t = a_t * h_prev + b_t, all (batch, dim, N)."""
    import onnx_ir as ir

    prefix = f'selective_scan{next(_body_ids)}_'  # names unique in the model, which has one body per scan

    def value(name: str) -> ir.Value:
        return ir.Value(name=prefix + name, type=ir.TensorType(dtype), shape=ir.Shape([None, None, None]))

    h_prev, a_t, b_t, decayed, h_next, h_t = (value(n) for n in ('h_prev', 'a_t', 'b_t', 'decayed', 'h_next',
                                                                 'h_t'))
    nodes = [ir.Node('', 'Mul', [a_t, h_prev], outputs=[decayed], name=prefix + 'decay'),
             ir.Node('', 'Add', [decayed, b_t], outputs=[h_next], name=prefix + 'update'),
             ir.Node('', 'Identity', [h_next], outputs=[h_t], name=prefix + 'emit')]
    return ir.Graph([h_prev, a_t, b_t], [h_next, h_t], nodes=nodes, name=prefix + 'step')


def _record_scan(h0, a, b, body) -> tuple:
    """Records `Scan(h0; a, b)` -> (last state, all states) in the exporter's graph.

    The exporter's op recorder gives a variadic-output op like Scan a single output, so the two-output node is
    built here and appended to the recorder directly.
    """
    import onnx_ir as ir
    from onnxscript import evaluator

    recorder = evaluator.default()
    node = ir.Node('', 'Scan', [h0, a, b], [ir.AttrGraph('body', body), ir.AttrInt64('num_scan_inputs', 2)],
                   num_outputs=2, version=OPSET)
    if not hasattr(recorder, 'nodes'):
        raise RuntimeError('selective_scan_fwd_onnx runs inside torch.onnx.export(dynamo=True) only.')
    recorder.nodes.append(node)
    return tuple(node.outputs)


def selective_scan_fwd_onnx(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus: bool = False):
    """onnxscript translation of `selective_scan_fwd`: (out, last state, chunk checkpoints), see its docstring.

    Args:
        u, delta, z: (batch, dim, L). A: (dim, N). B, C: (batch, N, L) or (batch, G, N, L). D, delta_bias: (dim,).
    """
    from onnxscript.onnx_opset import opset18 as op

    if delta_bias is not None:
        delta = op.Add(delta, op.Unsqueeze(delta_bias, [1]))
    if delta_softplus:
        delta = op.Softplus(delta)

    def per_channel(bc):
        """(batch, N, L) -> (batch, 1, N, L); (batch, G, N, L) -> (batch, dim, N, L) (G groups of channels)."""
        if bc.shape is None or len(bc.shape) == 3:
            return op.Unsqueeze(bc, [1])
        per_group = op.Div(op.Shape(u, start=1, end=2), op.Shape(bc, start=1, end=2))
        bc = op.Expand(op.Unsqueeze(bc, [2]), op.Concat(op.Shape(bc, end=2), per_group, op.Shape(bc, start=2),
                                                        axis=0))
        return op.Reshape(bc, op.Concat(op.Shape(u, end=2), op.Shape(bc, start=3), axis=0))

    # time-major (L, batch, dim, N) decays and inputs of the recurrence
    a = op.Exp(op.Mul(op.Unsqueeze(delta, [2]), op.Unsqueeze(A, [0, 3])))
    b = op.Mul(op.Unsqueeze(op.Mul(delta, u), [2]), per_channel(B))
    a = op.Transpose(a, perm=[3, 0, 1, 2])
    b = op.Transpose(b, perm=[3, 0, 1, 2])
    h0 = op.Expand(op.CastLike(op.Constant(value_float=0.0), u),
                   op.Concat(op.Shape(u, end=2), op.Shape(A, start=1), axis=0))
    last, states = _record_scan(h0, a, b, _scan_body(u.dtype))
    # y_t = <C_t, h_t>
    c = op.Transpose(per_channel(C), perm=[3, 0, 1, 2])
    y = op.Transpose(op.ReduceSum(op.Mul(states, c), [3], keepdims=0), perm=[1, 2, 0])
    if D is not None:
        y = op.Add(y, op.Mul(u, op.Unsqueeze(D, [1])))
    if z is not None:
        y = op.Mul(y, op.Mul(z, op.Sigmoid(z)))
    # the state before every CHUNK_LEN-th step, as the kernel keeps for its backward
    with_h0 = op.Concat(op.Unsqueeze(h0, [0]), states, axis=0)
    steps = op.Range(op.Constant(value_int=0), op.Squeeze(op.Shape(u, start=2, end=3), [0]),
                     op.Constant(value_int=CHUNK_LEN))
    checkpoints = op.Transpose(op.Gather(with_h0, steps, axis=0), perm=[1, 2, 0, 3])
    return y, last, checkpoints


def onnx_translations() -> Dict:
    """{torch op: onnxscript translation} for every custom op of this package."""
    import mmvision_mamba.ops.selective_scan_cpu  # noqa: F401  (defines the op)
    return {torch.ops.mmvision_mamba.selective_scan_fwd.default: selective_scan_fwd_onnx}

