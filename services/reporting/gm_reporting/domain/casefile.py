"""The case file: one case seen through the events of intake, assignment and mediation.

A pure projector: `project_case(state, source, event)` returns the new state (a plain,
JSON-able dict) or None when the event changes nothing. No I/O, no clock.

Correct whatever the interleaving of the three sources. Each source's events arrive in
that source's log order (gm_platform.feed), but a case's AssignmentMade may come before
its CaseRegistered, or its MediationOpened before both. So the state keeps each source's
part apart (`intake`, `assignment`, `mediation`), each built only from its own source in
order, and everything shown — status, the assignment, the flags, the row the ledger
queries — is derived from the parts at the end (`case_view`, `case_row`). The timeline
is kept sorted by (occurred_at, source, position), so it too is the same whatever
arrived first.

Exactly once: the state records, per source, the last position applied, and an event at
or below it is ignored. Together with the feed's tracking this means an event is never
counted twice — even by a store without multi-document transactions that re-applies an
event after a crash.

Personal data: id numbers (and phone numbers) are masked when projected — the reporting
store never holds them in full.
"""
from __future__ import annotations

import bisect
from typing import Any, Callable, Dict, List, Mapping, Optional

from gm_contracts import assignment_events, intake_events, mediation_events, streams
from gm_contracts.mediation_events import REVIEW_STAGES, SATISFACTION_LEVELS, satisfaction_level
from gm_contracts.vocabulary import RESOLVED_OUTCOMES
from gm_kernel import type_name

from .periods import norm_time

SOURCES = ("intake", "assignment", "mediation")
_RANK = {s: i for i, s in enumerate(SOURCES)}

# A case's status is one of gm_contracts.vocabulary's CASE_STATUSES (status_of); how it
# closed, one of CASE_OUTCOMES: the outcomes agencies are told, and for a petition matter
# `declined` (不予受理) and `answered` (信访处理意见书; resolved when the opinion supports
# the claim, as CaseClosed's `resolved` says).

# A petition matter's acceptance decision (mediation's PetitionAccepted / PetitionDeclined)
# and the stage of its handling period (assignment's HandlingPeriodStarted).
PETITION_DECISIONS = ("accepted", "declined")
# A hand-off as the board shows it. A confirmation the court refused is `not_confirmed`
# here (the API's value since the board existed; ConfirmationRuled says `confirmed: false`).
HANDOFF_STATUSES = ("requested", "accepted", "rejected", "confirmed", "not_confirmed")
# What puts a case under supervision (督办): SupervisionOrdered, and in streams written
# before it existed CaseEscalated (the older practice: one level up, a fresh deadline).
SUPERVISION_ORDERED = type_name(assignment_events.SupervisionOrdered)
SUPERVISION_TYPES = (SUPERVISION_ORDERED, type_name(assignment_events.CaseEscalated))
CASE_REGISTERED = type_name(intake_events.CaseRegistered)  # the only intake event of a case


# -- personal data -----------------------------------------------------------------------
def mask_id_number(value: Optional[str]) -> Optional[str]:
    """Keep the first 4 and last 4 characters: 4101**********002X."""
    if not value:
        return value
    s = str(value)
    return s[:4] + "*" * (len(s) - 8) + s[-4:] if len(s) > 8 else "*" * len(s)


def mask_phone(value: Optional[str]) -> Optional[str]:
    """Keep the first 3 and last 4 digits: 138****0000."""
    if not value:
        return value
    s = str(value)
    return s[:3] + "*" * (len(s) - 7) + s[-4:] if len(s) > 7 else "*" * len(s)


def mask_parties(parties) -> List[dict]:
    out = []
    for p in parties or ():
        if type(p) is not dict and not isinstance(p, Mapping):  # dict: the fast check
            continue
        out.append({"role": p.get("role"), "name": p.get("name"),
                    "id_number": mask_id_number(p.get("id_number")),
                    "phone": mask_phone(p.get("phone"))})
    return out


# -- which case an event belongs to ---------------------------------------------------------
# Which case and hand-off the contract says an event is about (gm_contracts.streams), and
# what of it reporting follows: a case is opened by intake's registration only (intake's
# other events are reports and assessments), hand-offs by mediation's hand-off events.
def case_id_of(source: str, event) -> Optional[str]:
    if source == "intake":
        return streams.case_id_of(event) if event.type == CASE_REGISTERED else None
    if source not in ("assignment", "mediation"):
        return None
    return streams.case_id_of(event)


def query_code_digest_of(source: str, event) -> Optional[str]:
    """The digest of the petitioner's query code a registration carries (CONTRACT §8)."""
    if source != "intake" or event.type != CASE_REGISTERED:
        return None
    digest = (event.data or {}).get("query_code_digest")
    return digest if isinstance(digest, str) and digest else None


def handoff_id_of(source: str, event) -> Optional[str]:
    if source != "mediation" or event.type not in HANDOFF_TYPES:
        return None
    return streams.handoff_id_of(event)


# -- the state -----------------------------------------------------------------------------
def new_case(case_id: str) -> dict:
    return {"case_id": case_id, "positions": {}, "intake": None, "assignment": None,
            "mediation": None, "timeline": []}


def _new_assignment() -> dict:
    return {"made": False, "task": None, "track": None, "level": None, "unit": None,
            "responsible_leader": None, "lead": None, "handler": None, "due_at": None,
            "days": None, "key_case": None, "region": None, "petition_matter": False,
            "made_at": None, "warnings": 0, "escalations": 0, "first_overdue_due_at": None,
            # 督办 / 催办: how often supervised, by whom (the latest), when, reminders
            "supervisions": 0, "supervisor": None, "supervising_unit": None,
            "supervised_at": None, "reminders": 0, "reminded_at": None,
            # a petition matter's handling period (受理): stage and day it started
            "handling": None,
            "extensions": 0, "reassignments": 0, "joint": [], "closed": None, "failed": None}


def _new_mediation() -> dict:
    return {"opened": None, "assigned": None, "phase": "in_mediation", "sessions": 0,
            "duties": [], "agreement": None, "failure": None, "withdrawn": None,
            "reopened": 0, "closed": None, "follow_up": None, "handoffs": {},
            "petition": None, "rating": None}


def project_case(state: Optional[dict], source: str, event) -> Optional[dict]:
    """The case's state after `event` from `source`; None if the event changes nothing."""
    case_id = case_id_of(source, event)
    if case_id is None:
        return None
    if state is None:
        state = new_case(case_id)
    if state["positions"].get(source, 0) >= event.position:
        return None  # applied before: never count an event twice
    new = dict(state)
    new["positions"] = {**state["positions"], source: event.position}
    data = event.data or {}
    if source == "intake":
        new["intake"] = _registered(data, event)
    elif source == "assignment":
        handler = _ASSIGNMENT_HANDLERS.get(event.type)
        if handler is not None:
            part = dict(state["assignment"] or _new_assignment())
            handler(part, data, event)
            new["assignment"] = part
    else:
        part = dict(state["mediation"] or _new_mediation())
        handler = _MEDIATION_HANDLERS.get(event.type)
        if handler is not None:  # an unknown type is only shown in the timeline
            handler(part, data, event)
        new["mediation"] = part
    entry = {"type": event.type, "occurred_at": norm_time(event.occurred_at),
             "actor": event.actor, "source": source, "position": event.position,
             "id": event.id, "causation_id": event.causation_id}
    timeline = list(state["timeline"])
    bisect.insort(timeline, entry, key=_timeline_key)  # kept in time order, whatever
    new["timeline"] = timeline  # the arrival order; causes are put first when shown
    return new


def _timeline_key(entry: Mapping) -> tuple:
    return (entry["occurred_at"] or "", _RANK.get(entry["source"], 9), entry["position"])


def ordered_timeline(entries: List[dict]) -> List[dict]:
    """Oldest first (the state keeps them so); at the same instant (AssignmentClosed carries the time of the
    CaseClosed that caused it) an event never comes before the event that caused it.
    Depends only on the set of entries, not on the order they arrived in."""
    base = sorted(entries, key=_timeline_key)
    ids = {e.get("id") for e in base}
    if not any(e.get("causation_id") in ids for e in base):
        return base
    out: List[dict] = []
    placed: set = set()
    waiting: Dict[str, List[dict]] = {}

    def place(e: dict) -> None:
        out.append(e)
        placed.add(e.get("id"))
        for follower in waiting.pop(e.get("id"), []):
            place(follower)

    for e in base:
        cause = e.get("causation_id")
        if cause and cause in ids and cause not in placed and cause != e.get("id"):
            waiting.setdefault(cause, []).append(e)
        else:
            place(e)
    for rest in waiting.values():  # a cause that never got placed (cannot happen)
        out.extend(rest)
    return out


# -- intake --------------------------------------------------------------------------------
def _registered(data: Mapping, event) -> dict:
    return {
        "case_number": data.get("case_number"),
        "channel": data.get("channel"),
        "category": data.get("category"),
        "summary": data.get("summary"),
        "region": data.get("region"),
        "source_agency": data.get("source_agency"),
        "referral_id": data.get("referral_id"),
        "kind": data.get("kind"),
        "procedure": data.get("procedure"),
        "headcount": data.get("headcount"),
        "collective": bool(data.get("collective")),
        "repeat": bool(data.get("repeat")),
        "key_case": bool(data.get("key_case")),
        "key_reasons": list(data.get("key_reasons") or []),
        "leader": data.get("leader"),
        "repeat_of": [e.get("case_id") for e in data.get("repeat_of") or ()
                      if isinstance(e, Mapping)],
        # 越级访: the lower-level cases of the same matter (absent in early events)
        "level_skipping_of": [str(c) for c in data.get("level_skipping_of") or ()],
        "level_skipping": bool(data.get("level_skipping") or data.get("level_skipping_of")),
        "screening_report_id": data.get("screening_report_id"),
        "risk_assessment_id": data.get("risk_assessment_id"),
        "registered_at": norm_time(data.get("registered_at")) or norm_time(event.occurred_at),
        "parties": mask_parties(data.get("parties")),
    }


# -- assignment ----------------------------------------------------------------------------
def _made(a: dict, d: Mapping, e) -> None:
    a.update(made=True, task=d.get("task"), track=d.get("track"), level=d.get("level"),
             unit=d.get("unit"), responsible_leader=d.get("responsible_leader"),
             lead=d.get("lead"), handler=d.get("handler"), due_at=norm_time(d.get("due_at")),
             days=d.get("days"), key_case=d.get("key_case"), region=d.get("region"),
             petition_matter=bool(d.get("petition_matter")),
             made_at=norm_time(e.occurred_at))


def _warned(a: dict, d: Mapping, e) -> None:
    a["warnings"] += 1


def _supervised(a: dict, d: Mapping, e) -> None:
    """督办: the deadline passed; the unit keeps the case and the deadline stays — the
    case is overdue because its deadline passed, not because it is supervised."""
    a["supervisions"] = a.get("supervisions", 0) + 1
    a.update(supervisor=d.get("supervisor"), supervising_unit=d.get("supervising_unit"),
             supervised_at=norm_time(d.get("ordered_at")) or norm_time(e.occurred_at))


def _reminded(a: dict, d: Mapping, e) -> None:
    """催办: still overdue under supervision."""
    a["reminders"] = a.get("reminders", 0) + 1
    a["reminded_at"] = norm_time(d.get("reminded_at")) or norm_time(e.occurred_at)
    if d.get("supervisor") is not None:
        a["supervisor"] = d["supervisor"]


def _handling_started(a: dict, d: Mapping, e) -> None:
    """A petition matter accepted (受理): its handling period runs from acceptance."""
    a["handling"] = {"stage": d.get("stage"), "accepted_on": d.get("accepted_on"),
                     "previous_due_at": norm_time(d.get("previous_due_at"))}
    a["due_at"] = norm_time(d.get("due_at")) or a["due_at"]


def _escalated(a: dict, d: Mapping, e) -> None:
    if a["escalations"] == 0:
        a["first_overdue_due_at"] = norm_time(d.get("previous_due_at")) or a["due_at"]
    a["escalations"] += 1
    a.update(unit=d.get("unit", a["unit"]), level=d.get("level", a["level"]),
             handler=d.get("handler", a["handler"]), lead=d.get("lead", a["lead"]),
             due_at=norm_time(d.get("due_at")) or a["due_at"])


def _extended(a: dict, d: Mapping, e) -> None:
    a["extensions"] += 1
    a["due_at"] = norm_time(d.get("due_at")) or a["due_at"]


def _reassigned(a: dict, d: Mapping, e) -> None:
    a["reassignments"] += 1
    a.update(unit=d.get("unit", a["unit"]), level=d.get("level", a["level"]),
             handler=d.get("handler", a["handler"]),
             responsible_leader=d.get("responsible_leader", a.get("responsible_leader")))


def _joint(a: dict, d: Mapping, e) -> None:
    a["joint"] = [*a["joint"], {"participants": list(d.get("participants") or []),
                                "meeting": bool(d.get("meeting"))}]


def _assignment_closed(a: dict, d: Mapping, e) -> None:
    on_time = d.get("on_time")
    a["closed"] = {"closed_at": norm_time(d.get("closed_at")) or norm_time(e.occurred_at),
                   "outcome": d.get("outcome"),
                   "on_time": None if on_time is None else bool(on_time)}


def _assignment_failed(a: dict, d: Mapping, e) -> None:
    a["failed"] = d.get("reason") or "unknown"


# -- mediation -----------------------------------------------------------------------------
def _opened(m: dict, d: Mapping, e) -> None:
    m["opened"] = {
        "case_number": d.get("case_number"), "source_agency": d.get("source_agency"),
        "referral_id": d.get("referral_id"), "kind": d.get("kind"),
        "channel": d.get("channel"), "category": d.get("category"),
        "region": d.get("region"), "key_case": d.get("key_case"),
        "collective": d.get("collective"), "repeat": d.get("repeat"),
        "registered_at": norm_time(d.get("registered_at")),
        "parties": mask_parties(d.get("parties")),
    }


def _mediator(m: dict, d: Mapping, e) -> None:
    m["assigned"] = {"track": d.get("track"), "level": d.get("level"), "unit": d.get("unit"),
                     "handler": d.get("handler"), "lead": d.get("lead"),
                     "due_at": norm_time(d.get("due_at"))}


def _session(m: dict, d: Mapping, e) -> None:
    m["sessions"] += 1


def _duty(m: dict, d: Mapping, e) -> None:
    if d.get("duty"):
        m["duties"] = sorted({*m["duties"], d["duty"]})


def _agreement(m: dict, d: Mapping, e) -> None:
    m["agreement"] = {"signed_on": d.get("signed_on"), "at": norm_time(e.occurred_at)}
    m["phase"] = "agreement"


def _failed(m: dict, d: Mapping, e) -> None:
    m["failure"] = {"reason": d.get("reason"), "next": d.get("next")}


def _withdrawn(m: dict, d: Mapping, e) -> None:
    m["withdrawn"] = {"reason": d.get("reason")}


def _reopened(m: dict, d: Mapping, e) -> None:
    m["reopened"] += 1
    m["phase"] = "in_mediation"


def follow_up_level(score, level) -> Optional[str]:
    """A follow-up's (回访) satisfaction level (满意 / 基本满意 / 不满意): as recorded, else
    what its 1–5 score counts as — events recorded before levels have only the score
    (gm_contracts satisfaction_level: 4–5 satisfied, 3 basically satisfied, 1–2 not)."""
    if level in SATISFACTION_LEVELS:
        return level
    try:
        return satisfaction_level(score)
    except ValueError:
        return None


def _follow_up(m: dict, d: Mapping, e) -> None:
    score = d.get("satisfaction")
    score = score if isinstance(score, int) and not isinstance(score, bool) else None
    m["follow_up"] = {"satisfaction": score,
                      "satisfaction_level": follow_up_level(score, d.get("satisfaction_level")),
                      "petition_ceased": d.get("petition_ceased"),
                      "visited_at": norm_time(d.get("visited_at")) or norm_time(e.occurred_at)}


def _rated(m: dict, d: Mapping, e) -> None:
    """The petitioner's own rating (CONTRACT §8), once per case (mediation sees to it)."""
    m["rating"] = {"rating": d.get("rating"), "comment": d.get("comment"),
                   "rated_at": norm_time(d.get("rated_at")) or norm_time(e.occurred_at)}


def _case_closed(m: dict, d: Mapping, e) -> None:
    m["closed"] = {"outcome": d.get("outcome"), "resolved": bool(d.get("resolved")),
                   "closed_at": norm_time(d.get("closed_at")) or norm_time(e.occurred_at)}


def _petition(m: dict) -> dict:
    return dict(m.get("petition") or {
        "decision": None, "accepted_on": None, "notified_on": None, "notice_due_at": None,
        "timely": None, "simple": None, "route": None, "answered": None, "reviews": [],
        "final": False})


def _petition_accepted(m: dict, d: Mapping, e) -> None:
    p = _petition(m)
    p.update(decision="accepted", accepted_on=d.get("accepted_on"),
             notified_on=d.get("notified_on"), notice_due_at=norm_time(d.get("notice_due_at")),
             timely=_flag(d.get("timely")), simple=_flag(d.get("simple")))
    m["petition"] = p


def _petition_declined(m: dict, d: Mapping, e) -> None:
    p = _petition(m)
    p.update(decision="declined", notified_on=d.get("notified_on"),
             notice_due_at=norm_time(d.get("notice_due_at")), timely=_flag(d.get("timely")),
             route=d.get("route"))
    m["petition"] = p


def _petition_answered(m: dict, d: Mapping, e) -> None:
    p = _petition(m)
    p["answered"] = {"opinion": d.get("opinion"), "issued_on": d.get("issued_on")}
    m["petition"] = p


def _review_requested(m: dict, d: Mapping, e) -> None:
    p = _petition(m)
    p["reviews"] = [*(r for r in p["reviews"] if r["stage"] != d.get("stage")),
                    {"stage": d.get("stage"), "requested_on": d.get("requested_on"),
                     "received_on": d.get("received_on"), "due_at": norm_time(d.get("due_at")),
                     "decided": None}]
    m["petition"] = p


def _review_decided(m: dict, d: Mapping, e) -> None:
    p = _petition(m)
    decided = {"opinion": d.get("opinion"), "issued_on": d.get("issued_on"),
               "on_time": _flag(d.get("on_time"))}
    reviews = [dict(r) for r in p["reviews"]]
    for r in reviews:
        if r["stage"] == d.get("stage"):
            r["decided"] = decided
            break
    else:  # a decision whose request is not known (cannot happen in mediation's log)
        reviews.append({"stage": d.get("stage"), "requested_on": None, "received_on": None,
                        "due_at": None, "decided": decided})
    p["reviews"] = reviews
    p["final"] = bool(p["final"] or d.get("final"))
    m["petition"] = p


def _flag(value) -> Optional[bool]:
    return None if value is None else bool(value)


def _handoff(m: dict, d: Mapping, e) -> None:
    hid = handoff_id_of("mediation", e)
    m["handoffs"] = dict(m["handoffs"])
    m["handoffs"][hid] = advance_handoff(m["handoffs"].get(hid), e)


def advance_handoff(h: Optional[dict], e) -> dict:
    """A hand-off's own record after one of its events (shared by the case file and the
    hand-off board)."""
    d = e.data or {}
    h = dict(h or {"handoff_id": d.get("handoff_id"), "agency": d.get("agency"),
                   "kind": d.get("kind"), "status": "requested", "requested_at": None,
                   "due_at": None, "accepted_at": None, "rejected_at": None,
                   "ruled_at": None, "overdue": False, "agency_case_number": None,
                   "reason": None, "ruling_number": None})
    step = _HANDOFF_STEPS.get(e.type)
    if step is not None:
        step(h, d, norm_time(e.occurred_at))
    return h


def _handoff_requested(h: dict, d: Mapping, at: Optional[str]) -> None:
    h.update(agency=d.get("agency", h["agency"]), kind=d.get("kind", h["kind"]),
             status="requested", requested_at=norm_time(d.get("requested_at")) or at,
             due_at=norm_time(d.get("due_at")))


def _handoff_accepted(h: dict, d: Mapping, at: Optional[str]) -> None:
    h.update(status="accepted", accepted_at=at, agency_case_number=d.get("agency_case_number"))
    if d.get("due_at"):  # a confirmation: the court's time to rule runs from here
        h["due_at"] = norm_time(d["due_at"])


def _handoff_rejected(h: dict, d: Mapping, at: Optional[str]) -> None:
    h.update(status="rejected", rejected_at=at, reason=d.get("reason"))


def _confirmation_ruled(h: dict, d: Mapping, at: Optional[str]) -> None:
    h.update(status="confirmed" if d.get("confirmed") else "not_confirmed", ruled_at=at,
             ruling_number=d.get("ruling_number"), reason=d.get("reason"))


def _handoff_overdue(h: dict, d: Mapping, at: Optional[str]) -> None:
    h["overdue"] = True


def handoff_open(h: Mapping) -> bool:
    """Waiting on the agency: not answered yet, or a confirmation accepted but not ruled."""
    return h.get("status") == "requested" or (
        h.get("status") == "accepted" and h.get("kind") == "judicial_confirmation")


# -- what each event does, by its type (the gm_contracts schema's name) ---------------------
Step = Callable[[dict, Mapping, Any], None]


def _by_type(table: Mapping[Any, Step]) -> Dict[str, Step]:
    return {type_name(event_type): step for event_type, step in table.items()}


_HANDOFF_STEPS = _by_type({
    mediation_events.HandOffRequested: _handoff_requested,
    mediation_events.HandOffAccepted: _handoff_accepted,
    mediation_events.HandOffRejected: _handoff_rejected,
    mediation_events.ConfirmationRuled: _confirmation_ruled,
    mediation_events.HandOffOverdue: _handoff_overdue,
})
HANDOFF_TYPES = tuple(_HANDOFF_STEPS)
_ASSIGNMENT_HANDLERS = _by_type({
    assignment_events.AssignmentMade: _made,
    assignment_events.DeadlineWarningRaised: _warned,
    assignment_events.SupervisionOrdered: _supervised,
    assignment_events.SupervisionReminded: _reminded,
    assignment_events.HandlingPeriodStarted: _handling_started,
    assignment_events.CaseEscalated: _escalated,
    assignment_events.DeadlineExtended: _extended,
    assignment_events.CaseReassigned: _reassigned,
    assignment_events.JointHandlingArranged: _joint,
    assignment_events.AssignmentClosed: _assignment_closed,
    assignment_events.AssignmentFailed: _assignment_failed,
})
_MEDIATION_HANDLERS = _by_type({
    mediation_events.MediationOpened: _opened,
    mediation_events.MediatorAssigned: _mediator,
    mediation_events.SessionHeld: _session,
    mediation_events.DutyRecorded: _duty,
    mediation_events.AgreementReached: _agreement,
    mediation_events.MediationFailed: _failed,
    mediation_events.MediationWithdrawn: _withdrawn,
    mediation_events.MediationReopened: _reopened,
    mediation_events.FollowUpRecorded: _follow_up,
    mediation_events.PetitionerRated: _rated,
    mediation_events.CaseClosed: _case_closed,
    mediation_events.PetitionAccepted: _petition_accepted,
    mediation_events.PetitionDeclined: _petition_declined,
    mediation_events.PetitionAnswered: _petition_answered,
    mediation_events.ReviewRequested: _review_requested,
    mediation_events.ReviewDecided: _review_decided,
    **{event_type: _handoff for event_type in _HANDOFF_STEPS},
})
#: The event types that change a case's file; a case's other events join only its
#: timeline (docs/events.md lists which is which).
CASE_FILE_TYPES = frozenset({CASE_REGISTERED, *_ASSIGNMENT_HANDLERS, *_MEDIATION_HANDLERS})


# -- what is shown, derived from the parts -------------------------------------------------
def identity(s: Mapping) -> dict:
    """Who and what the case is: intake's registration, else mediation's copy of it."""
    i = s.get("intake") or {}
    m = (s.get("mediation") or {}).get("opened") or {}
    a = s.get("assignment") or {}

    def pick(key, default=None):
        for part in (i, m):
            if part.get(key) is not None:
                return part[key]
        return default

    return {
        "case_number": pick("case_number"), "channel": pick("channel"),
        "source_agency": pick("source_agency"), "referral_id": pick("referral_id"),
        "kind": pick("kind"), "category": pick("category"),
        "region": pick("region") or a.get("region"),
        "collective": bool(pick("collective", False)), "repeat": bool(pick("repeat", False)),
        "key_case": bool(pick("key_case", False) or a.get("key_case")),
        "registered_at": pick("registered_at"), "parties": pick("parties", []),
    }


def assignment_of(s: Mapping) -> Optional[dict]:
    """The 四定 as assignment recorded them (else mediation's copy), with extensions,
    escalations (older streams) and supervision (督办: who supervises, since when, how
    many reminders (催办)); `supervisions` counts both ways a case was supervised."""
    a = s.get("assignment")
    if a and a.get("made"):
        return {"task": a.get("task"), "track": a["track"], "level": a["level"],
                "unit": a["unit"], "responsible_leader": a.get("responsible_leader"),
                "lead": a["lead"], "handler": a["handler"], "due_at": a["due_at"],
                "days": a["days"], "extended": a["extensions"] > 0,
                "escalations": a["escalations"], "supervisions": supervisions(a),
                "supervision": supervision_of(a), "handling": a.get("handling")}
    m = (s.get("mediation") or {}).get("assigned")
    if m:
        return {"task": None, **m, "responsible_leader": None, "days": None,
                "extended": False, "escalations": 0, "supervisions": 0, "supervision": None,
                "handling": None}
    return None


def supervisions(a: Mapping) -> int:
    """How often the case was supervised (督办): SupervisionOrdered, plus the escalations
    of streams written before supervision existed."""
    return (a.get("supervisions") or 0) + (a.get("escalations") or 0)


def supervision_of(a: Mapping) -> Optional[dict]:
    """The latest supervision (督办) and the reminders (催办) since it began; None if the
    case was never supervised (an old escalation is counted in `escalations`)."""
    if not a.get("supervisions"):
        return None
    return {"supervisor": a.get("supervisor"), "supervising_unit": a.get("supervising_unit"),
            "ordered_at": a.get("supervised_at"), "reminders": a.get("reminders") or 0,
            "reminded_at": a.get("reminded_at")}


def is_petition_matter(s: Mapping) -> bool:
    """A petition matter (信访事项): assignment placed it as one, or mediation decided
    its acceptance (受理 / 不予受理)."""
    a = s.get("assignment") or {}
    p = (s.get("mediation") or {}).get("petition") or {}
    return bool(a.get("petition_matter")) or p.get("decision") is not None


def petition_of(s: Mapping) -> Optional[dict]:
    """The petition workflow (信访工作条例) of a petition matter: the acceptance decision,
    the written answer, the reviews (复查, 复核); None for any other case."""
    p = (s.get("mediation") or {}).get("petition")
    if not p and not is_petition_matter(s):
        return None
    p = p or _petition({})
    order = {stage: i for i, stage in enumerate(REVIEW_STAGES)}
    reviews = sorted(p.get("reviews") or [], key=lambda r: order.get(r.get("stage"), 9))
    return {"decision": p.get("decision"), "accepted_on": p.get("accepted_on"),
            "notified_on": p.get("notified_on"), "notice_due_at": p.get("notice_due_at"),
            "timely": p.get("timely"), "simple": p.get("simple"), "route": p.get("route"),
            "answered": p.get("answered"),
            "reviews": [{"stage": r.get("stage"), "requested_on": r.get("requested_on"),
                         "due_at": r.get("due_at"), "decided": r.get("decided")}
                        for r in reviews],
            "final": bool(p.get("final"))}


def closing(s: Mapping) -> Optional[dict]:
    """closed_at, outcome, resolved and on_time of a closed case; None while open.

    On time: closed no later than the deadline and never escalated — as assignment
    recorded it on AssignmentClosed, else reckoned here the same way; a case closed
    without any deadline is not on time."""
    m = s.get("mediation") or {}
    a = s.get("assignment") or {}
    m_closed, a_closed = m.get("closed"), a.get("closed")
    if not m_closed and not a_closed:
        return None
    closed_at = (m_closed or a_closed)["closed_at"]
    outcome = m_closed["outcome"] if m_closed else a_closed.get("outcome")
    resolved = bool(m_closed["resolved"]) if m_closed else outcome in RESOLVED_OUTCOMES
    if a_closed and a_closed.get("on_time") is not None:
        on_time = bool(a_closed["on_time"])
    elif a.get("made") and a.get("due_at"):
        on_time = a["escalations"] == 0 and closed_at is not None and closed_at <= a["due_at"]
    else:
        on_time = False
    return {"closed_at": closed_at, "outcome": outcome, "resolved": resolved,
            "on_time": on_time}


def status_of(s: Mapping) -> str:
    m = s.get("mediation")
    a = s.get("assignment") or {}
    if (m and m.get("closed")) or a.get("closed"):
        return "closed"
    if m:
        if any(handoff_open(h) for h in m["handoffs"].values()):
            return "handed_off"
        if m["phase"] == "agreement":
            return "agreement"
        # Mediation opens every case on registration: only work on it (a session, a
        # duty, an agreement, a reopening) makes it `in_mediation` (MediationCase.status).
        if m["sessions"] or m["duties"] or m["agreement"] or m["reopened"]:
            return "in_mediation"
    return "assigned" if a.get("made") or (m or {}).get("assigned") else "registered"


def handoffs_of(s: Mapping) -> List[dict]:
    hs = ((s.get("mediation") or {}).get("handoffs") or {}).values()
    return sorted(hs, key=lambda h: (h.get("requested_at") or "", h.get("handoff_id") or ""))


def case_view(s: Mapping) -> dict:
    """GET /cases/{case_id} (CONTRACT.md §5), without the clock-dependent `overdue`."""
    ident = identity(s)
    intake = s.get("intake") or {}
    a = s.get("assignment") or {}
    m = s.get("mediation") or {}
    closed = closing(s) or {}
    follow = m.get("follow_up")
    if follow:
        follow = {**follow, "satisfaction_level": follow_up_level(
            follow.get("satisfaction"), follow.get("satisfaction_level"))}
    return {
        "case_id": s["case_id"],
        "case_number": ident["case_number"],
        "status": status_of(s),
        "channel": ident["channel"],
        "source_agency": ident["source_agency"],
        "referral_id": ident["referral_id"],
        "kind": ident["kind"],
        "category": ident["category"],
        "region": ident["region"],
        "collective": ident["collective"],
        "repeat": ident["repeat"],
        "key_case": ident["key_case"],
        "key_reasons": intake.get("key_reasons", []),
        "headcount": intake.get("headcount"),
        "summary": intake.get("summary"),
        "registered_at": ident["registered_at"],
        "assignment": assignment_of(s),
        "assignment_failure": a.get("failed"),
        "petition_matter": is_petition_matter(s),
        "petition": petition_of(s),
        "joint_handling": a.get("joint", []),
        "handoffs": [{"handoff_id": h["handoff_id"], "agency": h["agency"], "kind": h["kind"],
                      "status": h["status"], "requested_at": h["requested_at"],
                      "due_at": h["due_at"], "overdue_reported": h["overdue"]}
                     for h in handoffs_of(s)],
        "sessions": m.get("sessions", 0),
        "duties": m.get("duties", []),
        "outcome": closed.get("outcome"),
        "resolved": closed.get("resolved"),
        "on_time": closed.get("on_time"),
        "closed_at": closed.get("closed_at"),
        "follow_up": follow,
        "petitioner_rating": m.get("rating"),
        "parties": ident["parties"],
        "timeline": [{"type": t["type"], "occurred_at": t["occurred_at"], "actor": t["actor"],
                      "source": t["source"]} for t in ordered_timeline(s["timeline"])],
    }


def region_parts(region: Optional[str]) -> dict:
    return {"region": region,
            "county": region[:6] if region and len(region) >= 6 else None,
            "township": region[:9] if region and len(region) >= 9 else None}


def case_row(s: Mapping) -> dict:
    """The ledger row of a case: the fields the queries filter, sort and count on (their
    types and indexes: store/layout.py)."""
    ident = identity(s)
    asg = assignment_of(s) or {}
    closed = closing(s) or {}
    status = status_of(s)
    a = s.get("assignment") or {}
    return {
        "case_number": ident["case_number"], "status": status, "channel": ident["channel"],
        "source_agency": ident["source_agency"], "category": ident["category"],
        **region_parts(ident["region"]),
        "registered_at": ident["registered_at"], "closed_at": closed.get("closed_at"),
        "open": status != "closed", "due_at": asg.get("due_at"),
        "escalations": asg.get("escalations", 0),
        # 督办 (and 催办): SupervisionOrdered plus old escalations; the latest supervisor
        "supervisions": supervisions(a), "supervisor": a.get("supervisor"),
        "supervised_at": a.get("supervised_at"), "reminders": a.get("reminders") or 0,
        "task": asg.get("task"), "responsible_leader": asg.get("responsible_leader"),
        "collective": ident["collective"], "repeat": ident["repeat"],
        "level_skipping": bool((s.get("intake") or {}).get("level_skipping")),
        "key_case": ident["key_case"],
        # Overdue at `now` exactly when late_from < now: "" (always) once escalated, the
        # deadline while open, never (NULL) for a case closed without escalation.
        "late_from": late_from(status != "closed", asg.get("due_at"),
                               asg.get("escalations", 0)),
        "resolved": closed.get("resolved"), "on_time": closed.get("on_time"),
        "outcome": closed.get("outcome"),
        "track": asg.get("track"), "level": asg.get("level"), "unit": asg.get("unit"),
        "lead": asg.get("lead"), "handler": asg.get("handler"),
        **_follow_up_columns((s.get("mediation") or {}).get("follow_up") or {},
                             (s.get("mediation") or {}).get("rating")),
        **_petition_columns(petition_of(s) or {}),
    }


def _follow_up_columns(follow: Mapping, rating: Optional[Mapping] = None) -> dict:
    """The follow-up visit: the 1–5 score when given (its average), the level always
    (满意率). The petitioner's own rating, when given, is the case's level instead: a
    case is rated (参评) once, however many ways its satisfaction was asked."""
    score = follow.get("satisfaction")
    level = follow_up_level(score, follow.get("satisfaction_level"))
    if rating and rating.get("rating") in SATISFACTION_LEVELS:
        level = rating["rating"]
    return {"satisfaction": score, "scored": score is not None,
            "satisfaction_level": level, "rated": level is not None,
            **{lvl: level == lvl for lvl in SATISFACTION_LEVELS}}


def _petition_columns(petition: Mapping) -> dict:
    """A petition matter's statutory steps, in local dates: the acceptance decision (on
    the day the petitioner was told), and the reviews (复查 review_*, 复核 re_review_*),
    each requested and decided once at most."""
    decided = bool(petition.get("decision"))
    columns = {"petition": bool(petition), "petition_decision": petition.get("decision"),
               "decided_on": petition.get("notified_on") if decided else None,
               "decided_timely": petition.get("timely") if decided else None}
    reviews = {r["stage"]: r for r in petition.get("reviews") or ()}
    for stage in REVIEW_STAGES:
        review = reviews.get(stage) or {}
        decision = review.get("decided") or {}
        columns.update({f"{stage}_requested_on": review.get("requested_on"),
                        f"{stage}_decided_on": decision.get("issued_on"),
                        f"{stage}_on_time": decision.get("on_time")})
    return columns


def late_from(is_open: bool, due_at: Optional[str], escalations: int) -> Optional[str]:
    """The instant after which a case counts as overdue (stored form), so that one
    indexed range answers "overdue now": escalated ones always, open ones after their
    deadline, others never."""
    if escalations:
        return ""
    return due_at if is_open and due_at else None


def is_overdue(row: Mapping, now_text: str) -> bool:
    """Escalated, or still open past its deadline (row: a case row; now: stored form)."""
    return bool(row.get("escalations")) or bool(
        row.get("open") and row.get("due_at") and now_text > row["due_at"])


# -- supervisions (督办), one document each ---------------------------------------------------
def supervision_key(source: str, event) -> Optional[str]:
    """The key of the supervision an event records (SupervisionOrdered, or an older
    stream's CaseEscalated): the event's own id, so a case supervised again (a new
    deadline passed) has one document per supervision."""
    if source != "assignment" or event.type not in SUPERVISION_TYPES:
        return None
    return event.id


def project_supervision(state: Optional[dict], case_state: Optional[Mapping], event
                        ) -> Optional[dict]:
    """A supervision (督办) as the monthly figures count it: when, which case and unit,
    who supervises. Its region is the one assignment recorded on AssignmentMade, which
    precedes it in assignment's log: so, like the case file, it does not depend on how
    the sources interleaved."""
    if state is not None:
        return None  # written once, by the one event it records
    d = event.data or {}
    a = (case_state or {}).get("assignment") or {}
    case_id = case_id_of("assignment", event)
    if event.type == SUPERVISION_ORDERED:
        return {"case_id": case_id, "kind": "supervision",
                "at": norm_time(d.get("ordered_at")) or norm_time(event.occurred_at),
                "region": a.get("region"), "unit": d.get("unit"), "lead": d.get("lead"),
                "handler": d.get("handler"), "supervisor": d.get("supervisor"),
                "supervising_unit": d.get("supervising_unit"),
                "due_at": norm_time(d.get("due_at")),
                "positions": {"assignment": event.position}}
    return {"case_id": case_id, "kind": "escalation",  # the older practice
            "at": norm_time(d.get("escalated_at")) or norm_time(event.occurred_at),
            "region": a.get("region"), "unit": d.get("from_unit"), "lead": d.get("lead"),
            "handler": d.get("previous_handler"), "supervisor": None,
            "supervising_unit": d.get("unit"), "due_at": norm_time(d.get("previous_due_at")),
            "positions": {"assignment": event.position}}


def supervision_row(s: Mapping) -> dict:
    return {"case_id": s["case_id"], "kind": s["kind"], "at": s["at"],
            **region_parts(s["region"]), "unit": s["unit"], "lead": s["lead"],
            "handler": s["handler"], "supervisor": s["supervisor"]}


# -- the hand-off board's own documents ----------------------------------------------------
def project_handoff(state: Optional[dict], case_state: Optional[Mapping], event) -> Optional[dict]:
    """A hand-off on the board after one of its events (mediation's source only).

    The case facts it shows (region, category, number) come from mediation's own
    MediationOpened, which precedes every hand-off in mediation's log: so the board, like
    the case file, does not depend on how the sources interleaved."""
    if state is not None and state["positions"].get("mediation", 0) >= event.position:
        return None
    record = advance_handoff(state["handoff"] if state else None, event)
    opened = ((case_state or {}).get("mediation") or {}).get("opened") or {}
    data = event.data or {}
    previous = state or {}
    return {
        "handoff_id": record["handoff_id"] or handoff_id_of("mediation", event),
        "case_id": data.get("case_id") or event.correlation_id or previous.get("case_id"),
        "case_number": data.get("case_number") or previous.get("case_number")
        or opened.get("case_number"),
        "region": previous.get("region") or opened.get("region"),
        "category": previous.get("category") or opened.get("category"),
        "handoff": record,
        "positions": {"mediation": event.position},
    }


def handoff_row(s: Mapping) -> dict:
    h = s["handoff"]
    return {"case_id": s["case_id"], "case_number": s["case_number"], "agency": h["agency"],
            "kind": h["kind"], "status": h["status"], "open": handoff_open(h),
            "overdue_reported": h["overdue"], **region_parts(s["region"]),
            "category": s["category"], "requested_at": h["requested_at"],
            "due_at": h["due_at"], "accepted_at": h["accepted_at"],
            "rejected_at": h["rejected_at"], "ruled_at": h["ruled_at"]}


def handoff_view(s: Mapping) -> dict:
    h = s["handoff"]
    return {"handoff_id": s["handoff_id"], "case_id": s["case_id"],
            "case_number": s["case_number"], "region": s["region"], "category": s["category"],
            "agency": h["agency"], "kind": h["kind"], "status": h["status"],
            "open": handoff_open(h), "requested_at": h["requested_at"], "due_at": h["due_at"],
            "accepted_at": h["accepted_at"], "rejected_at": h["rejected_at"],
            "ruled_at": h["ruled_at"], "agency_case_number": h["agency_case_number"],
            "reason": h["reason"], "overdue_reported": h["overdue"]}
