"""An independent reckoning of reporting's figures, by brute force over the event lists.

Written separately from gm_reporting.domain on purpose, and as plainly as possible: for
each case, walk its events and note the facts; for each figure, loop over the cases.
The projection tests compare every figure the service computes with this one.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Dict, Iterable, List, Optional
from zoneinfo import ZoneInfo

from gm_kernel import parse_time

TZ = ZoneInfo("Asia/Shanghai")


def local_month(instant: Optional[str], tz=TZ) -> Optional[str]:
    if not instant:
        return None
    return parse_time(instant).astimezone(tz).strftime("%Y-%m")


def _t(value) -> Optional[datetime]:
    return parse_time(value) if value else None


class Case:
    def __init__(self, case_id: str):
        self.case_id = case_id
        self.registration = None
        self.opened = None
        self.made = None
        self.due_at = None
        self.escalations = 0
        self.unit = self.lead = self.handler = None
        self.mediator_unit = None
        self.case_closed = None
        self.assignment_closed = None
        self.follow_up = None
        self.agreement = False  # the last of agreement / reopening was an agreement
        self.working = False  # a session, duty, agreement or reopening was recorded
        self.mediation_events = 0
        self.failed = False
        self.handoffs: Dict[str, dict] = {}
        self.petition_matter = False  # AssignmentMade said so
        self.decision = None  # PetitionAccepted / PetitionDeclined data, with "decision"
        self.answer = None  # PetitionAnswered data
        self.reviews: Dict[str, dict] = {}  # stage -> {"requested": data, "decided": data}
        self.supervised: List[tuple] = []  # (instant, kind, unit) of each SupervisionOrdered
        self.supervisor = None  #            and of each old CaseEscalated
        self.reminders = 0
        self.task = self.responsible_leader = None

    # facts -----------------------------------------------------------------------------
    @property
    def known(self) -> bool:
        return self.registration is not None or self.opened is not None

    def _pick(self, key):
        for part in (self.registration, self.opened):
            if part and part.get(key) is not None:
                return part[key]
        return None

    @property
    def region(self):
        return self._pick("region") or (self.made or {}).get("region")

    @property
    def registered_at(self) -> Optional[datetime]:
        return _t(self._pick("registered_at"))

    @property
    def closed_at(self) -> Optional[datetime]:
        if self.case_closed:
            return _t(self.case_closed["closed_at"])
        if self.assignment_closed:
            return _t(self.assignment_closed["closed_at"])
        return None

    @property
    def is_closed(self) -> bool:
        return self.case_closed is not None or self.assignment_closed is not None

    @property
    def resolved(self) -> bool:
        if self.case_closed:
            return bool(self.case_closed["resolved"])
        return (self.assignment_closed or {}).get("outcome") in ("agreement", "confirmed")

    @property
    def on_time(self) -> bool:
        if self.assignment_closed and self.assignment_closed.get("on_time") is not None:
            return bool(self.assignment_closed["on_time"])
        if self.made is None:
            return False
        return self.escalations == 0 and self.closed_at <= self.due_at

    @property
    def is_petition(self) -> bool:
        return self.petition_matter or self.decision is not None

    def overdue(self, now: datetime) -> bool:
        if self.escalations > 0:
            return True
        return not self.is_closed and self.due_at is not None and now > self.due_at

    @property
    def status(self) -> str:
        if self.is_closed:
            return "closed"
        if self.mediation_events:
            for h in self.handoffs.values():
                if h["status"] == "requested" or (
                        h["status"] == "accepted" and h["kind"] == "judicial_confirmation"):
                    return "handed_off"
            if self.agreement:
                return "agreement"
            if self.working:
                return "in_mediation"
        return "assigned" if self.made or self.mediator_unit else "registered"


def cases_of(sources: Dict[str, List]) -> Dict[str, Case]:
    cases: Dict[str, Case] = {}

    def case(cid) -> Case:
        if cid not in cases:
            cases[cid] = Case(cid)
        return cases[cid]

    for e in sources["intake"]:
        if e.type == "CaseRegistered":
            case(e.data["case_id"]).registration = e.data
    for e in sources["assignment"]:
        c = case(e.correlation_id)
        d = e.data
        if e.type == "AssignmentMade":
            c.made = d
            c.due_at = _t(d["due_at"])
            c.unit, c.lead, c.handler = d["unit"], d["lead"], d["handler"]
            c.petition_matter = d.get("petition_matter") is True
            c.task, c.responsible_leader = d.get("task"), d.get("responsible_leader")
        elif e.type in ("DeadlineExtended", "HandlingPeriodStarted"):
            c.due_at = _t(d["due_at"])
        elif e.type == "SupervisionOrdered":  # the unit and the deadline stay
            c.supervised.append((_t(d["ordered_at"]), "supervision", d["unit"]))
            c.supervisor = d["supervisor"]
        elif e.type == "SupervisionReminded":
            c.reminders += 1
        elif e.type == "CaseEscalated":
            c.supervised.append((_t(d["escalated_at"]), "escalation", d["from_unit"]))
            c.escalations += 1
            c.due_at = _t(d["due_at"])
            c.unit, c.lead, c.handler = d["unit"], d["lead"], d["handler"]
        elif e.type == "CaseReassigned":
            c.unit, c.handler = d["unit"], d["handler"]
        elif e.type == "AssignmentClosed":
            c.assignment_closed = d
    for e in sources["mediation"]:
        c = case(e.data.get("case_id") or e.correlation_id)
        c.mediation_events += 1
        d = e.data
        if e.type == "MediationOpened":
            c.opened = d
        elif e.type == "MediatorAssigned":
            c.mediator_unit = d["unit"]
        elif e.type in ("SessionHeld", "DutyRecorded"):
            c.working = True
        elif e.type == "AgreementReached":
            c.agreement = c.working = True
        elif e.type == "MediationReopened":
            c.agreement, c.working = False, True
        elif e.type == "CaseClosed":
            c.case_closed = d
        elif e.type == "FollowUpRecorded":
            c.follow_up = d
        elif e.type in ("PetitionAccepted", "PetitionDeclined"):
            c.decision = {**d, "decision": "accepted" if e.type == "PetitionAccepted"
                          else "declined"}
        elif e.type == "PetitionAnswered":
            c.answer = d
        elif e.type == "ReviewRequested":
            c.reviews[d["stage"]] = {"requested": d, "decided": None}
        elif e.type == "ReviewDecided":
            c.reviews[d["stage"]]["decided"] = d
        elif e.type == "HandOffRequested":
            c.handoffs[d["handoff_id"]] = {"status": "requested", "kind": d["kind"],
                                           "agency": d["agency"],
                                           "requested_at": d["requested_at"],
                                           "due_at": d["due_at"], "overdue": False,
                                           "accepted_at": None, "rejected_at": None}
        elif e.type == "HandOffAccepted":
            c.handoffs[d["handoff_id"]].update(status="accepted",
                                               accepted_at=e.occurred_at.isoformat())
            if d.get("due_at"):  # a confirmation: the court now has until then to rule
                c.handoffs[d["handoff_id"]]["due_at"] = d["due_at"]
        elif e.type == "HandOffRejected":
            c.handoffs[d["handoff_id"]].update(status="rejected",
                                               rejected_at=e.occurred_at.isoformat())
        elif e.type == "ConfirmationRuled":
            c.handoffs[d["handoff_id"]]["status"] = \
                "confirmed" if d["confirmed"] else "not_confirmed"
        elif e.type == "HandOffOverdue":
            c.handoffs[d["handoff_id"]]["overdue"] = True
    return cases


def in_scope(region: Optional[str], prefixes: Optional[Iterable[str]]) -> bool:
    if prefixes is None:
        return True
    return bool(region) and any(region.startswith(p) for p in prefixes)


def monthly(cases: Dict[str, Case], month: str, now: datetime,
            prefixes: Optional[List[str]] = None) -> dict:
    scoped = [c for c in cases.values() if c.known and in_scope(c.region, prefixes)]
    received = [c for c in scoped
                if c.registered_at and c.registered_at.astimezone(TZ).strftime("%Y-%m") == month]
    closed = [c for c in scoped
              if c.is_closed and c.closed_at.astimezone(TZ).strftime("%Y-%m") == month]
    followed = [c for c in closed if c.follow_up]
    handoffs = defaultdict(lambda: {"requested": 0, "accepted": 0, "rejected": 0})
    for c in scoped:
        for h in c.handoffs.values():
            if local_month(h["requested_at"]) == month:
                handoffs[h["agency"]]["requested"] += 1
            if local_month(h["accepted_at"]) == month:
                handoffs[h["agency"]]["accepted"] += 1
            if local_month(h["rejected_at"]) == month:
                handoffs[h["agency"]]["rejected"] += 1
    resolved = sum(1 for c in closed if c.resolved)
    on_time = sum(1 for c in closed if c.on_time)
    scores = [c.follow_up["satisfaction"] for c in followed
              if c.follow_up.get("satisfaction") is not None]
    levels = Counter(satisfaction_level_of(c.follow_up) for c in followed)
    rated = sum(levels.values())
    return {
        "received": len(received),
        "by_channel": dict(Counter(c._pick("channel") for c in received)),
        "by_category": dict(Counter(c._pick("category") for c in received)),
        "closed": len(closed),
        "resolved": resolved,
        "resolution_rate": round(resolved / len(closed), 4) if closed else None,
        "on_time_rate": round(on_time / len(closed), 4) if closed else None,
        "overdue": sum(1 for c in received if c.overdue(now)),
        "collective": sum(1 for c in received if c._pick("collective")),
        "repeat": sum(1 for c in received if c._pick("repeat")),
        "handoffs": {a: dict(v) for a, v in handoffs.items()},
        "satisfaction_average": round(sum(scores) / len(scores), 2) if scores else None,
        "satisfied": levels["satisfied"],
        "basically_satisfied": levels["basically_satisfied"],
        "dissatisfied": levels["dissatisfied"],
        "rated": rated,
        # 满意率: satisfied or basically satisfied, of those rated; 参评率: rated of closed
        "satisfaction_rate": round((levels["satisfied"] + levels["basically_satisfied"])
                                   / rated, 4) if rated else None,
        "rating_rate": round(rated / len(closed), 4) if closed else None,
    }


def petitions(cases: Dict[str, Case], month: str, prefixes: Optional[List[str]] = None
              ) -> dict:
    """The petition indicators of a month, by brute force: registered (registration's
    local month), decisions (the month of the day the petitioner was told), answered
    (closed with outcome answered: local month of closed_at), reviews (the month of the
    day requested, the day decided)."""
    scoped = [c for c in cases.values() if c.known and c.is_petition
              and in_scope(c.region, prefixes)]
    decided = [c for c in scoped if c.decision and c.decision["notified_on"][:7] == month]
    answered = [c for c in scoped if c.is_closed and c.case_closed
                and c.case_closed["outcome"] == "answered"
                and local_month(c.case_closed["closed_at"]) == month]
    requested = [r for c in scoped for r in c.reviews.values()
                 if r["requested"]["requested_on"][:7] == month]
    reviewed = [r["decided"] for c in scoped for r in c.reviews.values()
                if r["decided"] and r["decided"]["issued_on"][:7] == month]
    timely = sum(1 for c in decided if c.decision["timely"])
    on_time = sum(1 for c in answered if c.on_time)
    return {
        "registered": sum(1 for c in scoped if local_month(c._pick("registered_at")) == month),
        "decided": len(decided),
        "accepted": sum(1 for c in decided if c.decision["decision"] == "accepted"),
        "declined": sum(1 for c in decided if c.decision["decision"] == "declined"),
        "timely": timely,
        "timely_acceptance_rate": round(timely / len(decided), 4) if decided else None,
        "answered": len(answered),
        "answered_on_time": on_time,
        "on_time_rate": round(on_time / len(answered), 4) if answered else None,
        "reviews_requested": len(requested),
        "reviews_decided": len(reviewed),
        "reviews_decided_on_time": sum(1 for d in reviewed if d["on_time"]),
    }


def supervised(cases: Dict[str, Case], month: str, prefixes: Optional[List[str]] = None
               ) -> int:
    """Cases supervised (督办, or escalated in older streams) in the month, each once."""
    return sum(1 for c in cases.values() if c.known and in_scope(c.region, prefixes)
               and any(at.astimezone(TZ).strftime("%Y-%m") == month for at, _, _ in c.supervised))


def satisfaction_level_of(follow_up: dict) -> str:
    """As recorded, or (an old follow-up with a score only) 4-5 satisfied, 3 basically
    satisfied, 1-2 dissatisfied — written out here, not imported."""
    if follow_up.get("satisfaction_level"):
        return follow_up["satisfaction_level"]
    score = follow_up["satisfaction"]
    return "satisfied" if score in (4, 5) else "basically_satisfied" if score == 3 \
        else "dissatisfied"
