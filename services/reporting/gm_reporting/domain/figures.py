"""The figures leaders read (研判, 实绩考核), computed from counts. Pure.

The store counts (tallies of the case and hand-off tables over a month's range of
instants); these functions turn the counts into the published figures: totals per
channel and category, rates, the categories and regions rising against the previous
month, performance per unit or lead leader. Definitions, once:

- received: cases registered in the month (local time); by_channel, by_category,
  collective, repeat count those cases.
- closed: cases closed in the month; resolved: of those, closed resolved (agreement or
  confirmed); resolution_rate = resolved / closed (化解率); on_time_rate = closed on time
  / closed (按期办结率; on time = no later than the deadline and never escalated).
- overdue: of the month's received cases, those overdue now — escalated, or open past
  their deadline.
- satisfaction: follow-ups (回访) of the month's closed cases, counted three ways as
  petition work counts them: satisfied (满意), basically_satisfied (基本满意),
  dissatisfied (不满意); rated = follow-ups with a level (an old score-only follow-up
  counts by its score: 4-5 satisfied, 3 basically, 1-2 dissatisfied).
  satisfaction_rate = (satisfied + basically_satisfied) / rated (满意率); rating_rate =
  rated / closed (参评率); average = mean of the 1-5 scores given (a level-only
  follow-up has none).
- petitions (信访事项: cases placed as a petition matter, or whose acceptance was
  decided), as 信访工作条例 practice counts them: registered (registered_at in the month);
  decided = accepted + declined, timely (of those, told within the 15 days) — by the
  local day the petitioner was told (notified_on); timely_acceptance_rate = timely /
  decided (及时受理率); answered (closed with a written answer, 信访处理意见书: closed_at),
  answered_on_time (of those, on time: by the deadline of the handling period);
  on_time_rate = answered_on_time / answered (按期办结率 of petition matters);
  reviews_requested (复查 and 复核, by requested_on), reviews_decided and
  reviews_decided_on_time (by issued_on).
- supervised: cases supervised (督办) in the month — SupervisionOrdered (ordered_at),
  and in older streams CaseEscalated (escalated_at); a case counts once a month.
- rates are fractions rounded to 4 places, or null when nothing was counted.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from .projections import Tally

UNKNOWN = "unknown"


def rate(numerator: int, denominator: int) -> Optional[float]:
    return round(numerator / denominator, 4) if denominator else None


def _key(value) -> str:
    return UNKNOWN if value is None else str(value)


def rising(current: Mapping[str, int], previous: Mapping[str, int], top: int = 5,
           label: str = "key") -> List[dict]:
    """What grew against the previous month, most first (ties by name)."""
    rows = []
    for key in set(current) | set(previous):
        now, before = current.get(key, 0), previous.get(key, 0)
        if now > before:
            rows.append({label: key, "count": now, "previous": before,
                         "change": now - before, "change_rate": rate(now - before, before)})
    rows.sort(key=lambda r: (-r["change"], r[label]))
    return rows[:top]


def satisfaction_figures(closed: Tally) -> dict:
    """满意率 and 参评率 of closed cases (sums: rated, satisfied, basically_satisfied,
    dissatisfied, scored, satisfaction = the sum of the scores given)."""
    s = closed.sums
    rated, scored = s.get("rated", 0), s.get("scored", 0)
    satisfied, basically = s.get("satisfied", 0), s.get("basically_satisfied", 0)
    return {
        "satisfied": satisfied,
        "basically_satisfied": basically,
        "dissatisfied": s.get("dissatisfied", 0),
        "rated": rated,
        "follow_ups": rated,
        "average": round(s.get("satisfaction", 0) / scored, 2) if scored else None,
        "satisfaction_rate": rate(satisfied + basically, rated),
        "rating_rate": rate(rated, closed.n),
    }


def closing_figures(closed: Tally) -> dict:
    s = closed.sums
    satisfaction = satisfaction_figures(closed)
    return {
        "closed": closed.n,
        "resolved": s.get("resolved", 0),
        "resolution_rate": rate(s.get("resolved", 0), closed.n),
        "on_time": s.get("on_time", 0),
        "on_time_rate": rate(s.get("on_time", 0), closed.n),
        "satisfaction": satisfaction,
        "satisfaction_rate": satisfaction["satisfaction_rate"],
        "rating_rate": satisfaction["rating_rate"],
    }


def petition_figures(registered: int, decisions: Sequence[Tally], answered: Tally,
                     reviews_requested: int, reviews_decided: int,
                     reviews_decided_on_time: int) -> dict:
    """The petition indicators of a month. decisions: tallies by petition_decision with
    the sum decided_timely; answered: the closings with a written answer (sum on_time)."""
    by = {str(t.group.get("petition_decision")): t for t in decisions}
    accepted = by["accepted"].n if "accepted" in by else 0
    declined = by["declined"].n if "declined" in by else 0
    decided = accepted + declined
    timely = sum(t.sums.get("decided_timely", 0) for key, t in by.items()
                 if key in ("accepted", "declined"))
    on_time = answered.sums.get("on_time", 0)
    return {
        "registered": registered,
        "decided": decided,
        "accepted": accepted,
        "declined": declined,
        "timely": timely,
        "timely_acceptance_rate": rate(timely, decided),
        "answered": answered.n,
        "answered_on_time": on_time,
        "on_time_rate": rate(on_time, answered.n),
        "reviews_requested": reviews_requested,
        "reviews_decided": reviews_decided,
        "reviews_decided_on_time": reviews_decided_on_time,
    }


def monthly_figures(month: str, previous_month: str, received: Sequence[Tally],
                    previous: Sequence[Tally], closed: Tally, overdue: int,
                    handoffs: Mapping[str, Mapping[str, int]], sub_column: Optional[str],
                    channels: Iterable[str], categories: Iterable[str], top: int = 5) -> dict:
    """received: tallies by (channel, category[, sub_column]) with sums collective, repeat;
    previous: tallies by (category[, sub_column]) of the month before."""
    by_channel: Dict[str, int] = {c: 0 for c in channels}
    by_category: Dict[str, int] = {c: 0 for c in categories}
    by_region: Dict[str, int] = {}
    total = collective = repeat = 0
    for t in received:
        total += t.n
        collective += t.sums.get("collective", 0)
        repeat += t.sums.get("repeat", 0)
        ch, cat = _key(t.group.get("channel")), _key(t.group.get("category"))
        by_channel[ch] = by_channel.get(ch, 0) + t.n
        by_category[cat] = by_category.get(cat, 0) + t.n
        if sub_column:
            sub = _key(t.group.get(sub_column))
            by_region[sub] = by_region.get(sub, 0) + t.n
    prev_category: Dict[str, int] = {}
    prev_region: Dict[str, int] = {}
    prev_total = 0
    for t in previous:
        prev_total += t.n
        cat = _key(t.group.get("category"))
        prev_category[cat] = prev_category.get(cat, 0) + t.n
        if sub_column:
            sub = _key(t.group.get(sub_column))
            prev_region[sub] = prev_region.get(sub, 0) + t.n
    current_category = {k: v for k, v in by_category.items() if v}
    return {
        "month": month,
        "received": total,
        "by_channel": by_channel,
        "by_category": by_category,
        **closing_figures(closed),
        "overdue": overdue,
        "collective": collective,
        "repeat": repeat,
        "handoffs": {agency: dict(counts) for agency, counts in handoffs.items()},
        "by_region": dict(sorted(by_region.items())),
        "previous": {"month": previous_month, "received": prev_total},
        "rising_categories": rising(current_category, prev_category, top, "category"),
        "rising_regions": rising(by_region, prev_region, top, "region") if sub_column else [],
    }


def trend_point(month: str, received: Tally, closed: Tally, overdue: int,
                supervised: int = 0, petitions: Optional[Mapping] = None) -> dict:
    """A month of the trend; `petitions` (petition_figures) gives its 及时受理率 and 按期办结率."""
    figures = closing_figures(closed)
    petitions = petitions or {}
    return {"month": month, "received": received.n, "supervised": supervised,
            "timely_acceptance_rate": petitions.get("timely_acceptance_rate"),
            "petition_on_time_rate": petitions.get("on_time_rate"),
            "collective": received.sums.get("collective", 0),
            "repeat": received.sums.get("repeat", 0), "overdue": overdue,
            "closed": figures["closed"], "resolved": figures["resolved"],
            "resolution_rate": figures["resolution_rate"],
            "on_time_rate": figures["on_time_rate"],
            "satisfaction_rate": figures["satisfaction_rate"],
            "rating_rate": figures["rating_rate"]}


def answered_figures(answered: Tally) -> dict:
    """Petition matters closed with a written answer, and how many on time (按期办结率)."""
    on_time = answered.sums.get("on_time", 0)
    return {"answered": answered.n, "answered_on_time": on_time,
            "on_time_rate": rate(on_time, answered.n)}


def performance(key_column: str, closed: Sequence[Tally], open_: Sequence[Tally],
                overdue: Sequence[Tally], names: Mapping[str, Mapping],
                supervised: Sequence[Tally] = (), answered: Sequence[Tally] = ()
                ) -> List[dict]:
    """实绩考核 per unit or lead leader: the month's closings with their rates and
    satisfaction, the petition matters answered (and on time), the cases supervised (督办)
    in the month, and the open and overdue cases they hold now. `names` lists every key
    to show (with name and level); keys found only in the tallies are shown too.
    supervised: tallies by (key, case_id) of the month's supervisions."""
    by_key: Dict[str, dict] = {}

    def row(key) -> dict:
        k = _key(key)
        if k not in by_key:
            info = names.get(k, {})
            by_key[k] = {key_column: k, "name": info.get("name"), "level": info.get("level"),
                         **closing_figures(Tally({}, 0, {})),
                         "petitions": answered_figures(Tally({}, 0, {})), "supervised": 0,
                         "open": 0, "overdue": 0}
        return by_key[k]

    for k in names:
        row(k)
    for t in closed:
        row(t.group.get(key_column)).update(closing_figures(t))
    for t in answered:
        row(t.group.get(key_column))["petitions"] = answered_figures(t)
    for t in supervised:  # one group per (key, case): a case counts once
        row(t.group.get(key_column))["supervised"] += 1
    for t in open_:
        row(t.group.get(key_column))["open"] = t.n
    for t in overdue:
        row(t.group.get(key_column))["overdue"] = t.n
    return [by_key[k] for k in sorted(by_key)]
