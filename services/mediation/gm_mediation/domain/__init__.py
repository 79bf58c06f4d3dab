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
    REGISTERED,
    InvalidValue,
    MediationCase,
)
from .handoff import HandOff, ReplyRefused
from .rules import confirmation_window_end, handoff_due, limit_in_force
from .view import case_view

__all__ = [
    "AGREEMENT", "ASSIGNED", "CLOSED", "DUTIES", "HANDED_OFF", "IN_MEDIATION",
    "JUDICIAL_CONFIRMATION", "NEXT_STEPS", "NO_NEXT_STEP", "REGISTERED", "InvalidValue",
    "MediationCase", "HandOff", "ReplyRefused", "confirmation_window_end", "handoff_due",
    "limit_in_force", "case_view",
]
