"""What mediators, leaders, agencies and the hand-off watch ask the mediation service to
do. Each command has one handler (handlers.COMMANDS); `caller` says who asks, with the
region check of their token and their idempotency key, if any."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Optional, Tuple, Union

from gm_contracts.inbound import InboundMessage
from gm_platform.messagebus import Caller


# -- a mediator's work on a case (HTTP role mediator, RPC) ---------------------------------
@dataclass(frozen=True)
class HoldSession:
    """A mediation session held (local date)."""

    case_id: str
    held_on: date
    notes: str
    caller: Caller
    mediator: Optional[str] = None  # first session: the roster mediator the parties chose


@dataclass(frozen=True)
class RecordDuty:
    """One of the four duties (四包) done."""

    case_id: str
    duty: str
    note: str
    caller: Caller


@dataclass(frozen=True)
class ReachAgreement:
    """The parties signed a settlement (调解协议)."""

    case_id: str
    terms: str
    signed_on: date
    caller: Caller
    performance: Optional[str] = None  # 履行方式, if said apart from the terms
    perform_by: Optional[date] = None  # 履行期限


@dataclass(frozen=True)
class HoldJointMeeting:
    """A joint meeting (联席会议) on the case held: participants, agenda, decisions
    (each {decision, owner, due_on})."""

    case_id: str
    held_on: date
    participants: Tuple[str, ...]
    agenda: Tuple[str, ...]
    decisions: Tuple[Tuple[Tuple[str, Any], ...], ...]  # frozen: (field, value) pairs
    caller: Caller


@dataclass(frozen=True)
class IssueDocument:
    """A document (文书) of the case, drawn up from its events: issued the first time it
    is asked for (DocumentIssued), the same bytes every time after."""

    case_id: str
    document: str
    caller: Caller


@dataclass(frozen=True)
class RequestConfirmation:
    """The agreement in force sent to the court for judicial confirmation (司法确认), as
    the joint application of the parties named (by default all of them, today)."""

    case_id: str
    caller: Caller
    applicants: Optional[Tuple[str, ...]] = None
    applied_on: Optional[date] = None


@dataclass(frozen=True)
class RecordFailure:
    """Mediation failed; `next_step` names the agency to hand the case to, or `none`."""

    case_id: str
    reason: str
    next_step: str
    caller: Caller


@dataclass(frozen=True)
class Withdraw:
    """The applicant withdrew (撤回)."""

    case_id: str
    reason: str
    caller: Caller


@dataclass(frozen=True)
class RecordFollowUp:
    """The follow-up visit (回访): a 1–5 score or a satisfaction level."""

    case_id: str
    satisfaction: Union[int, str]
    petition_ceased: bool
    caller: Caller


@dataclass(frozen=True)
class RateCase:
    """The petitioner's rating, given with the query code (reporting resolves the code
    to the case and forwards the rating here, where the case's log is)."""

    case_id: str
    rating: str
    comment: Optional[str]
    caller: Caller


# -- a petition matter's statutory steps (mediator or leader) --------------------------------
@dataclass(frozen=True)
class DecideAcceptance:
    """受理 or 不予受理, told to the petitioner in writing on `notified_on`."""

    case_id: str
    decision: str
    notified_on: date
    caller: Caller
    simple: bool = False
    reason: Optional[str] = None
    route: Optional[str] = None


@dataclass(frozen=True)
class AnswerPetition:
    """The written decision (信访处理意见书)."""

    case_id: str
    opinion: str
    summary: str
    issued_on: date
    caller: Caller


@dataclass(frozen=True)
class RequestReview:
    """复查 (`review`) or 复核 (`re_review`) requested."""

    case_id: str
    stage: str
    requested_on: date
    received_on: Optional[date]  # of the answer; by default its date (复查) or the request's
    caller: Caller


@dataclass(frozen=True)
class DecideReview:
    """复查意见 / 复核意见, in writing."""

    case_id: str
    stage: str
    opinion: str
    summary: str
    issued_on: date
    caller: Caller


# -- agencies' answers to hand-offs (gm.inbound) ---------------------------------------------
@dataclass(frozen=True)
class ReplyToHandOff:
    """`<agency>.handoff_reply`: the agency accepts or rejects a hand-off."""

    message: InboundMessage


@dataclass(frozen=True)
class RuleOnConfirmation:
    """`court.confirmation_ruling`: the court confirms or refuses an agreement."""

    message: InboundMessage


# -- the hand-off watch ------------------------------------------------------------------------
@dataclass(frozen=True)
class MarkHandOffOverdue:
    """The agency let the hand-off's deadline pass unsettled: HandOffOverdue, once."""

    handoff_id: str
