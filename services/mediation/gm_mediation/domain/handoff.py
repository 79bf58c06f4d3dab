"""A hand-off (对接): mediation hands a case to an agency and waits for its answer.

Stream `handoff-<handoff id>`. Kinds, and the agency each goes to: judicial_confirmation
and litigation → court (诉调对接), public_security → police (公调对接),
criminal_reconciliation → procuratorate (检调对接), petition_handling → petition bureau
(访调对接). Its life:

    HandOffRequested ─┬─ HandOffAccepted ── (confirmation only) ConfirmationRuled
                      ├─ HandOffRejected
                      └─ HandOffOverdue     (the agency's deadline passed unsettled; once)

The agency answers with `<agency>.handoff_reply` and, for a confirmation, the court with
`court.confirmation_ruling` once it accepted the request. Anything else — another
agency's reply, a second reply, a ruling on another kind, a ruling before acceptance —
is refused with field errors (`ReplyRefused`), which the agency receives as `rejected`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Mapping, Optional

from gm_contracts import mediation_events as events
from gm_contracts import streams
from gm_contracts.outbound import HANDOFF_KINDS
from gm_kernel import Aggregate, DomainError, Refused, applies, format_time, parse_time

from .case import HANDOFF_AGENCIES, JUDICIAL_CONFIRMATION, MediationCase

REQUESTED = "requested"
ACCEPTED = "accepted"
REJECTED = "rejected"
CONFIRMED = "confirmed"
REFUSED = "refused"


class ReplyRefused(Refused):
    """An agency's reply or ruling that the hand-off's state does not allow.

    `errors` names the fields as CONTRACT.md §4's `rejected` message does.
    """

    reason = "illegal state"


@dataclass(frozen=True)
class HandOffDecision:
    """A hand-off a case decided on: its id (chosen by the case's event), the agency and
    kind, and for a confirmation the agreement to confirm."""

    handoff_id: str
    agency: str
    kind: str
    agreement: Optional[Mapping[str, Any]] = None


def handoff_decided(event_type: str, data: Mapping[str, Any]) -> Optional[HandOffDecision]:
    """The hand-off a case's event decided on: ConfirmationRequested (to the court), or
    MediationFailed with a next step (to that step's agency); None for any other."""
    if event_type == events.ConfirmationRequested.event_type:
        return HandOffDecision(data["handoff_id"], HANDOFF_AGENCIES[JUDICIAL_CONFIRMATION],
                               JUDICIAL_CONFIRMATION, data["agreement"])
    if event_type == events.MediationFailed.event_type and data.get("handoff_id"):
        return HandOffDecision(data["handoff_id"], HANDOFF_AGENCIES[data["next"]],
                               data["next"])
    return None


def handoff_requested(handoff: "HandOff", case: MediationCase) -> Dict[str, Any]:
    """What `<agency>.handoff_requested` tells the agency (CONTRACT.md §3): the hand-off,
    its deadline, and who and what the case is about."""
    reg = case.registration
    return {
        "handoff_id": handoff.id, "case_id": handoff.case_id,
        "case_number": handoff.case_number, "kind": handoff.kind, "summary": reg["summary"],
        "parties": reg["parties"],
        "agreement": dict(handoff.agreement) if handoff.agreement is not None else None,
        "due_at": format_time(handoff.due_at),
    }


class HandOff(Aggregate):
    stream_prefix = streams.HANDOFF

    def __init__(self, id: str):
        super().__init__(id)
        self.case_id: Optional[str] = None
        self.case_number: Optional[str] = None
        self.agency: Optional[str] = None
        self.kind: Optional[str] = None
        self.agreement: Optional[Dict[str, Any]] = None
        self.requested_at: Optional[datetime] = None
        self.due_at: Optional[datetime] = None
        self.status = REQUESTED
        self.agency_case_number: Optional[str] = None
        self.ruling_number: Optional[str] = None
        self.reason: Optional[str] = None
        self.overdue = False

    # -- queries -----------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Nothing more is expected from the agency."""
        if self.kind == JUDICIAL_CONFIRMATION:
            return self.status in (REJECTED, CONFIRMED, REFUSED)
        return self.status != REQUESTED

    def overdue_at(self, now: datetime) -> bool:
        """The deadline passed with nothing settled, and HandOffOverdue is not yet raised."""
        return self.exists and not self.settled and not self.overdue and now > self.due_at

    def view(self, now: Optional[datetime] = None) -> Dict[str, Any]:
        return {
            "handoff_id": self.id, "case_id": self.case_id, "agency": self.agency,
            "kind": self.kind, "status": self.status,
            "requested_at": format_time(self.requested_at) if self.requested_at else None,
            "due_at": format_time(self.due_at) if self.due_at else None,
            "overdue": self.overdue or bool(now and self.exists and not self.settled
                                            and now > self.due_at),
            "agency_case_number": self.agency_case_number,
            "ruling_number": self.ruling_number, "reason": self.reason,
        }

    # -- commands ----------------------------------------------------------------------

    def request(self, case_id: str, case_number: str, agency: str, kind: str,
                agreement: Optional[Mapping[str, Any]], requested_at: datetime,
                due_at: datetime, rule_id: str, **meta: Any) -> None:
        if self.exists:
            raise DomainError(f"hand-off {self.id} was already requested")
        if kind not in HANDOFF_KINDS.get(agency, ()):
            raise ValueError(f"{agency} does not take {kind} hand-offs")
        self._emit(events.HandOffRequested, {
            "handoff_id": self.id, "case_id": case_id, "case_number": case_number,
            "agency": agency, "kind": kind,
            "agreement": dict(agreement) if agreement is not None else None,
            "requested_at": format_time(requested_at), "due_at": format_time(due_at),
            "rule_id": rule_id,
        }, meta, case_id)

    def reply(self, sender: str, decision: str, agency_case_number: Optional[str],
              reason: Optional[str], now: datetime, ruling_due_at: Optional[datetime] = None,
              **meta: Any) -> None:
        """`<agency>.handoff_reply` from agency `sender`: it accepts or rejects the
        hand-off, once. A court accepting (立案) a confirmation application then has until
        `ruling_due_at` to rule."""
        self._require_from(sender)
        if self.status != REQUESTED:
            raise ReplyRefused({"handoff_id": [
                f"This hand-off was already answered ({self.status})."]})
        common = {"handoff_id": self.id, "case_id": self.case_id, "agency": sender,
                  "kind": self.kind}
        meta.update(agency=sender)
        meta.setdefault("occurred_at", now)
        if decision == "accepted":
            if self.kind == JUDICIAL_CONFIRMATION and ruling_due_at is None:
                raise ValueError("accepting a confirmation application needs the ruling's due date")
            self._emit(events.HandOffAccepted, {
                **common, "agency_case_number": agency_case_number,
                "due_at": format_time(ruling_due_at) if ruling_due_at else None}, meta)
        elif decision == "rejected":
            self._emit(events.HandOffRejected, {**common, "reason": reason}, meta)
        else:
            raise ReplyRefused({"decision": ["Must be accepted or rejected."]})

    def rule(self, sender: str, confirmed: bool, ruling_number: Optional[str],
             reason: Optional[str], now: datetime, **meta: Any) -> None:
        """`court.confirmation_ruling` from `sender`: the court confirms or refuses the
        agreement, once, after it accepted the request."""
        self._require_from(sender)
        if self.kind != JUDICIAL_CONFIRMATION:
            raise ReplyRefused({"handoff_id": [
                f"This hand-off is {self.kind}, not a judicial confirmation request; "
                "answer it with handoff_reply."]})
        if self.status == REQUESTED:
            raise ReplyRefused({"handoff_id": [
                "Accept the confirmation request (handoff_reply) before ruling on it."]})
        if self.status != ACCEPTED:
            raise ReplyRefused({"handoff_id": [
                f"This confirmation request is already settled ({self.status})."]})
        meta.update(agency=sender)
        meta.setdefault("occurred_at", now)
        self._emit(events.ConfirmationRuled, {
            "handoff_id": self.id, "case_id": self.case_id, "confirmed": bool(confirmed),
            "ruling_number": ruling_number, "reason": reason,
        }, meta)

    def raise_overdue(self, now: datetime, **meta: Any) -> None:
        """The agency's deadline passed with the hand-off unsettled (once)."""
        if not self.overdue_at(now):
            raise DomainError(f"hand-off {self.id} is not overdue, or already marked")
        meta.setdefault("occurred_at", now)
        self._emit(events.HandOffOverdue, {
            "handoff_id": self.id, "case_id": self.case_id, "due_at": format_time(self.due_at),
            "agency": self.agency, "kind": self.kind, "status": self.status,
        }, meta)

    # -- helpers -----------------------------------------------------------------------

    def _require_from(self, agency: str) -> None:
        if not self.exists:
            raise ReplyRefused({"handoff_id": ["No hand-off with this id."]})
        if agency != self.agency:
            # Said as "not yours", not "unknown": the agency may have mixed up ids.
            raise ReplyRefused({"handoff_id": [f"This hand-off was not sent to {agency}."]})

    def _emit(self, event_type: type, data: Mapping[str, Any], meta: Mapping[str, Any],
              case_id: Optional[str] = None) -> None:
        meta = dict(meta)
        meta["correlation_id"] = case_id or self.case_id
        self._record(event_type, data, **meta)

    # -- state changes -----------------------------------------------------------------

    @applies(events.HandOffRequested)
    def _hand_off_requested(self, data: Mapping[str, Any]) -> None:
        self.case_id, self.case_number = data["case_id"], data["case_number"]
        self.agency, self.kind = data["agency"], data["kind"]
        self.agreement = data.get("agreement")
        self.requested_at = parse_time(data["requested_at"])
        self.due_at = parse_time(data["due_at"])

    @applies(events.HandOffAccepted)
    def _hand_off_accepted(self, data: Mapping[str, Any]) -> None:
        self.status = ACCEPTED
        self.agency_case_number = data.get("agency_case_number")
        if data.get("due_at"):  # a confirmation: the court's time to rule runs from here
            self.due_at = parse_time(data["due_at"])

    @applies(events.HandOffRejected)
    def _hand_off_rejected(self, data: Mapping[str, Any]) -> None:
        self.status = REJECTED
        self.reason = data.get("reason")

    @applies(events.ConfirmationRuled)
    def _confirmation_ruled(self, data: Mapping[str, Any]) -> None:
        self.status = CONFIRMED if data["confirmed"] else REFUSED
        self.ruling_number = data.get("ruling_number")
        self.reason = data.get("reason")

    @applies(events.HandOffOverdue)
    def _hand_off_overdue(self, data: Mapping[str, Any]) -> None:
        self.overdue = True
