"""Ensemble versions: per-head weighted averages of real member versions, judged and refused like any."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.errors import ModelError
from models.classifiers import CurrentModel, to_predictions
from models.ensemble import EnsembleScorer, build_ensemble, check_weights, open_scorer
from models.registry import ModelRegistry
from models.serving import serve
from models.triton_export import export_repository
from tests.models.conftest import clone_version

TEXTS = ["Apple beats earnings estimates, shares jump", "Fed signals more rate hikes", "Oil slides on demand fears"]


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelRegistry, list[str]]:
    """A registry of its own with two real versions that differ in their sentiment calibration."""
    registry = ModelRegistry(tmp_path_factory.mktemp("ensemble-registry"))
    return registry, [clone_version(registry, "sharp", 0.5), clone_version(registry, "flat", 4.0)]


@pytest.fixture(scope="module")
def ensemble(members: tuple[ModelRegistry, list[str]]) -> str:
    registry, names = members
    return build_ensemble(registry, names, {"sentiment": [3, 1], "topic": [0, 2]}).name


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=2, max_size=5).filter(lambda w: sum(w) > 0))
def test_weights_are_normalised_per_head(w: list[float]) -> None:
    names = [f"v{i}" for i in range(len(w))]
    out = check_weights(names, {"sentiment": w})
    assert np.isclose(sum(out["sentiment"]), 1.0)
    assert np.allclose(np.array(out["sentiment"]) * sum(w), w)
    assert out["topic"] == [1 / len(w)] * len(w)  # a head left out weighs members equally


@pytest.mark.parametrize(
    ("names", "weights", "message"),
    [
        (["a"], {}, "at least two"),
        (["a", "a"], {}, "at least two distinct"),
        (["a", "b"], {"topic": [1.0]}, "1 weights for 2 members"),
        (["a", "b"], {"sentiment": [1.0, -1.0]}, "non-negative"),
        (["a", "b"], {"sentiment": [0.0, 0.0]}, "not all zero"),
        (["a", "b"], {"sentiment": [float("nan"), 1.0]}, "finite"),
    ],
)
def test_bad_weights_are_refused(names: list[str], weights: dict[str, list[float]], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        check_weights(names, weights)


def test_scores_are_the_weighted_average_of_the_members(
    members: tuple[ModelRegistry, list[str]], ensemble: str
) -> None:
    registry, names = members
    scorer = open_scorer(registry, ensemble)
    assert isinstance(scorer, EnsembleScorer)
    sharp, flat = (open_scorer(registry, n).score(TEXTS) for n in names)
    got = scorer.score(TEXTS)
    assert np.allclose(got.sentiment, 0.75 * sharp.sentiment + 0.25 * flat.sentiment)
    assert np.allclose(got.topic, flat.topic)  # topic weight 0 on the first member
    assert not np.allclose(got.sentiment, flat.sentiment)  # the members really differ
    assert np.allclose(got.sentiment.sum(axis=1), 1.0)


def test_an_ensemble_is_a_version_the_registry_judges_and_scores_with(
    members: tuple[ModelRegistry, list[str]], ensemble: str
) -> None:
    registry, _ = members
    info = registry.get(ensemble)
    assert 0.5 < info.f1("topic") <= 1.0 and info.n_val("topic") > 1000  # measured on the fixed split
    assert set(info.meta["metrics_fp32"]) == {"sentiment", "topic"}
    assert "(ensemble)" in (info.path / "card.md").read_text()
    assert isinstance(registry.judge(info, registry.current()), list)
    scorer = CurrentModel(registry, pinned=ensemble).get()
    preds = to_predictions(scorer.score(TEXTS), scorer.version)
    assert [p.model_version for p in preds] == [ensemble] * 3


def test_ensembles_cannot_nest_or_feed_triton(
    members: tuple[ModelRegistry, list[str]], ensemble: str, tmp_path: Path
) -> None:
    registry, names = members
    with pytest.raises(ModelError, match="members must be trained versions"):
        build_ensemble(registry, [ensemble, names[0]], {})
    with pytest.raises(ModelError, match="export a member"):
        export_repository(registry.get(ensemble).path, tmp_path / "repo")
    ids = np.ones((1, 4), np.int64)
    with pytest.raises(ModelError, match="not token ids"):
        open_scorer(registry, ensemble).score_ids(ids, ids)
    with pytest.raises(ModelError, match="Triton serves one model's token ids"):
        serve(CurrentModel(registry, pinned=ensemble), "127.0.0.1", 0, 0, 0, tmp_path)  # before any server starts
    with pytest.raises(ModelError, match="unknown model version"):
        build_ensemble(registry, [names[0], "nope"], {})
    assert json.loads((registry.get(ensemble).path / "meta.json").read_text())["kind"] == "ensemble"


class _Unrunnable:
    """A member that must never be asked to score (fault-injecting stand-in)."""

    version = "unused"

    def score(self, texts: list[str]) -> None:
        raise AssertionError("a member weighted zero on both heads was run")


def test_a_member_weighted_zero_on_both_heads_is_not_run(members: tuple[ModelRegistry, list[str]]) -> None:
    registry, names = members
    real = open_scorer(registry, names[0])
    meta = {"version": "e", "weights": {"sentiment": [1, 0], "topic": [1, 0]}}
    got = EnsembleScorer(meta, [real, _Unrunnable()]).score(TEXTS)  # type: ignore[list-item]
    want = real.score(TEXTS)
    assert np.array_equal(got.sentiment, want.sentiment) and np.array_equal(got.topic, want.topic)
