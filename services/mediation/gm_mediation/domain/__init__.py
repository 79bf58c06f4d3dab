"""Mediation's pure domain: the mediation case, hand-offs to agencies, time limits. No I/O.

- `case`: the MediationCase aggregate (stream `mediation-<case id>`), what other
  services' events and agencies' answers mean for it (`follow_assignment`, `settle`).
- `handoff`: the HandOff aggregate (stream `handoff-<handoff id>`), the hand-off a case's
  event decided on (`handoff_decided`) and what the agency is told of it.
- `rules`: the time limits, with their legal basis, counted on the working-day calendar.
- `view`: what a mediator sees of a case.
"""
from gm_kernel import InvalidValue

from .case import (
    AGREEMENT,
    ASSIGNED,
    ASSIGNMENT_REASONS,
    CLOSED,
    DECLINE_ROUTES,
    DUTIES,
    HANDED_OFF,
    HANDOFF_AGENCIES,
    IN_MEDIATION,
    JUDICIAL_CONFIRMATION,
    NEXT_STEPS,
    NO_NEXT_STEP,
    OPINIONS,
    REGISTERED,
    REVIEW_OPINIONS,
    REVIEW_STAGES,
    CaseNotFound,
    MediationCase,
)
from .handoff import HandOff, HandOffDecision, ReplyRefused, handoff_decided, handoff_requested
from .rules import (
    confirmation_window,
    handoff_due,
    limit_in_force,
    petition_notice_due,
    review_dues,
    ruling_due,
)
from .view import case_view

__all__ = [
    "AGREEMENT", "ASSIGNED", "ASSIGNMENT_REASONS", "CLOSED", "DECLINE_ROUTES", "DUTIES",
    "HANDED_OFF", "HANDOFF_AGENCIES", "IN_MEDIATION", "JUDICIAL_CONFIRMATION", "NEXT_STEPS",
    "NO_NEXT_STEP", "OPINIONS", "REGISTERED", "REVIEW_OPINIONS", "REVIEW_STAGES",
    "CaseNotFound", "InvalidValue", "MediationCase",
    "HandOff", "HandOffDecision", "ReplyRefused", "handoff_decided", "handoff_requested",
    "confirmation_window", "handoff_due", "limit_in_force", "petition_notice_due",
    "review_dues", "ruling_due", "case_view",
]
