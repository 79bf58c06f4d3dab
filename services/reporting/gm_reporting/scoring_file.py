"""Reading the 实绩考核 weights (deploy/rules.yaml `performance_review`, GM_RULES_FILE) into
the domain's ScoringRules, refusing a malformed section with `file:line: field: problem`.
What they mean: gm_reporting.domain.scoring. A file without the section scores by the
code's defaults (ScoringRules())."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Optional, Union

from gm_directory.yamlconfig import compose_file

from .domain.scoring import DEDUCTIONS, INDICATORS, NO_DATA_POLICIES, Deduction, ScoringRules
from .warnings_file import _number, _top

SECTION = "performance_review"
_NOTE = ("basis", "local_default")  # what the section says of its figures, read by people


def load_scoring_rules(path: Union[str, Path]) -> ScoringRules:
    top = _top(compose_file(path))
    if SECTION not in top:
        return ScoringRules()
    f = top[SECTION].mapping(required=("full_marks", "indicators", "deductions"),
                             optional=("no_data", "floor", *_NOTE))
    full = _number(f["full_marks"], 1, 1000)
    weights_field = f["indicators"]
    given = weights_field.mapping(required=INDICATORS)
    weights = {k: _number(given[k], 0, 1000) for k in INDICATORS}
    total = sum(Fraction(str(w)) for w in weights.values())
    if total != Fraction(str(full)):
        # so that a unit with every rate at 100% and nothing deducted has full marks
        raise weights_field.error(f"the weights add up to {float(total):g}, not to "
                                  f"full_marks ({full:g})")
    deductions_field = f["deductions"].mapping(required=DEDUCTIONS)
    deductions = {}
    for k in DEDUCTIONS:
        d = deductions_field[k].mapping(required=("points_each", "max"))
        deductions[k] = Deduction(_number(d["points_each"], 0, full),
                                  _number(d["max"], 0, full))
    return ScoringRules(
        weights=weights, deductions=deductions, full_marks=full,
        no_data=f["no_data"].string(choices=NO_DATA_POLICIES) if "no_data" in f
        else "redistribute",
        floor=_number(f["floor"], 0, full) if "floor" in f else 0)


def describe(path: Union[str, Path]) -> Optional[dict]:
    """The section as written (for docs/rules.md: its basis and local_default)."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        return (yaml.safe_load(fh) or {}).get(SECTION)
