from __future__ import annotations

from ingest.tickers import Mention, link_tickers, symbols
from tests.ingest.ticker_eval import ticker_scores


def _tickers(title: str, body: str = "") -> list[str]:
    return [m.ticker for m in link_tickers(title, body)]


def test_cashtags_and_exchange_prefixed_symbols() -> None:
    assert symbols("NASDAQ:AAPL and NYSE: F up; $TSLA, $BRK.B and $5 coffee") == ["TSLA", "BRK.B", "AAPL", "F"]


def test_bare_upper_case_words_are_never_tickers() -> None:
    assert _tickers("ALL eyes on the Fed as F-grade bonds sell off") == []


def test_ambiguous_names_need_context() -> None:
    assert _tickers("Apple shares slide after iPhone sales disappoint") == ["AAPL"]
    assert _tickers("Apple pie recipes to try this Thanksgiving") == []
    assert _tickers("Harrison Ford says he never wanted to retire") == []
    assert _tickers("Ford shares jump after strong truck sales") == ["F"]
    assert _tickers("Hitting the target: how archers train") == []


def test_relevance_headline_before_body() -> None:
    mentions = link_tickers("UPDATE 1-Microsoft beats estimates", "Shares of Nvidia and Microsoft rose.")
    assert mentions == [Mention("MSFT", "headline"), Mention("NVDA", "body")]


def test_precision_and_recall_on_labelled_headlines() -> None:
    scores = ticker_scores()
    assert scores["headlines"] >= 200
    assert scores["precision"] >= 0.95, scores
    assert scores["recall"] >= 0.85, scores  # reported in docs/benchmarks.md; a floor against regressions
