"""Write a Triton model repository (ONNX Runtime backend) for the NVIDIA Triton container.

The exported graph has the same interface as ``finsentry serve-model``: calibration
(temperature + softmax) and the version string are folded into the ONNX graph, so the
container needs nothing but its stock ONNX Runtime backend.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from finsentry.errors import ModelError
from models.ensemble import is_ensemble
from models.export import fold_weights_fp32
from models.labels import SENTIMENTS, TOPICS
from models.serving import MAX_BATCH, MODEL_NAME

_CONFIG = """name: "{name}"
backend: "onnxruntime"
max_batch_size: {max_batch}
input [
  {{ name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ -1 ] }}
]
output [
  {{ name: "sentiment_probs" data_type: TYPE_FP32 dims: [ {n_sent} ] }},
  {{ name: "topic_probs" data_type: TYPE_FP32 dims: [ {n_topic} ] }},
  {{ name: "model_version" data_type: TYPE_STRING dims: [ 1 ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: 2000 }}
instance_group [ {{ kind: {kind} count: 1 }} ]
version_policy: {{ latest: {{ num_versions: 1 }} }}
parameters {{ key: "finsentry_version" value: {{ string_value: "{version}" }} }}
"""


def serving_graph(onnx_path: Path, version: str, temperatures: dict[str, float]) -> bytes:
    """The registry's logits graph with calibrated-probability and version outputs added."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(onnx_path))
    fold_weights_fp32(model)  # plain fp32 graph: runs on the GPU provider, same numbers as local
    g = model.graph
    nodes = [
        helper.make_node("Div", ["sentiment_logits", "t_sentiment"], ["s_scaled"]),
        helper.make_node("Softmax", ["s_scaled"], ["sentiment_probs"], axis=-1),
        helper.make_node("Div", ["topic_logits", "t_topic"], ["t_scaled"]),
        helper.make_node("Softmax", ["t_scaled"], ["topic_probs"], axis=-1),
        helper.make_node("Shape", ["input_ids"], ["ids_shape"], start=0, end=1),
        helper.make_node("Concat", ["ids_shape", "one"], ["version_shape"], axis=0),
        helper.make_node("Expand", ["version_1x1", "version_shape"], ["model_version"]),
    ]
    g.node.extend(nodes)
    g.initializer.extend(
        [
            numpy_helper.from_array(np.array(temperatures.get("sentiment", 1.0), np.float32), "t_sentiment"),
            numpy_helper.from_array(np.array(temperatures.get("topic", 1.0), np.float32), "t_topic"),
            numpy_helper.from_array(np.array([1], np.int64), "one"),
            helper.make_tensor("version_1x1", TensorProto.STRING, [1, 1], [version.encode()]),  # type: ignore[list-item]
        ]
    )
    del g.output[:]
    g.output.extend(
        [
            helper.make_tensor_value_info("sentiment_probs", TensorProto.FLOAT, ["batch", len(SENTIMENTS)]),
            helper.make_tensor_value_info("topic_probs", TensorProto.FLOAT, ["batch", len(TOPICS)]),
            helper.make_tensor_value_info("model_version", TensorProto.STRING, ["batch", 1]),
        ]
    )
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _meta(version_dir: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads((version_dir / "meta.json").read_text(encoding="utf-8"))
    if is_ensemble(meta):
        raise ModelError(f"{meta['version']} is an ensemble of {meta['members']}: export a member")
    return meta


def export_repository(version_dir: Path, repo: Path, gpu: bool = True) -> Path:
    """Write ``repo/finsentry/{config.pbtxt, 1/model.onnx}`` for ``version_dir``.

    Raises:
        ModelError: the version is an ensemble (export one of its members instead).
    """
    meta = _meta(version_dir)
    model_dir = repo / MODEL_NAME
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    (model_dir / "1" / "model.onnx").write_bytes(_graph(version_dir, meta))
    _write_config(model_dir, str(meta["version"]), gpu)
    return model_dir


def _graph(version_dir: Path, meta: dict[str, object]) -> bytes:
    temps = meta.get("temperatures", {})
    return serving_graph(version_dir / "model.onnx", str(meta["version"]), temps if isinstance(temps, dict) else {})


def _numbered(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def export_next_version(version_dir: Path, repo: Path, gpu: bool = True, keep: int = 2) -> Path:
    """Add ``version_dir`` to a live repository as the next numbered version, for Triton's polling.

    Triton started with ``--model-control-mode=poll`` serves the highest numbered folder
    (``version_policy: latest 1``) and loads a new one without a restart. The folder is
    written under a temporary name and renamed into place, so a poll never sees half a
    model; older numbered folders beyond ``keep`` are removed.

    Returns:
        The new numbered folder.

    Raises:
        ModelError: the version is an ensemble (export one of its members instead).
    """
    meta = _meta(version_dir)
    model_dir = repo / MODEL_NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    number = (_numbered(model_dir) or [0])[-1] + 1
    staging = model_dir / f".staging-{number}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / "model.onnx").write_bytes(_graph(version_dir, meta))
    _write_config(model_dir, str(meta["version"]), gpu)
    staging.rename(model_dir / str(number))
    for old in _numbered(model_dir)[:-keep]:
        shutil.rmtree(model_dir / str(old), ignore_errors=True)
    return model_dir / str(number)


def _write_config(model_dir: Path, version: str, gpu: bool) -> None:
    tmp = model_dir / "config.pbtxt.tmp"
    tmp.write_text(
        _CONFIG.format(
            name=MODEL_NAME,
            max_batch=MAX_BATCH,
            n_sent=len(SENTIMENTS),
            n_topic=len(TOPICS),
            kind="KIND_GPU" if gpu else "KIND_CPU",
            version=version,
        )
    )
    tmp.replace(model_dir / "config.pbtxt")
