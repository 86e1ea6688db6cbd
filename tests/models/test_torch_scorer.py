"""The torch scorer (the model server's GPU path), checked on CPU against the ONNX scorer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from finsentry.errors import ModelError
from models.dataset import load_base, split
from models.ensemble import open_scorer
from models.onnx_scorer import OnnxScorer
from models.registry import ModelRegistry
from models.torch_scorer import ENCODER_CONFIG, TorchScorer, onnx_state_dict


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [ex.text for ex in split(load_base())[1][:120]]


def _copy(registry: ModelRegistry, tmp_path: Path) -> Path:
    dst = tmp_path / registry.current().name
    shutil.copytree(registry.current().path, dst)
    return dst


def test_rebuilt_network_scores_like_the_onnx_file(registry: ModelRegistry, texts: list[str]) -> None:
    path = registry.current().path
    ours = TorchScorer(path, device="cpu", dtype="float32").score(texts)
    ref = OnnxScorer(path, precision="fp32").score(texts)
    assert np.abs(ours.sentiment - ref.sentiment).max() < 1e-4
    assert np.abs(ours.topic - ref.topic).max() < 1e-4
    assert (ours.topic.argmax(1) == ref.topic.argmax(1)).all()


def test_padding_does_not_change_a_document_s_scores(registry: ModelRegistry, texts: list[str]) -> None:
    scorer = TorchScorer(registry.current().path, device="cpu", dtype="float32")
    short, long = min(texts, key=len), max(texts, key=len)
    together = scorer.score_ids(**scorer.encode([short, long]))
    alone = scorer.score_ids(**scorer.encode([short]))
    assert np.allclose(together.sentiment[0], alone.sentiment[0], atol=1e-5)
    assert np.allclose(together.topic[0], alone.topic[0], atol=1e-5)
    ids = scorer.encode([short])
    with pytest.raises(ModelError, match="no tokens"):
        scorer.score_ids(ids["input_ids"], np.zeros_like(ids["attention_mask"]))


def test_every_linear_weight_is_recovered_transposed(registry: ModelRegistry) -> None:
    state = onnx_state_dict(registry.current().path / "model.onnx")
    assert not [k for k in state if k.startswith("onnx::")]
    layers = {k.rsplit(".", 1)[0] for k in state if k.endswith(".bias") and "LayerNorm" not in k}
    for layer in layers:  # each Linear: out x in weight, matching its bias
        assert state[layer + ".weight"].shape[0] == state[layer + ".bias"].shape[0]
    assert state["encoder.encoder.layer.0.intermediate.dense.weight"].shape == (1536, 384)


def test_a_version_without_encoder_json_takes_its_base_config(
    registry: ModelRegistry, tmp_path: Path, texts: list[str]
) -> None:
    path = _copy(registry, tmp_path)
    (path / ENCODER_CONFIG).unlink()
    scores = TorchScorer(path, device="cpu", dtype="float32", bases_cache=tmp_path).score(texts[:5])
    assert scores.sentiment.shape == (5, 3)


def test_an_encoder_config_that_does_not_fit_the_weights_is_refused(registry: ModelRegistry, tmp_path: Path) -> None:
    path = _copy(registry, tmp_path)
    config = json.loads((path / ENCODER_CONFIG).read_text())
    (path / ENCODER_CONFIG).write_text(json.dumps({**config, "hidden_size": 192, "intermediate_size": 768}))
    with pytest.raises(ModelError, match=path.name):
        TorchScorer(path, device="cpu", dtype="float32")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_asking_for_a_missing_gpu_is_a_model_error(registry: ModelRegistry) -> None:
    with pytest.raises(ModelError, match="cuda"):
        open_scorer(registry, registry.current().name, device="cuda")
    assert isinstance(open_scorer(registry, registry.current().name, device="cpu"), OnnxScorer)
