"""What a petitioner sees with the query code (CONTRACT.md §8): the case's number, status,
registration and due dates and its public timeline — stage names and local dates only.
Pure.

Built from a whitelist, never by removing fields from the analyst's view: a stage is one
of PUBLIC_STAGES (an event type not listed is not shown), and each entry is only
`{"stage", "on"}`. So no name, id, note, agreement term, actor or comment can reach it,
whatever later events carry (tests/unit/test_public_status.py checks every event type).
"""
from __future__ import annotations

from typing import Mapping, Optional
from zoneinfo import ZoneInfo

from gm_contracts import assignment_events, intake_events, mediation_events
from gm_kernel import parse_time, type_name

from .casefile import assignment_of, identity, ordered_timeline, status_of

#: Event type → the stage the petitioner is shown (labels: the page, gm_directory.labels).
#: Internal steps (warnings, supervision, reminders, reassignment, hand-off bookkeeping)
#: are not the petitioner's business and are left out.
PUBLIC_STAGES = {type_name(event_type): stage for event_type, stage in (
    (intake_events.CaseRegistered, "registered"),              # 登记
    (assignment_events.AssignmentMade, "assigned"),            # 交办
    (assignment_events.DeadlineExtended, "extended"),          # 延期
    (mediation_events.PetitionAccepted, "accepted"),           # 受理
    (mediation_events.PetitionDeclined, "not_accepted"),       # 不予受理
    (mediation_events.SessionHeld, "mediation_session"),       # 调解
    (mediation_events.AgreementReached, "agreement"),          # 达成调解协议
    (mediation_events.ConfirmationRequested, "confirmation_requested"),  # 申请司法确认
    (mediation_events.ConfirmationRuled, "confirmation_ruled"),  # 司法确认裁定
    (mediation_events.HandOffRequested, "handed_over"),        # 移交
    (mediation_events.MediationFailed, "mediation_ended"),     # 调解终止
    (mediation_events.MediationWithdrawn, "withdrawn"),        # 撤回
    (mediation_events.PetitionAnswered, "answered"),           # 出具处理意见
    (mediation_events.ReviewRequested, "review_requested"),    # 申请复查/复核
    (mediation_events.ReviewDecided, "review_decided"),        # 复查/复核意见
    (mediation_events.CaseClosed, "closed"),                   # 办结
    (mediation_events.FollowUpRecorded, "follow_up"),          # 回访
    (mediation_events.PetitionerRated, "rated"),               # 已评价
)}
PUBLIC_FIELDS = ("case_number", "status", "registered_on", "due_on", "timeline")


def local_day(instant: Optional[str], tz: ZoneInfo) -> Optional[str]:
    if not instant:
        return None
    try:
        return parse_time(instant).astimezone(tz).date().isoformat()
    except (TypeError, ValueError):
        return None


def is_registered(state: Optional[Mapping]) -> bool:
    """A case the petitioner can be shown: intake's registration has arrived."""
    return state is not None and identity(state)["registered_at"] is not None


def public_status(state: Mapping, tz: ZoneInfo) -> dict:
    """GET /status/{query_code}: exactly PUBLIC_FIELDS, nothing personal."""
    ident = identity(state)
    timeline = []
    for entry in ordered_timeline(state["timeline"]):
        stage = PUBLIC_STAGES.get(entry.get("type"))
        if stage is not None:
            timeline.append({"stage": stage, "on": local_day(entry.get("occurred_at"), tz)})
    return {"case_number": ident["case_number"], "status": status_of(state),
            "registered_on": local_day(ident["registered_at"], tz),
            "due_on": local_day((assignment_of(state) or {}).get("due_at"), tz),
            "timeline": timeline}
