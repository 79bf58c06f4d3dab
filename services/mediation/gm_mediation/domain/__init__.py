"""Mediation's pure domain: the mediation case, hand-offs to agencies, time limits. No I/O."""
from .case import (
    AGREEMENT,
    ASSIGNED,
    CLOSED,
    DUTIES,
    HANDED_OFF,
    IN_MEDIATION,
    JUDICIAL_CONFIRMATION,
    NEXT_STEPS,
    NO_NEXT_STEP,
    DECLINE_ROUTES,
    OPINIONS,
    REGISTERED,
    REVIEW_OPINIONS,
    REVIEW_STAGES,
    InvalidValue,
    MediationCase,
)
from .handoff import HandOff, ReplyRefused
from .rules import (
    PETITION_NOTICE,
    REVIEW_DECISION,
    REVIEW_REQUEST,
    confirmation_window,
    count,
    count_from_day,
    handoff_due,
    limit_in_force,
    ruling_due,
)
from .view import case_view

__all__ = [
    "AGREEMENT", "ASSIGNED", "CLOSED", "DUTIES", "HANDED_OFF", "IN_MEDIATION",
    "JUDICIAL_CONFIRMATION", "NEXT_STEPS", "NO_NEXT_STEP", "REGISTERED", "DECLINE_ROUTES",
    "OPINIONS", "REVIEW_OPINIONS", "REVIEW_STAGES", "InvalidValue", "MediationCase",
    "HandOff", "ReplyRefused", "PETITION_NOTICE", "REVIEW_DECISION", "REVIEW_REQUEST",
    "confirmation_window", "count", "count_from_day", "handoff_due", "limit_in_force",
    "ruling_due", "case_view",
]
