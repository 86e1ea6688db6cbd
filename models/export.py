"""Export the trained network to ONNX, with its weights stored as int8.

The file stores large weights as per-channel int8 (small enough for git) behind
DequantizeLinear nodes. At load the scorer either folds them to fp32 (``precision=fp32``)
or rewrites the products to integer arithmetic on the same bytes (:func:`int8_arithmetic`,
the default). ONNX Runtime's stock dynamic quantisation was not kept as the file format: it
needs its own re-quantised copy of the weights, and used on padded batches it made a
document's score depend on its neighbours (``bench/quantisation.py``); the scorer now runs
one document per call instead (``models/onnx_scorer.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.net import TwoHeadClassifier

INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("sentiment_logits", "topic_logits")
# Smaller tensors (biases, LayerNorm, the two heads) stay fp32: they hardly weigh anything.
MIN_INT8_ELEMENTS = 65_536
_SUFFIXES = ("__int8", "__scale", "__zero")


def export_onnx(model: TwoHeadClassifier, path: Path, compact: bool = True) -> Path:
    """Write ``model`` as ONNX (dynamic batch and length); int8-stored weights when ``compact``."""
    import onnx

    model.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    axes.update({name: {0: "batch"} for name in OUTPUTS})
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            model,
            (ids, mask),
            str(fp32),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes=axes,
            opset_version=17,
        )
        graph = onnx.load(str(fp32))
    if compact:
        store_weights_int8(graph)
    onnx.save(graph, str(path))
    return path


def _channel_axis(graph: Any, name: str) -> int:
    """Axis of one scale per output channel: rows of an embedding table, columns of a MatMul weight."""
    for node in graph.node:
        if name in node.input:
            return 0 if node.op_type == "Gather" else 1
    return 1


def store_weights_int8(graph: Any) -> None:
    """Replace large fp32 weights in ``graph`` (an ``onnx.ModelProto``) by int8 + DequantizeLinear.

    Symmetric per-channel scales (max |w| / 127), zero point 0. Measured on the validation
    split: weighted F1 within 0.2 points of fp32 for both heads.
    """
    from onnx import helper, numpy_helper

    g = graph.graph
    dequant = []
    for init in list(g.initializer):
        w = numpy_helper.to_array(init)
        if w.dtype != np.float32 or w.ndim != 2 or w.size < MIN_INT8_ELEMENTS:
            continue
        axis = _channel_axis(g, init.name)
        scale = (np.abs(w).max(axis=1 - axis) / 127.0).astype(np.float32)
        scale[scale == 0] = 1.0
        q = np.clip(np.round(w / np.expand_dims(scale, 1 - axis)), -127, 127).astype(np.int8)
        names = [init.name + s for s in _SUFFIXES]
        g.initializer.remove(init)
        g.initializer.extend(
            [
                numpy_helper.from_array(q, names[0]),
                numpy_helper.from_array(scale, names[1]),
                numpy_helper.from_array(np.zeros(len(scale), np.int8), names[2]),
            ]
        )
        dequant.append(helper.make_node("DequantizeLinear", names, [init.name], axis=axis))
    for node in reversed(dequant):
        g.node.insert(0, node)


def fold_weights_fp32(graph: Any) -> None:
    """Inverse of :func:`store_weights_int8`: materialise the fp32 weights in ``graph``.

    Used for the Triton model repository, where the file size does not matter and a plain
    fp32 graph runs on any execution provider (GPU included). The values are computed the
    way ONNX Runtime dequantises, so both give bit-identical weights.
    """
    from onnx import numpy_helper

    g = graph.graph
    inits = {i.name: i for i in g.initializer}
    for node in [n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]:
        q, scale, zero = (numpy_helper.to_array(inits[name]) for name in node.input)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1, 1]
        shape[axis] = -1
        w = (q.astype(np.int32) - zero.astype(np.int32).reshape(shape)).astype(np.float32) * scale.reshape(shape)
        for name in node.input:
            g.initializer.remove(inits[name])
        g.initializer.append(numpy_helper.from_array(w.astype(np.float32), node.output[0]))
        g.node.remove(node)


def int8_arithmetic(graph: Any) -> None:
    """Rewrite each MatMul on an int8-stored weight to integer arithmetic, in place.

    ``X @ dequant(W)`` becomes ``DynamicQuantizeLinear(X)`` → ``MatMulInteger`` with the
    stored int8 weight (no re-quantisation: the very bytes in the file) → rescale by the
    activation scale times the per-column weight scale. The activation scale is picked
    per input *tensor*, so the scorer feeds one document per call (see
    ``models/onnx_scorer.py``): then it depends on that document alone, never on its
    batch neighbours or their padding. Embedding tables (Gather) keep fp32 arithmetic.
    """
    from onnx import TensorProto, helper

    g = graph.graph
    inits = {i.name for i in g.initializer}
    dequant = {n.output[0]: n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] in inits}
    consumers: dict[str, int] = {}
    for node in g.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    nodes = []
    for node in g.node:
        dq = dequant.get(node.input[1]) if node.op_type == "MatMul" else None
        if dq is None:
            nodes.append(node)
            continue
        q, w_scale, w_zero = dq.input
        p = node.output[0]
        x_q, x_scale, x_zero, acc, acc_f, scale = (f"{p}/{s}" for s in ("xq", "xs", "xz", "acc", "accf", "scale"))
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [node.input[0]], [x_q, x_scale, x_zero]),
            helper.make_node("MatMulInteger", [x_q, q, x_zero, w_zero], [acc]),
            helper.make_node("Cast", [acc], [acc_f], to=TensorProto.FLOAT),
            helper.make_node("Mul", [x_scale, w_scale], [scale]),
            helper.make_node("Mul", [acc_f, scale], [p]),
        ]
        consumers[dq.output[0]] -= 1
    unused = {d.output[0] for d in dequant.values() if consumers[d.output[0]] == 0}
    del g.node[:]
    g.node.extend(n for n in nodes if not (n.op_type == "DequantizeLinear" and n.output[0] in unused))
