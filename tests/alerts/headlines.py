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
