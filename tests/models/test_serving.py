"""The committed default model through every serving path: local ONNX, Triton, the NVIDIA export."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from finsentry.errors import ConfigError, ModelError, ServiceUnavailable
from finsentry.schemas import Prediction
from models.classifiers import CurrentModel, OnnxClassifier
from models.dataset import load_base, split
from models.onnx_scorer import OnnxScorer
from models.registry import ModelRegistry
from models.serving import check_numpy
from models.triton_client import TritonClassifier
from models.triton_export import export_repository
from tests.models.conftest import clone_version


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [ex.text for ex in split(load_base())[1][:300]]


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_default_model_is_committed_and_beats_the_baseline(registry: ModelRegistry) -> None:
    info = registry.current()
    assert info.path.parent == registry.bundled
    size = sum(p.stat().st_size for p in info.path.rglob("*") if p.is_file())
    assert size < 25 * 1024 * 1024
    assert info.f1("sentiment") > 0.85 and info.f1("topic") > 0.80
    card = (info.path / "card.md").read_text()
    assert "weighted F1" in card and info.name in card


def test_local_scores_are_probabilities_with_the_version(registry: ModelRegistry, texts: list[str]) -> None:
    clf = OnnxClassifier(CurrentModel(registry))
    preds = _run(clf.classify(texts[:20]))
    assert len(preds) == 20
    for p in preds:
        assert abs(sum(p.sentiment_scores.values()) - 1) < 1e-3 and abs(sum(p.topic_scores.values()) - 1) < 1e-3
        assert p.model_version == registry.current().name
    with pytest.raises(ModelError, match="empty text"):
        _run(clf.classify(["ok", "   "]))


@pytest.mark.parametrize("query", ["", "?chunk=256"])  # 5 concurrent requests of 64; one full batch + rest
def test_triton_and_local_give_the_same_labels(
    registry: ModelRegistry, triton_url: str, texts: list[str], query: str
) -> None:
    local = _run(OnnxClassifier(CurrentModel(registry)).classify(texts))

    async def remote() -> list[Prediction]:
        client = TritonClassifier.from_url(triton_url + query)
        await client.wait_ready(120)
        try:
            return await client.classify(texts)
        finally:
            await client.close()

    served = _run(remote())
    assert [p.model_version for p in served] == [p.model_version for p in local]
    assert [(p.sentiment, p.topic) for p in served] == [(p.sentiment, p.topic) for p in local]
    for a, b in zip(local, served, strict=True):
        assert np.allclose(list(a.sentiment_scores.values()), list(b.sentiment_scores.values()), atol=1e-5)
        assert np.allclose(list(a.topic_scores.values()), list(b.topic_scores.values()), atol=1e-5)


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_a_score_does_not_depend_on_its_batch(registry: ModelRegistry, texts: list[str], precision: str) -> None:
    scorer = OnnxScorer(registry.current().path, precision=precision)  # type: ignore[arg-type]
    alone = [scorer.score([t]) for t in texts[:40]]
    # one call mixing short and long headlines: maximal padding for the short ones
    batched = scorer.score(texts[:40] + [t * 3 for t in texts[40:100]])
    for i, one in enumerate(alone):
        assert np.array_equal(one.sentiment[0], batched.sentiment[i])
        assert np.array_equal(one.topic[0], batched.topic[i])


def test_token_ids_score_as_texts_whatever_the_padding(registry: ModelRegistry, texts: list[str]) -> None:
    scorer = OnnxScorer(registry.current().path)
    want = scorer.score(texts[:8])
    enc = scorer.encode(texts[:8])
    ids, mask = enc["input_ids"], enc["attention_mask"]
    extra = np.zeros((8, 5), np.int64)
    right = scorer.score_ids(np.hstack([ids, extra]), np.hstack([mask, extra]))
    left = scorer.score_ids(np.hstack([extra, ids]), np.hstack([extra, mask]))
    for got in (right, left):
        assert np.array_equal(got.sentiment, want.sentiment) and np.array_equal(got.topic, want.topic)
    with pytest.raises(ModelError, match="no tokens"):
        scorer.score_ids(ids[:1], np.zeros_like(mask[:1]))


def test_int8_arithmetic_stays_close_to_fp32(registry: ModelRegistry, texts: list[str]) -> None:
    fast = OnnxScorer(registry.current().path, precision="int8")
    exact = OnnxScorer(registry.current().path, precision="fp32")
    a, b = fast.score(texts), exact.score(texts)
    assert not np.array_equal(a.topic, b.topic)  # the precision really differs...
    assert (a.sentiment.argmax(1) == b.sentiment.argmax(1)).mean() > 0.95  # ...but rarely changes a label
    assert (a.topic.argmax(1) == b.topic.argmax(1)).mean() > 0.95
    with pytest.raises(ModelError, match="precision"):
        OnnxScorer(registry.current().path, precision="fp16")  # type: ignore[arg-type]


def test_promotion_is_picked_up_without_restart(registry: ModelRegistry, triton_url: str) -> None:
    base = registry.current().name
    local = CurrentModel(registry, reload_seconds=0.2)
    name = clone_version(registry, "promoted-clone", sentiment_temperature=5.0)
    registry.promote(name, force=True)
    try:
        time.sleep(1.0)
        assert local.get().version == name

        async def remote_version() -> str:
            client = TritonClassifier.from_url(triton_url)
            await client.wait_ready(120)
            try:
                return (await client.classify(["Acme shares soar"]))[0].model_version
            finally:
                await client.close()

        assert _run(remote_version()) == name
    finally:
        registry.promote(base, force=True)


def test_serving_refuses_numpy_2_which_empties_pytriton_s_answers() -> None:
    check_numpy("1.26.4")
    check_numpy(np.__version__)  # the pinned install serves
    for version in ("2.0.0", "2.5.2"):
        with pytest.raises(ConfigError, match=r"numpy < 2.*found " + version):
            check_numpy(version)


@pytest.mark.parametrize(("chunk", "error"), [("0", "1-256"), ("257", "1-256"), ("many", "number"), ("-4", "number")])
def test_triton_url_refuses_a_bad_chunk(chunk: str, error: str) -> None:
    with pytest.raises(ConfigError, match=f"chunk must be .*{error}"):
        TritonClassifier.from_url(f"triton://127.0.0.1:8001/finsentry?chunk={chunk}")


def test_triton_url_options_reach_the_client() -> None:
    client = TritonClassifier.from_url("triton://10.0.0.7:8101/scorer?chunk=200")
    assert (client._url, client._model, client._chunk) == ("10.0.0.7:8101", "scorer", 200)


def test_triton_down_is_a_typed_error() -> None:
    client = TritonClassifier("127.0.0.1:1", timeout=1.0, retries=1)
    with pytest.raises(ServiceUnavailable):
        _run(client.wait_ready(1.0))
    with pytest.raises(ServiceUnavailable):
        _run(client.classify(["Acme"]))


def test_export_for_nvidia_triton_matches_local_fp32_scores(
    registry: ModelRegistry, tmp_path: Path, texts: list[str]
) -> None:
    info = registry.current()
    model_dir = export_repository(info.path, tmp_path / "repo")
    config = (model_dir / "config.pbtxt").read_text()
    assert 'backend: "onnxruntime"' in config and "dynamic_batching" in config and info.name in config
    # The export batches on the server (GPU), so it is the fp32-arithmetic graph.
    scorer = OnnxScorer(info.path, precision="fp32")
    enc = scorer.encode(texts[:16])
    s_probs, t_probs, version = ort.InferenceSession(str(model_dir / "1" / "model.onnx")).run(None, enc)
    ref = scorer.score_ids(enc["input_ids"], enc["attention_mask"])
    assert np.allclose(s_probs, ref.sentiment, atol=1e-5) and np.allclose(t_probs, ref.topic, atol=1e-5)
    assert {v.decode() if isinstance(v, bytes) else v for v in version.reshape(-1)} == {info.name}


def test_predict_cli_from_the_committed_model(registry_root: Path) -> None:
    lines = "\n".join(
        [
            json.dumps({"id": "a", "text": "$XYZ plunges after guidance cut"}),
            json.dumps({"id": "b", "text": ""}),
            json.dumps({"id": "c", "text": "Fed hikes 75 bps"}),
        ]
    )
    out = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", "predict"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        env={"FINSENTRY_MODEL__REGISTRY": str(registry_root), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert rows[1]["error"] == "line 2: empty text"
    assert rows[0]["sentiment"] == "negative"
    assert rows[2]["topic"] in {"Fed | Central Banks", "Macro"}
    assert set(rows[0]) == {"id", "sentiment", "sentiment_scores", "topic", "topic_scores", "model_version"}
