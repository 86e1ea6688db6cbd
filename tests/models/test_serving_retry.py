"""serve-model starts Triton again when a model load fails (PyTriton's handshake race)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tritonclient.utils import InferenceServerException

from models import serving
from models.classifiers import CurrentModel
from models.registry import ModelRegistry


class FailingLoads:
    """Fault injection: the first ``failures`` starts end in the load error Triton answered in the wild."""

    def __init__(self, failures: int) -> None:
        self.failures, self.starts = failures, 0

    def __call__(self, *args: Any) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise InferenceServerException("[400] load failed for model 'finsentry': version 1 is at UNAVAILABLE state")


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving.time, "sleep", lambda s: None)


def _serve(registry: ModelRegistry, tmp_path: Path) -> None:
    serving.serve(CurrentModel(registry), "127.0.0.1", 0, 0, 0, tmp_path, instances=2)


def test_a_failed_load_is_tried_again(registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    starts = FailingLoads(failures=serving.LOAD_ATTEMPTS - 1)
    monkeypatch.setattr(serving, "_serve_once", starts)
    _serve(registry, tmp_path)
    assert starts.starts == serving.LOAD_ATTEMPTS


def test_a_load_that_keeps_failing_ends_the_command(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = FailingLoads(failures=99)
    monkeypatch.setattr(serving, "_serve_once", starts)
    with pytest.raises(InferenceServerException, match="load failed"):
        _serve(registry, tmp_path)
    assert starts.starts == serving.LOAD_ATTEMPTS
