from __future__ import annotations

import json
from collections.abc import Sequence

from finsentry.schemas import Prediction
from models.predict import predict_lines


def _echo_classifier(calls: list[int]):  # type: ignore[no-untyped-def]
    def classify(texts: Sequence[str]) -> list[Prediction]:
        calls.append(len(texts))
        return [
            Prediction(
                sentiment="neutral",
                sentiment_scores={"neutral": 1.0},
                topic=t,
                topic_scores={t: 1.0},
                model_version="v",
            )
            for t in texts
        ]

    return classify


def test_order_is_kept_and_bad_lines_get_error_records() -> None:
    lines = [
        json.dumps({"id": 1, "text": "a"}),
        "{oops",
        json.dumps({"id": 3, "text": "  "}),
        "",
        json.dumps({"id": 4, "text": "d"}),
        json.dumps([1]),
        json.dumps({"id": 6, "text": 7}),
    ]
    calls: list[int] = []
    out = list(predict_lines(lines, _echo_classifier(calls), chunk=2))
    assert [o.get("id") for o in out] == [1, None, 3, 4, None, 6]
    assert out[0]["topic"] == "a" and out[3]["topic"] == "d"
    assert out[1]["error"].startswith("line 2: malformed JSON")
    assert out[2]["error"] == "line 3: empty text"
    assert out[4]["error"] == "line 6: expected a JSON object"
    assert "must be a string" in out[5]["error"]
    assert all(c <= 2 for c in calls)


def test_chunks_batch_the_classifier() -> None:
    calls: list[int] = []
    lines = [json.dumps({"id": i, "text": f"t{i}"}) for i in range(600)]
    out = list(predict_lines(lines, _echo_classifier(calls), chunk=256))
    assert calls == [256, 256, 88]
    assert [o["id"] for o in out] == list(range(600))
