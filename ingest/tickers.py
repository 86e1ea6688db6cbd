"""Link news to tickers: cashtags, exchange-prefixed symbols, and listed companies' names.

Names come from the company list bundled with ``pytickersymbols`` (the constituents of major
indices) plus the rules in ``data/name_rules.txt`` (extra aliases, names that need financial
context, names never linked). Bare upper-case words ("ALL", "F") are never taken for tickers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from finsentry.schemas import extract_tickers
from finsentry.stories import core_title, everyday_words


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_RULES = Path(__file__).resolve().parent / "data" / "name_rules.txt"
_EXCHANGE = re.compile(
    r"\b(?:NASDAQ|NYSE|NYSEARCA|NYSEAMERICAN|AMEX|LSE|LON|TSX|ASX|XETRA|ETR|FRA|EPA|AMS|TYO|HKEX|HKG|OTC|OTCMKTS|BATS)"
    r"\s?:\s?([A-Z][A-Z0-9]{0,5}(?:\.[A-Z]{1,2})?)\b"
)
_SUFFIX = re.compile(
    r"(?:,?\s+(?:Inc\.?|Incorporated|Corp\.?|Corporation|Company|Co\.?|plc|PLC|AG|SE|N\.V\.|NV|S\.A\.|SA|"
    r"Ltd\.?|Limited|Holdings?|Group|& Co\.?|REIT))+$"
)
_WORD = re.compile(r"[A-Za-z0-9][\w&'.-]*[,:;!?]?")
_CUES = _wordset(
    "shares share stock stocks earnings revenue revenues profit profits quarter quarterly q1 q2 q3 q4 ceo cfo "
    "investors investor analysts analyst dividend dividends results guidance sales ipo acquisition acquire "
    "acquires merger nyse nasdaq buyback downgrade downgrades upgrade upgrades valuation outlook forecast "
    "stake shareholders layoffs lawsuit antitrust regulators sec iphone deliveries recall subscribers "
    "market-cap eps price-target deal chief executive billion million coo exec executives "
    "retailer warehouse union layoffs staff employees managers workers iphone ipad macbook app apps streaming "
    "facebook instagram whatsapp aws alexa f-150 mustang evs lng refinery shoppers advertising chips court "
    "sued suing fined tiktok hiring"
)
_MAX_WORDS = 4
# trailing words that name the trade, not the company: "Ford Motor" is also "Ford"
_GENERIC_TAIL = _wordset(
    "Motor Motors Platforms Pharmaceuticals Therapeutics Semiconductor Software Technologies Technology Systems "
    "Industries Brands Entertainment Communications Networks Laboratories"
)
_CORPORATE = _wordset("inc corp co plc ltd ag se sa nv llc group holdings")
_BOUNDARY = (",", ".", ":", ";", "!", "?")


@dataclass(frozen=True)
class Mention:
    """A ticker found in an item and where: ``headline`` outranks ``body``."""

    ticker: str
    relevance: str


@dataclass(frozen=True)
class _Names:
    tickers: dict[str, str]  # alias → ticker
    ambiguous: frozenset[str]
    firsts: frozenset[str]  # every alias's first word: most words start none, and are skipped at once


def _read_rules() -> tuple[dict[str, str], set[str], set[str]]:
    aliases: dict[str, str] = {}
    ambiguous: set[str] = set()
    never: set[str] = set()
    for line in _RULES.read_text(encoding="utf-8").splitlines():
        kind, _, value = line.partition(":")
        value = value.strip()
        if kind == "alias":
            name, _, ticker = value.partition("=")
            aliases[name.strip()] = ticker.strip()
        elif kind == "ambiguous":
            ambiguous.add(value)
        elif kind == "never":
            never.add(value)
    return aliases, ambiguous, never


def _aliases(name: str) -> set[str]:
    bare = _SUFFIX.sub("", name).strip()
    out = {name.strip(), name.strip().rstrip("."), bare}
    if bare.endswith(("'s", "’s")):  # "McDonald's" is looked up as "McDonald", like any possessive
        out.add(bare[:-2])
    words = bare.split()
    if len(words) == 2 and words[1] in _GENERIC_TAIL and words[0].lower() not in everyday_words():
        out.add(words[0])
    return out


@lru_cache(maxsize=1)
def _names() -> _Names:
    from pytickersymbols import PyTickerSymbols

    found: dict[str, set[str]] = {}
    for stock in PyTickerSymbols().get_all_stocks():
        symbol, name = stock.get("symbol"), stock.get("name")
        if not symbol or not name:
            continue
        for alias in _aliases(name):
            if len(alias) >= 3 and alias[0].isupper():
                found.setdefault(alias, set()).add(symbol.upper())
    aliases, ambiguous, never = _read_rules()
    # an alias two companies share is no evidence for either
    table = {alias: next(iter(t)) for alias, t in found.items() if len(t) == 1 and alias not in never}
    table.update(aliases)
    # a one-word name that is also an everyday word ("Target", "Match") needs context
    everyday = everyday_words()
    ambiguous |= {a for a in table if " " not in a and a.lower() in everyday}
    return _Names(table, frozenset(ambiguous), frozenset(alias.split(" ")[0] for alias in table))


def _has_context(words: list[str], ticker: str, text: str) -> bool:
    lowered = {w.lower().rstrip(".,;:!?") for w in words}
    lowered |= {w[:-1] for w in lowered if w.endswith("s")}
    return bool(lowered & _CUES) or f"${ticker}" in text


def _title_case(raw: list[str]) -> bool:
    letters = [w for w in raw if w[:1].isalpha()]
    return bool(letters) and sum(w[:1].isupper() for w in letters) >= 0.7 * len(letters)


def _inside_longer_name(raw: list[str], start: int, end: int) -> bool:
    """A capitalised neighbour, not across punctuation: "Harrison Ford", "Apple Music".

    In Title Case or capitals every word has a capital: there only a name that opens the
    headline (or a clause after a colon or dash) counts as standing alone.
    """
    if _title_case(raw):
        return start > 0 and not raw[start - 1].endswith((":", "-", "|"))
    before = raw[start - 1] if start > 0 else ""
    after = raw[end] if end < len(raw) else ""
    opener = start == 1 and before.lower() in everyday_words()  # "Why Apple ...", "How Ford ..."
    joined_before = (
        before[:1].isupper() and not before.endswith(_BOUNDARY) and before.lower() not in _CUES and not opener
    )
    joined_after = (
        after[:1].isupper() and not raw[end - 1].endswith(_BOUNDARY) and _strip(after).lower() not in _CORPORATE
    )
    return joined_before or joined_after


def _strip(word: str) -> str:
    word = word.rstrip(".,;:!?")
    return word[:-2] if word.endswith(("'s", "’s")) else word


def name_mentions(text: str) -> list[str]:
    """Tickers of companies named in ``text``, in order of appearance."""
    names = _names()
    words = _WORD.findall(text)
    clean = [_strip(w) for w in words]
    out: dict[str, None] = {}
    i = 0
    while i < len(words):
        if clean[i] not in names.firsts:
            i += 1
            continue
        for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            alias = " ".join(clean[i : i + n])
            ticker = names.tickers.get(alias)
            if ticker is None:
                continue
            if alias in names.ambiguous and (
                not _has_context(words, ticker, text) or _inside_longer_name(words, i, i + n)
            ):
                continue
            out.setdefault(ticker, None)
            i += n - 1
            break
        i += 1
    return list(out)


def symbols(text: str) -> list[str]:
    """Cashtags and exchange-prefixed symbols (``NASDAQ:AAPL``), in order of appearance."""
    found = dict.fromkeys(extract_tickers(text))
    found.update(dict.fromkeys(m.group(1) for m in _EXCHANGE.finditer(text)))
    return list(found)


def link_tickers(title: str, body: str) -> list[Mention]:
    """Every ticker of an item, headline mentions first, each once with its best relevance."""
    out: dict[str, Mention] = {}
    for where, text in (("headline", core_title(title)), ("body", body)):
        for ticker in [*symbols(text), *name_mentions(text)]:
            out.setdefault(ticker, Mention(ticker, where))
    return list(out.values())
