from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules import BUNDLED_RULES, RuleError, load_rules, parse_rules

GOOD = """
rules:
  - name: neg
    dimension: ticker
    signal: negative_stories
    window_s: 300
    baseline_windows: 24
    min_stories: 5
    z: 3.0
    severity: high
"""


def test_bundled_rules_load_and_deploy_copy_is_identical() -> None:
    rules = load_rules(None)
    assert {r.name for r in rules} >= {"negative-surge-ticker"}
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "alerts.yaml"
    assert deploy.read_text() == BUNDLED_RULES.read_text()


def test_good_rule_parses() -> None:
    (rule,) = parse_rules(GOOD, "r.yaml")
    assert (rule.name, rule.window_s, rule.z, rule.severity) == ("neg", 300, 3.0, "high")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("window_s", 0), "window_s"),
        (("dimension", "planet"), "dimension"),
        (("severity", "urgent"), "severity"),
        (("z", -1), "z"),
        (("colour", "red"), "colour"),
        (("min_stories", "many"), "min_stories"),
    ],
)
def test_bad_field_names_file_rule_and_field(change: tuple[str, object], field: str) -> None:
    doc = yaml.safe_load(GOOD)
    doc["rules"][0][change[0]] = change[1]
    with pytest.raises(RuleError) as err:
        parse_rules(yaml.safe_dump(doc), "deploy/x.yaml")
    msg = str(err.value)
    assert "deploy/x.yaml" in msg and "'neg'" in msg and field in msg


def test_duplicate_names_and_empty_files_are_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load(GOOD)
    doc["rules"].append(dict(doc["rules"][0]))
    with pytest.raises(RuleError, match="more than one rule"):
        parse_rules(yaml.safe_dump(doc), "a.yaml")
    with pytest.raises(RuleError, match="rules"):
        parse_rules("", "a.yaml")
    with pytest.raises(RuleError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
yaml_values = st.recursive(
    yaml_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_fails_with_rule_error(text: str) -> None:
    try:
        rules = parse_rules(text, "fuzz.yaml")
    except RuleError as exc:
        assert str(exc).startswith("fuzz.yaml")
    else:
        assert rules


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "dimension", "signal", "window_s", "z", "severity", "x"]), yaml_values))
def test_any_rule_mapping_parses_or_fails_with_rule_error(rule: dict[str, object]) -> None:
    try:
        text = yaml.safe_dump({"rules": [rule]})
    except yaml.YAMLError:
        return
    try:
        parse_rules(text, "fuzz.yaml")
    except RuleError as exc:
        assert "fuzz.yaml: rule 1" in str(exc)
