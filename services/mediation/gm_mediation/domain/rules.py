"""Mediation's time limits as data: each with its legal basis and the date it took effect.

Two kinds of limit matter once a case is in mediation:

- the window for applying for judicial confirmation (司法确认) of an agreement: the
  parties apply within 30 days of the agreement taking effect (on signing);
- each hand-off's own deadline: how long the receiving agency has to act on it — the
  court to rule on a confirmation request, or an agency to accept a failed case.

Days are calendar days in the deployment's time zone, counted as assignment counts
them: the starting day is not counted (民法典 第二百零一条), and a limit ends at the end of
its last local day (23:59:59.999999), so "within 30 days" leaves the whole last day.
Public holidays are not modelled.

A limit may exist in several versions (same id, different `effective_from`): the one in
force on the starting day applies, so changing a rule never moves an earlier deadline.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Mapping, Sequence, Tuple

from gm_kernel.localtime import days_after, local_date  # local_date: used by case.py too


@dataclass(frozen=True)
class TimeLimit:
    id: str
    days: int
    basis: str
    effective_from: date


#: Apply for judicial confirmation within 30 days of the agreement taking effect.
CONFIRMATION_WINDOW = "judicial-confirmation-application"

#: Hand-off kind → the id of the limit the receiving agency has to act on it.
HANDOFF_LIMITS: Mapping[str, str] = {
    "judicial_confirmation": "judicial-confirmation-decision",
    "litigation": "litigation-filing",
    "public_security": "public-security-acceptance",
    "criminal_reconciliation": "criminal-reconciliation-acceptance",
    "petition_handling": "petition-acceptance",
}

RULES: Sequence[TimeLimit] = (
    TimeLimit(CONFIRMATION_WINDOW, 30,
              "《中华人民共和国人民调解法》第三十三条：经人民调解委员会调解达成调解协议后，双方当事人"
              "认为有必要的，可以自调解协议生效之日起三十日内共同向人民法院申请司法确认",
              date(2011, 1, 1)),
    # DESIGN.md §5: "court decides within 30 days" (人民调解法 art. 33; 民事诉讼法 arts.
    # 205–206). The court must rule; accepting the application does not stop the clock.
    TimeLimit("judicial-confirmation-decision", 30,
              "《中华人民共和国民事诉讼法》第二百零五条、第二百零六条（确认调解协议案件）；"
              "本市诉调对接规定：人民法院自收到申请之日起三十日内作出是否确认的裁定",
              date(2024, 1, 1)),
    TimeLimit("litigation-filing", 7,
              "《中华人民共和国民事诉讼法》第一百二十六条：符合起诉条件的，应当在七日内立案",
              date(2024, 1, 1)),
    # Police, procuratorate and petition bureau: the receiving agency notifies acceptance
    # within 15 days, after 信访工作条例 art. 23 (DESIGN.md §5), applied to every
    # failure hand-off by local practice.
    TimeLimit("public-security-acceptance", 15,
              "本市公调对接工作规定（参照《信访工作条例》第二十三条）：公安机关自收到移交之日起"
              "十五日内告知是否受理",
              date(2022, 5, 1)),
    TimeLimit("criminal-reconciliation-acceptance", 15,
              "本市检调对接工作规定（参照《信访工作条例》第二十三条）：人民检察院自收到移交之日起"
              "十五日内告知是否受理",
              date(2022, 5, 1)),
    TimeLimit("petition-acceptance", 15,
              "《信访工作条例》（2022年）第二十三条：有权处理的机关、单位应当自收到转送、交办的"
              "信访事项之日起十五日内告知是否受理",
              date(2022, 5, 1)),
)


class NoLimitInForce(LookupError):
    """No version of a limit had taken effect on the given day."""


def limit_in_force(limit_id: str, on: date, rules: Sequence[TimeLimit] = RULES) -> TimeLimit:
    """The version of `limit_id` in force on `on` (the latest that took effect by then)."""
    versions = sorted((r for r in rules if r.id == limit_id), key=lambda r: r.effective_from)
    in_force = [r for r in versions if r.effective_from <= on]
    if not in_force:
        # Before the first version took effect, the earliest still describes the practice.
        if versions:
            return versions[0]
        raise NoLimitInForce(limit_id)
    return in_force[-1]


def confirmation_window_end(signed_on: date, tz: tzinfo) -> datetime:
    """The last moment to apply for judicial confirmation of an agreement signed on `signed_on`."""
    return days_after(signed_on, limit_in_force(CONFIRMATION_WINDOW, signed_on).days, tz)


def handoff_due(kind: str, requested_at: datetime, tz: tzinfo) -> Tuple[datetime, TimeLimit]:
    """When the receiving agency must have acted on a hand-off of `kind`, and the rule."""
    day = local_date(requested_at, tz)
    rule = limit_in_force(HANDOFF_LIMITS[kind], day)
    return days_after(day, rule.days, tz), rule
