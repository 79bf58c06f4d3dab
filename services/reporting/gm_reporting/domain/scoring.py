"""实绩考核: a month's score per unit or lead leader, from configured weights. Pure.

The weights are data (deploy/rules.yaml `performance_review`, read by scoring_file.py),
every figure of them this deployment's choice (本地默认), not law. The indicators are the
ones the figures already count (figures.py defines each count):

- timely_acceptance 及时受理率 = timely / decided: petition matters whose acceptance was
  decided (受理 or 不予受理) and told in the month, told within the 15 days;
- on_time_closure 按期办结率 = on_time / closed: cases closed in the month, by their
  deadline and never escalated;
- resolution 化解率 = resolved / closed;
- satisfaction 满意率 = (satisfied + basically_satisfied) / rated, of the month's closings;
- rating 参评率 = rated / closed;
- deductions: repeat 重复信访 and level_skipping 越级信访, the month's registrations
  flagged so, counted against the unit (or lead leader) that held the earlier case of
  the same matter — for 越级, the lower-level case the petitioner went over.

How a score is made, so that it can be checked by hand from the figures shown with it:
an indicator earns `weight × rate` points, rounded half up to 2 places; the base is the
sum of those points; each deduction is `points_each × count`, capped at its `max`;
score = max(floor, base − deductions). An indicator whose denominator is 0 has no rate
and is scored by the `no_data` policy: `redistribute` (it is left out and the weights of
the indicators that have data are scaled up to add up to full_marks again: effective
weight = weight × full_marks / Σ weights with data), `full` (it earns its weight) or
`zero` (it earns nothing). A unit with no data in any indicator is not scored (score and
rank null; its deductions are still shown): there is nothing to judge it by.

Ranking: by score, highest first; equal scores share a rank (1, 2, 2, 4); the unscored
come last, by key, and last of all `unknown` (the cases with no unit or no lead leader:
scored, to show their figures, but not ranked).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .figures import UNKNOWN, closing_figures
from .projections import Tally

#: The indicators, in the order they are shown, with their Chinese names.
INDICATORS = ("timely_acceptance", "on_time_closure", "resolution", "satisfaction", "rating")
DEDUCTIONS = ("repeat", "level_skipping")
NAMES = {"timely_acceptance": "及时受理率", "on_time_closure": "按期办结率",
         "resolution": "化解率", "satisfaction": "满意率", "rating": "参评率",
         "repeat": "重复信访", "level_skipping": "越级信访"}
NO_DATA_POLICIES = ("redistribute", "full", "zero")


@dataclass(frozen=True)
class Deduction:
    points_each: float
    max: float


@dataclass(frozen=True)
class ScoringRules:
    """The weights and the formula's parameters (the code's defaults when the rules file
    has no `performance_review` section; deploy/rules.yaml repeats them)."""

    weights: Mapping[str, float] = field(default_factory=lambda: {
        "timely_acceptance": 15, "on_time_closure": 25, "resolution": 25,
        "satisfaction": 25, "rating": 10})
    deductions: Mapping[str, Deduction] = field(default_factory=lambda: {
        "repeat": Deduction(2, 20), "level_skipping": Deduction(5, 30)})
    full_marks: float = 100
    no_data: str = "redistribute"
    floor: float = 0

    def describe(self) -> dict:
        """The rules as the answer shows them beside the scores."""
        return {"full_marks": self.full_marks, "no_data": self.no_data, "floor": self.floor,
                "weights": {k: self.weights[k] for k in INDICATORS},
                "deductions": {k: {"points_each": d.points_each, "max": d.max}
                               for k, d in self.deductions.items()}}


def _exact(value) -> Fraction:
    return Fraction(str(value))  # 12.5 and 0.1 as written, not as binary floats


def half_up(value: Fraction, places: int = 2) -> float:
    """Rounded half up (as people round by hand), not to the nearest even."""
    scale = 10 ** places
    scaled = value * scale
    whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return float(Fraction(whole, scale))


def indicator_counts(figures: Mapping) -> Dict[str, Tuple[int, int]]:
    """(numerator, denominator) of each indicator from a row's figures: `closed`,
    `resolved`, `on_time`, `satisfaction` (figures.satisfaction_figures) and
    `acceptance` ({"decided", "timely"})."""
    s = figures["satisfaction"]
    acceptance = figures["acceptance"]
    return {"timely_acceptance": (acceptance["timely"], acceptance["decided"]),
            "on_time_closure": (figures["on_time"], figures["closed"]),
            "resolution": (figures["resolved"], figures["closed"]),
            "satisfaction": (s["satisfied"] + s["basically_satisfied"], s["rated"]),
            "rating": (s["rated"], figures["closed"])}


def score(counts: Mapping[str, Tuple[int, int]], deducted: Mapping[str, int],
          rules: ScoringRules) -> dict:
    """One unit's score with every figure behind it. counts: indicator → (numerator,
    denominator); deducted: deduction → how many cases."""
    weights = {k: _exact(rules.weights[k]) for k in INDICATORS}
    full = _exact(rules.full_marks)
    with_data = [k for k in INDICATORS if counts[k][1] > 0]
    weighed = sum((weights[k] for k in with_data), Fraction(0))
    scale = full / weighed if rules.no_data == "redistribute" and weighed else Fraction(1)
    indicators, base = [], Fraction(0)
    for k in INDICATORS:
        numerator, denominator = counts[k]
        if denominator:
            effective = weights[k] * scale
            exact = effective * Fraction(numerator, denominator)
        elif rules.no_data == "full":
            effective, exact = weights[k], weights[k]
        else:  # zero, or redistributed: it earns nothing and weighs nothing
            effective = weights[k] if rules.no_data == "zero" else Fraction(0)
            exact = Fraction(0)
        points = half_up(exact)
        base += _exact(points)
        indicators.append({
            "indicator": k, "name": NAMES[k], "numerator": numerator,
            "denominator": denominator,
            "rate": half_up(Fraction(numerator, denominator), 4) if denominator else None,
            "weight": float(weights[k]), "effective_weight": half_up(effective, 4),
            "points": points})
    deductions, total = [], Fraction(0)
    for k in DEDUCTIONS:
        rule = rules.deductions[k]
        n = int(deducted.get(k, 0))
        points = min(_exact(rule.points_each) * n, _exact(rule.max))
        total += points
        deductions.append({"deduction": k, "name": NAMES[k], "count": n,
                           "points_each": float(rule.points_each), "max": float(rule.max),
                           "points": half_up(points)})
    scored = bool(with_data)
    return {"score": half_up(max(_exact(rules.floor), base - total)) if scored else None,
            "base": half_up(base) if scored else None, "deducted": half_up(total),
            "indicators": indicators, "deductions": deductions}


def rank(rows: List[dict], key_column: str) -> List[dict]:
    """Rows ordered and ranked: highest score first, equal scores sharing a rank, the
    unscored last (rank None); within a score, by key. The `unknown` row (cases with no
    unit, or — by lead leader — the many with no 包案领导) is scored but never ranked:
    it is nobody to rank."""
    def ranked(r) -> bool:
        return r["score"] is not None and r[key_column] != UNKNOWN

    scored = sorted((r for r in rows if ranked(r)),
                    key=lambda r: (-r["score"], str(r[key_column])))
    unscored = sorted((r for r in rows if not ranked(r)),
                      key=lambda r: (r[key_column] == UNKNOWN, str(r[key_column])))
    for i, row in enumerate(scored):
        same = i and scored[i - 1]["score"] == row["score"]
        row["rank"] = scored[i - 1]["rank"] if same else i + 1
    for row in unscored:
        row["rank"] = None
    return scored + unscored


def holders(own: Optional[str], earlier: Sequence[Optional[str]]) -> List[str]:
    """Whom one repeat or level-skipping petition counts against: each distinct unit (or
    lead leader) that held an earlier case of the matter; the case's own when none of
    them is known (an earlier case reporting never saw placed)."""
    found = list(dict.fromkeys(k for k in earlier if k))
    return found or [own or "unknown"]


def review(key_column: str, closed: Sequence, decisions: Sequence,
           deducted: Mapping[str, Mapping[str, Sequence[str]]], names: Mapping[str, Mapping],
           rules: ScoringRules) -> List[dict]:
    """The month's rows, ranked. closed: tallies by key of the month's closings (sums
    figures.CLOSING); decisions: tallies by (key, petition_decision) of the acceptance
    decisions told in the month (sum decided_timely); deducted: key → deduction → the
    case numbers counted against it; names: every key to show (name, level)."""
    keys = dict.fromkeys([*names, *(str(t.group.get(key_column) or UNKNOWN) for t in closed),
                          *(str(t.group.get(key_column) or UNKNOWN) for t in decisions),
                          *deducted])
    closings = {str(t.group.get(key_column) or UNKNOWN): t for t in closed}
    acceptance: Dict[str, dict] = {k: {"decided": 0, "timely": 0} for k in keys}
    for t in decisions:
        if t.group.get("petition_decision") in ("accepted", "declined"):
            a = acceptance[str(t.group.get(key_column) or UNKNOWN)]
            a["decided"] += t.n
            a["timely"] += t.sums.get("decided_timely", 0)
    rows = []
    for k in keys:
        figures = closing_figures(closings.get(k) or Tally({}, 0, {}))
        figures["acceptance"] = acceptance[k]
        cases = deducted.get(k, {})
        result = score(indicator_counts(figures), {d: len(cases.get(d, ())) for d in DEDUCTIONS},
                       rules)
        for d in result["deductions"]:  # None: a case the reader may not see
            d["cases"] = sorted(c for c in cases.get(d["deduction"], ()) if c)
        info = names.get(k, {})
        rows.append({key_column: k, "name": info.get("name"), "level": info.get("level"),
                     **result})
    return rank(rows, key_column)


def csv_header(key_column: str, lang: str = "zh") -> List[str]:
    """The CSV's columns (csv_cells): Chinese by default, `en` the field names."""
    if lang == "en":
        return ["rank", key_column, "name", "score", "base", "deducted",
                *(f"{k}_{part}" for k in INDICATORS
                  for part in ("numerator", "denominator", "rate", "weight",
                               "effective_weight", "points")),
                *(f"{k}_{part}" for k in DEDUCTIONS for part in ("count", "points", "cases"))]
    who = "单位代码" if key_column == "unit" else "领导"
    return ["排名", who, "名称", "得分", "基础分", "扣分",
            *(f"{NAMES[k]}{part}" for k in INDICATORS
              for part in ("分子", "分母", "", "权重", "实际权重", "得分")),
            *(f"{NAMES[k]}{part}" for k in DEDUCTIONS for part in ("件数", "扣分", "案件"))]


def csv_cells(row: Mapping, key_column: str) -> List:
    cells = [row["rank"], row[key_column], row["name"], row["score"], row["base"],
             row["deducted"]]
    for i in row["indicators"]:
        cells += [i["numerator"], i["denominator"], i["rate"], i["weight"],
                  i["effective_weight"], i["points"]]
    for d in row["deductions"]:
        cells += [d["count"], d["points"], " ".join(d["cases"])]
    return cells
