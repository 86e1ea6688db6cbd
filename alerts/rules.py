"""Alert rules from YAML: one validating parser whose only failure is ``RuleError``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finsentry.errors import ConfigError
from finsentry.schemas import Severity

BUNDLED_RULES = Path(__file__).resolve().parent / "rules.yaml"
RuleDimension = Literal["ticker", "topic", "source", "all"]
Signal = Literal["negative_stories", "negative_share", "mean_sentiment"]
MAX_RULES_BYTES = 1_000_000


class RuleError(ConfigError):
    """A rules file that cannot be used; the message names the file, the rule and the field."""


class Rule(BaseModel):
    """One alert rule.

    Attributes:
        name: unique; part of every alert id the rule makes.
        dimension: what a key is (a ticker, a topic, a source, or ``all`` documents).
        signal: ``negative_stories`` (distinct negative stories, Poisson z against the baseline mean),
            ``negative_share`` (share of negative stories, binomial z against the baseline share) or
            ``mean_sentiment`` (drop of the mean signed score, z against the baseline's spread).
        window_s: tumbling windows aligned to UTC multiples of this many seconds.
        baseline_windows: how many earlier windows form the baseline.
        baseline_floor: the lowest baseline (stories per window) used: quiet keys and cold start.
        min_stories: a window with fewer distinct stories never fires.
        z: the statistic's threshold.
        severity: of every alert the rule makes.

    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    dimension: RuleDimension = "ticker"
    signal: Signal = "negative_stories"
    window_s: int = Field(default=300, ge=10, le=7 * 86400)
    baseline_windows: int = Field(default=24, ge=1, le=1000)
    baseline_floor: float = Field(default=1.0, gt=0, le=1e6)
    min_stories: int = Field(default=5, ge=1, le=1_000_000)
    z: float = Field(default=3.0, gt=0, le=1000)
    severity: Severity = "medium"


def _where(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _rule_errors(source: str, index: int, raw: Any, exc: ValidationError) -> RuleError:
    name = raw.get("name") if isinstance(raw, dict) else None
    first = exc.errors()[0]
    label = f"rule {index + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
    return RuleError(f"{source}: {label}: field {_where(first['loc'])!r}: {first['msg']}")


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """Parse and validate a rules document.

    Args:
        text: the YAML text: a mapping with a non-empty ``rules`` list.
        source: the file name, for messages.

    Raises:
        RuleError: anything wrong, naming the file, the rule and the field.

    """
    import yaml

    if len(text) > MAX_RULES_BYTES:
        raise RuleError(f"{source}: larger than {MAX_RULES_BYTES} bytes")
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise RuleError(f"{source}: not valid YAML: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list) or not doc["rules"]:
        raise RuleError(f"{source}: field 'rules': expected a mapping with a non-empty list 'rules'")
    rules: list[Rule] = []
    for i, raw in enumerate(doc["rules"]):
        if not isinstance(raw, dict):
            raise RuleError(f"{source}: rule {i + 1}: expected a mapping of fields")
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as exc:
            raise _rule_errors(source, i, raw, exc) from None
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleError(f"{source}: rule {dupes[0]!r}: field 'name': used by more than one rule")
    return rules


def load_rules(path: Path | None) -> list[Rule]:
    """Rules from ``path``, or the bundled ones when None.

    Raises:
        RuleError: unreadable or invalid file.

    """
    path = path or BUNDLED_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read rules: {exc}") from None
    return parse_rules(text, str(path))
