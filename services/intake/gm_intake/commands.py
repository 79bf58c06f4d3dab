"""What clerks, leaders and agencies ask intake to do; each command has one handler
(handlers.COMMANDS). `caller` says who asks, with the region check of their token and
their idempotency key, if any."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from gm_contracts.inbound import InboundMessage
from gm_contracts.vocabulary import REFERRAL_CHANNEL
from gm_platform.messagebus import Caller

from .domain.case import Party, Registration


@dataclass(frozen=True)
class RegisterCase:
    """登记: a case from a channel (a visit, letter, call, ..., a screening finding, a
    high-risk assessment's preventive case)."""

    registration: Registration
    caller: Caller


@dataclass(frozen=True)
class RegisterReferral:
    """An agency's referral (`<agency>.referral` on gm.inbound), answered
    `referral_accepted` with the case."""

    message: InboundMessage

    @property
    def keys(self) -> Sequence[str]:
        """A referral is registered once, whichever message carries it (CONTRACT §2)."""
        return [f"referral:{self.message.agency}:{self.message.data['referral_id']}"]

    @property
    def registration(self) -> Registration:
        data = self.message.data
        return Registration(
            channel=REFERRAL_CHANNEL, category=data["category"], summary=data["summary"],
            region=data["region"], parties=[Party(**p) for p in data["parties"]],
            headcount=data.get("headcount", 1), source_agency=self.message.agency,
            referral_id=data["referral_id"], kind=data["kind"],
            procedure=data.get("procedure"), requested_days=data.get("requested_days"),
            mediator=data.get("mediator"))


@dataclass(frozen=True)
class FileScreeningReport:
    """排查: a unit's report for a period, each finding to become a screening case."""

    unit: str
    period: str
    findings: Sequence[dict]
    caller: Caller


@dataclass(frozen=True)
class RecordRiskAssessment:
    """稳评: a major project's stability risk; a high one opens a preventive key case."""

    project: str
    region: str
    level: str
    summary: str
    category: str
    caller: Caller
