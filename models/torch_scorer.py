"""Score with a registry version through torch, on a GPU: the model server's CUDA path.

A version's weights live in its ``model.onnx`` (int8-stored, see ``models/export.py``); no
fp32 checkpoint is committed. This scorer rebuilds the torch network from that file: the
weights are dequantised exactly as the Triton export does (``fold_weights_fp32``), so the
GPU serves the same weights as every other path. The encoder's architecture comes from the
version's ``encoder.json`` (written by ``finsentry train``), else from its base package.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.errors import ModelError
from finsentry.settings import GpuDtype
from models.bases import base_dir, version_base
from models.labels import SENTIMENTS, TOPICS
from models.metrics import softmax
from models.onnx_scorer import TOKENIZE_CHUNK, HeadScores, encode_texts

ENCODER_CONFIG = "encoder.json"


def onnx_state_dict(onnx_path: Path) -> dict[str, np.ndarray]:
    """The torch ``state_dict`` of ``TwoHeadClassifier`` held in an exported ONNX file.

    Most initializers keep their torch names. The exporter stores each Linear weight
    transposed under a generated name (``onnx::MatMul_N``); the bias added right after that
    MatMul names the layer, so the weight is filed under the bias's layer.

    Raises:
        ModelError: a MatMul weight whose layer cannot be told from the graph.
    """
    import onnx
    from onnx import numpy_helper

    from models.export import fold_weights_fp32

    model = onnx.load(str(onnx_path))
    fold_weights_fp32(model)
    g = model.graph
    arrays = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    state = {name: w for name, w in arrays.items() if not name.startswith("onnx::")}
    adds: dict[str, Any] = {}
    for node in g.node:
        if node.op_type == "Add":
            for name in node.input:
                adds[name] = node
    for node in g.node:
        weight = node.input[1] if node.op_type == "MatMul" and len(node.input) > 1 else ""
        if weight not in arrays or weight in state:
            continue
        add = adds.get(node.output[0])
        bias = next((n for n in (add.input if add else []) if n.endswith(".bias") and n in state), None)
        if bias is None:
            raise ModelError(f"{onnx_path.name}: cannot tell which layer MatMul weight {weight} belongs to")
        state[bias.removesuffix(".bias") + ".weight"] = np.ascontiguousarray(arrays[weight].T)
    return state


def encoder_config(version_dir: Path, meta: dict[str, Any], bases_cache: Path) -> dict[str, Any]:
    """The encoder's transformers config: the version's ``encoder.json``, else its base's."""
    own = version_dir / ENCODER_CONFIG
    path = own if own.is_file() else base_dir(version_base(meta), bases_cache) / "config.json"
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


def build_network(version_dir: Path, meta: dict[str, Any], bases_cache: Path) -> Any:
    """A ``TwoHeadClassifier`` (fp32, CPU, eval mode) holding the version's ONNX weights.

    Raises:
        ModelError: the ONNX weights do not fill the network, or fill it with wrong shapes.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    from models.net import TwoHeadClassifier

    cfg = dict(encoder_config(version_dir, meta, bases_cache))
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    net = TwoHeadClassifier(AutoModel.from_config(config), len(SENTIMENTS), len(TOPICS))
    state = {k: torch.from_numpy(v.copy()) for k, v in onnx_state_dict(version_dir / "model.onnx").items()}
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch: encoder.json does not describe this file
        raise ModelError(f"{version_dir.name}: {exc}") from exc
    # Buffers the exporter folded away (position ids) are rebuilt from the config, and the
    # encoder's pooler is unused (mean pooling), so the export holds neither.
    rebuilt = ("position_ids", "token_type_ids")
    missing = [k for k in result.missing_keys if not k.endswith(rebuilt) and ".pooler." not in k]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"{version_dir.name}: ONNX weights do not match the network "
            f"(missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})"
        )
    return net.eval()


class TorchScorer:
    """Padded batches through torch on ``device`` in ``dtype``, then each head's temperature.

    Unlike ``OnnxScorer`` (one document per call, for CPU cores), a GPU wants whole
    batches: padding is masked out of attention and pooling, so a document's scores do not
    depend on its neighbours beyond float rounding.

    Args:
        version_dir: a registry version folder (``model.onnx``, ``tokenizer/``, ``meta.json``).
        device: a torch device (``cuda``, ``cuda:1``, ``cpu``).
        dtype: arithmetic of the encoder; float16 uses the GPU's tensor cores.
        bases_cache: where packaged bases are unpacked (for versions without ``encoder.json``).

    Raises:
        ModelError: not a complete version, an ensemble, or no such device.
    """

    def __init__(
        self,
        version_dir: Path,
        device: str = "cuda",
        dtype: GpuDtype = "float16",
        bases_cache: Path = Path("var/bases"),
    ) -> None:
        import torch
        from transformers import AutoTokenizer

        meta_path = version_dir / "meta.json"
        if not meta_path.is_file() or not (version_dir / "model.onnx").is_file():
            raise ModelError(f"{version_dir} is not a complete model version")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        self.version: str = self.meta["version"]
        self.max_length: int = int(self.meta.get("max_length", 64))
        self.temperatures: dict[str, float] = self.meta.get("temperatures", {})
        try:
            self.device = torch.device(device)
            torch.empty(0, device=self.device)  # fails here, not on the first request
        except (RuntimeError, AssertionError) as exc:
            raise ModelError(f"torch device {device!r} is not available: {exc}") from exc
        self.dtype = getattr(torch, dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(str(version_dir / "tokenizer"))
        self.net = build_network(version_dir, self.meta, bases_cache).to(self.device, self.dtype)

    def logits_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw fp32 (sentiment, topic) logits for one padded batch of token ids."""
        import torch

        with torch.inference_mode():
            ids = torch.from_numpy(np.ascontiguousarray(input_ids, np.int64)).to(self.device, non_blocking=True)
            mask = torch.from_numpy(np.ascontiguousarray(attention_mask, np.int64)).to(self.device, non_blocking=True)
            s, t = self.net(ids, mask)
            return s.float().cpu().numpy(), t.float().cpu().numpy()

    def score_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> HeadScores:
        """Calibrated probabilities for already tokenised input (the model server's path)."""
        if len(input_ids) and not np.asarray(attention_mask).any(axis=1).all():
            raise ModelError("a document has no tokens (attention mask all zero)")
        s, t = self.logits_ids(input_ids, attention_mask)
        temps = self.temperatures
        return HeadScores(softmax(s, temps.get("sentiment", 1.0)), softmax(t, temps.get("topic", 1.0)))

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenise with dynamic padding to the batch's longest text."""
        return encode_texts(self.tokenizer, texts, self.max_length)

    def score(self, texts: Sequence[str]) -> HeadScores:
        """Calibrated probabilities in input order; texts must be non-empty."""
        chunks = (texts[k : k + TOKENIZE_CHUNK] for k in range(0, len(texts), TOKENIZE_CHUNK))
        parts = [self.score_ids(**self.encode(chunk)) for chunk in chunks]
        if not parts:
            return HeadScores(np.zeros((0, len(SENTIMENTS))), np.zeros((0, len(TOPICS))))
        return HeadScores(np.concatenate([p.sentiment for p in parts]), np.concatenate([p.topic for p in parts]))
