"""Mediation's time limits as data: each with its legal basis and the date it took effect.

The limits that matter once a case is in mediation:

- the window for applying for judicial confirmation (司法确认) of an agreement: the
  parties apply jointly within 30 days of the agreement taking effect (on signing);
- each hand-off's own deadline: how long the receiving agency has to act on it — the
  court to decide whether to accept a confirmation application and, once accepted, to
  rule on it; the court to file a case handed back for litigation; an agency to accept a
  failed case;
- a petition matter's statutory steps (信访工作条例, 2022): the written notice of
  acceptance (受理) or non-acceptance within 15 days of registration; a request for
  review (复查) within 30 days of receiving the written answer, decided within 30 days;
  the same for re-review (复核), after which the same matter is not accepted again.

Periods are counted on the working-day calendar (gm_kernel.calendar), as assignment
counts them: the starting day is not counted, a period ending on a rest day or holiday
ends on the next working day (民法典 第二百零一条至第二百零三条; 民事诉讼法 第八十五条),
and a limit ends at the end of its last local day. Where no statute sets a figure the
limit is marked `local_default` and its basis says 本地默认 — this deployment's choice.

A limit may exist in several versions (same id, different `effective_from`): the one in
force on the starting day applies, so changing a rule never moves an earlier deadline.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Mapping, Sequence, Tuple

from gm_kernel.calendar import Deadline, WorkingCalendar
from gm_kernel.localtime import end_of_local_day, local_date  # local_date: used by case.py too


@dataclass(frozen=True)
class TimeLimit:
    id: str
    amount: int
    basis: str
    effective_from: date
    unit: str = "days"  # days | working_days
    local_default: bool = False

    @property
    def days(self) -> int:
        return self.amount


#: The parties apply jointly within 30 days of the agreement taking effect.
CONFIRMATION_WINDOW = "judicial-confirmation-application"
#: Once the court accepted (立案) a confirmation application, it rules within 30 days.
CONFIRMATION_RULING = "judicial-confirmation-decision"
#: A petition matter: acceptance or non-acceptance, told in writing.
PETITION_NOTICE = "petition-acceptance-notice"
#: A petition matter: request for review / re-review, and its decision.
REVIEW_REQUEST = {"review": "petition-review-request", "re_review": "petition-re-review-request"}
REVIEW_DECISION = {"review": "petition-review-decision", "re_review": "petition-re-review-decision"}

#: Hand-off kind → the id of the limit the receiving agency has to act on it (for a
#: confirmation: to decide whether to accept the application).
HANDOFF_LIMITS: Mapping[str, str] = {
    "judicial_confirmation": "judicial-confirmation-acceptance",
    "litigation": "litigation-filing",
    "public_security": "public-security-acceptance",
    "criminal_reconciliation": "criminal-reconciliation-acceptance",
    "petition_handling": "petition-acceptance",
}

RULES: Sequence[TimeLimit] = (
    TimeLimit(CONFIRMATION_WINDOW, 30,
              "《中华人民共和国人民调解法》第三十三条：双方当事人认为有必要的，可以自调解协议生效之日起"
              "三十日内共同向人民法院申请司法确认",
              date(2011, 1, 1)),
    TimeLimit(CONFIRMATION_WINDOW, 30,
              "《中华人民共和国民事诉讼法》（2023年修正）第二百零五条：申请司法确认的，由双方当事人自"
              "调解协议生效之日起三十日内，共同向人民法院提出；《中华人民共和国人民调解法》第三十三条",
              date(2024, 1, 1)),
    TimeLimit("judicial-confirmation-acceptance", 3,
              "《最高人民法院关于人民调解协议司法确认程序的若干规定》（2011年3月30日起施行）第四条："
              "人民法院收到当事人司法确认申请，应当在三日内决定是否受理",
              date(2011, 3, 30)),
    TimeLimit(CONFIRMATION_RULING, 30,
              "《中华人民共和国民事诉讼法》（2023年修正）第一百八十七条：人民法院适用特别程序审理的案件，"
              "应当在立案之日起三十日内审结；有特殊情况需要延长的，由本院院长批准",
              date(2024, 1, 1)),
    TimeLimit("litigation-filing", 7,
              "《中华人民共和国民事诉讼法》（2023年修正）第一百二十六条：符合起诉条件的，应当在七日内立案",
              date(2024, 1, 1)),
    TimeLimit("public-security-acceptance", 15,
              "本地默认：调解不成移交公安机关依法处理的，请公安机关在十五日内告知是否受理（法律未规定此期限）",
              date(2022, 5, 1), local_default=True),
    TimeLimit("criminal-reconciliation-acceptance", 15,
              "本地默认：移交人民检察院的，请检察院在十五日内告知是否受理（法律未规定此期限）",
              date(2022, 5, 1), local_default=True),
    TimeLimit("petition-acceptance", 15,
              "《信访工作条例》（2022年5月1日起施行）第二十三条第三款：有关机关、单位收到信访部门转送、交办的"
              "信访事项，应当自收到之日起15日内书面告知信访人接收情况以及处理途径和程序",
              date(2022, 5, 1)),
    TimeLimit(PETITION_NOTICE, 15,
              "《信访工作条例》（2022年5月1日起施行）第二十三条第二款：对信访人直接提出的信访事项……不能当场"
              "告知的，应当自收到信访事项之日起15日内书面告知信访人",
              date(2022, 5, 1)),
    TimeLimit("petition-review-request", 30,
              "《信访工作条例》第三十五条：信访人对信访处理意见不服的，可以自收到书面答复之日起30日内请求"
              "原办理机关、单位的上一级机关、单位复查",
              date(2022, 5, 1)),
    TimeLimit("petition-review-decision", 30,
              "《信访工作条例》第三十五条：收到复查请求的机关、单位应当自收到复查请求之日起30日内提出复查"
              "意见，并予以书面答复",
              date(2022, 5, 1)),
    TimeLimit("petition-re-review-request", 30,
              "《信访工作条例》第三十六条：信访人对复查意见不服的，可以自收到书面答复之日起30日内向复查机关、"
              "单位的上一级机关、单位请求复核",
              date(2022, 5, 1)),
    TimeLimit("petition-re-review-decision", 30,
              "《信访工作条例》第三十六条：收到复核请求的机关、单位应当自收到复核请求之日起30日内提出复核"
              "意见。信访人对复核意见不服，仍然以同一事实和理由提出投诉请求的，……不再受理",
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


def count(limit_id: str, start: datetime, calendar: WorkingCalendar,
          tz: tzinfo) -> Tuple[Deadline, TimeLimit]:
    """When the limit `limit_id` counted from `start` ends (start day not counted)."""
    rule = limit_in_force(limit_id, local_date(start, tz))
    return calendar.deadline(start, tz, **{rule.unit: rule.amount}), rule


def count_from_day(limit_id: str, day: date, calendar: WorkingCalendar,
                   tz: tzinfo) -> Tuple[Deadline, TimeLimit]:
    """`count` from a local date (e.g. an agreement's signing day)."""
    return count(limit_id, end_of_local_day(day, tz), calendar, tz)


def confirmation_window(signed_on: date, calendar: WorkingCalendar, tz: tzinfo) -> Deadline:
    """The last moment to apply for judicial confirmation of an agreement signed on `signed_on`."""
    return count_from_day(CONFIRMATION_WINDOW, signed_on, calendar, tz)[0]


def handoff_due(kind: str, requested_at: datetime, calendar: WorkingCalendar,
                tz: tzinfo) -> Tuple[datetime, TimeLimit]:
    """When the receiving agency must have acted on a hand-off of `kind`, and the rule."""
    deadline, rule = count(HANDOFF_LIMITS[kind], requested_at, calendar, tz)
    return deadline.due_at, rule


def ruling_due(accepted_at: datetime, calendar: WorkingCalendar,
               tz: tzinfo) -> Tuple[datetime, TimeLimit]:
    """When the court must rule on a confirmation application it accepted (立案)."""
    deadline, rule = count(CONFIRMATION_RULING, accepted_at, calendar, tz)
    return deadline.due_at, rule


def petition_notice_due(registered_at: datetime, calendar: WorkingCalendar,
                        tz: tzinfo) -> datetime:
    """When a petition matter registered at `registered_at` must have been told whether
    it is accepted (受理 or 不予受理, in writing)."""
    return count(PETITION_NOTICE, registered_at, calendar, tz)[0].due_at


def review_dues(stage: str, received_on: date, requested_on: date,
                calendar: WorkingCalendar, tz: tzinfo) -> Tuple[datetime, datetime]:
    """For a 复查 (`review`) or 复核 (`re_review`): by when it had to be requested (from
    the day the answer was received) and by when it is to be decided (from the request)."""
    request_due, _ = count_from_day(REVIEW_REQUEST[stage], received_on, calendar, tz)
    decision_due, _ = count_from_day(REVIEW_DECISION[stage], requested_on, calendar, tz)
    return request_due.due_at, decision_due.due_at
