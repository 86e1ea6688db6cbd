"""int8 weight storage (small on disk), folding for Triton, and the int8-arithmetic rewrite."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import ModelProto, TensorProto, helper, numpy_helper

from models.export import fold_weights_fp32, int8_arithmetic, store_weights_int8


def _graph(rng: np.random.Generator) -> ModelProto:
    """ids -> Gather(table) -> MatMul(w) -> out, plus a small bias kept fp32."""
    table = rng.normal(size=(600, 128)).astype(np.float32)
    table[7] = 0.0  # an all-zero channel must not divide by zero
    w = rng.normal(scale=0.05, size=(128, 512)).astype(np.float32)
    bias = rng.normal(size=(512,)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"]),
        helper.make_node("MatMul", ["emb", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "bias"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", 512])],
        [numpy_helper.from_array(a, n) for a, n in ((table, "table"), (w, "w"), (bias, "bias"))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: ModelProto, ids: np.ndarray, fold_on_load: bool = True) -> np.ndarray:
    opts = ort.SessionOptions()
    if fold_on_load:
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"ids": ids})[0])


def test_large_weights_become_int8_and_stay_close() -> None:
    rng = np.random.default_rng(0)
    model = _graph(rng)
    ids = np.array([0, 7, 42, 599], dtype=np.int64)
    reference = _run(model, ids)
    store_weights_int8(model)
    kinds = {i.name: i.data_type for i in model.graph.initializer}
    assert kinds["table__int8"] == TensorProto.INT8 and kinds["w__int8"] == TensorProto.INT8
    assert kinds["bias"] == TensorProto.FLOAT  # below MIN_INT8_ELEMENTS
    stored = _run(model, ids)
    assert np.abs(stored - reference).max() < 0.05 * np.abs(reference).max()
    assert np.allclose(stored[1], reference[1])  # the all-zero row: exactly the bias


def test_folding_for_triton_gives_identical_results() -> None:
    model = _graph(np.random.default_rng(1))
    store_weights_int8(model)
    ids = np.arange(0, 600, 37, dtype=np.int64)
    on_load = _run(model, ids)
    fold_weights_fp32(model)
    assert not [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert np.array_equal(_run(model, ids, fold_on_load=False), on_load)


def test_a_row_does_not_depend_on_the_others() -> None:
    model = _graph(np.random.default_rng(2))
    store_weights_int8(model)
    alone = _run(model, np.array([5], dtype=np.int64))
    together = _run(model, np.array([5, 599, 300, 1], dtype=np.int64))
    assert np.allclose(alone[0], together[0], atol=1e-6)


def test_int8_arithmetic_uses_the_stored_weights_and_stays_close() -> None:
    model = _graph(np.random.default_rng(3))
    store_weights_int8(model)
    ids = np.arange(0, 600, 11, dtype=np.int64)
    fp32_math = _run(model, ids)
    stored = {i.name: numpy_helper.to_array(i).copy() for i in model.graph.initializer}
    int8_arithmetic(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulInteger") == 1 and "MatMul" not in ops
    assert ops.count("DequantizeLinear") == 1  # the embedding table keeps fp32 arithmetic
    after = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert all(np.array_equal(after[k], v) for k, v in stored.items())  # no re-quantisation
    int8_math = _run(model, ids)
    assert not np.array_equal(int8_math, fp32_math)
    assert np.abs(int8_math - fp32_math).max() < 0.02 * np.abs(fp32_math).max()
