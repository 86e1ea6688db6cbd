"""Headline templates the baseline classifier reads as negative; ``{t}`` is the cashtag."""

NEGATIVE = [
    "{t} plunges after fraud probe, CEO resigns",
    "{t} shares crash as lawsuit mounts and profit warning issued",
    "{t} misses estimates, cuts guidance",
    "{t} hit by regulator fine over accounting scandal",
    "{t} slumps as bankruptcy fears grow",
    "{t} downgraded to junk, shares tumble",
    "{t} recalls products after safety failures, losses widen",
    "{t} warns of steep loss as sales collapse",
    "{t} faces criminal charges, stock plunges",
    "{t} defaults on bond payment, shares plunge",
    "{t} cuts jobs after plunge in orders",
    "{t} stock sinks on weak outlook and fraud allegations",
]


def burst_rules(name: str, severity: str = "medium") -> str:
    """A rules file of one rule: at least 5 negative stories on a ticker in an hour, above 6 hours' baseline."""
    return f"""
rules:
  - name: {name}
    dimension: ticker
    signal: negative_stories
    window_s: 3600
    baseline_windows: 6
    min_stories: 5
    z: 3.0
    severity: {severity}
"""
