"""The assignment service's domain events (exchange `assignment.events`, routing key = type).

One stream per case: `assignment-<case_id>` (Assignment). Times are RFC 3339 UTC;
`time_zone` says where the deadline's days were counted. Each schema is registered
under its published type (the routing key); `EVENT_TYPES` lists them. Fields may be
added in a version; none is renamed or removed without a new version.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .fields import RegionCode, StrictBoolean, StrictInteger
from .registry import register_event

SERVICE = "assignment"
TRACKS = ("people", "administrative", "judicial")
LEVELS = ("village", "township", "county", "city")

EVENT_TYPES = {
    "AssignmentMade": "AssignmentMade",
    "AssignmentFailed": "AssignmentFailed",
    "DeadlineWarningRaised": "DeadlineWarningRaised",
    "CaseEscalated": "CaseEscalated",
    "DeadlineExtended": "DeadlineExtended",
    "CaseReassigned": "CaseReassigned",
    "JointHandlingArranged": "JointHandlingArranged",
    "AssignmentClosed": "AssignmentClosed",
}


class _Event(Schema):
    class Meta:
        unknown = RAISE


def _track(**kw):
    return fields.String(validate=validate.OneOf(TRACKS), **kw)


def _level(**kw):
    return fields.String(validate=validate.OneOf(LEVELS), **kw)


class Extension(_Event):
    max_days = StrictInteger(required=True, allow_none=True)
    max_count = StrictInteger(required=True, allow_none=True)
    condition = fields.String(required=True, allow_none=True)


@register_event(SERVICE, "AssignmentMade")
class AssignmentMade(_Event):
    """`AssignmentMade`: the 四定 of a registered case — track (三位一体), level and unit
    (重心下移), lead leader (包案领导, key cases), handler (承办人, least loaded) and
    deadline (办结时限) by the rule in force on the registration date, with its basis."""

    track = _track(required=True)
    level = _level(required=True)
    unit = fields.String(required=True)
    lead = fields.String(required=True, allow_none=True)
    handler = fields.String(required=True)
    registered_at = fields.String(required=True)
    days = StrictInteger(required=True)
    due_at = fields.String(required=True)
    rule_id = fields.String(required=True)
    rule_effective_from = fields.Date(required=True)
    legal_basis = fields.String(required=True)
    extension = fields.Nested(Extension, required=True, allow_none=True)
    time_zone = fields.String(required=True)
    key_case = StrictBoolean(required=True)
    region = RegionCode(required=True)


@register_event(SERVICE, "AssignmentFailed")
class AssignmentFailed(_Event):
    """`AssignmentFailed`: no unit, rule or handler fits the case; kept for operators."""

    reason = fields.String(required=True)
    failed_at = fields.String(required=True)


@register_event(SERVICE, "DeadlineWarningRaised")
class DeadlineWarningRaised(_Event):
    """`DeadlineWarningRaised`: the deadline is within the warning window (once per deadline)."""

    due_at = fields.String(required=True)
    warned_at = fields.String(required=True)
    unit = fields.String(required=True)
    handler = fields.String(required=True)
    lead = fields.String(required=True, allow_none=True)


@register_event(SERVICE, "CaseEscalated")
class CaseEscalated(_Event):
    """`CaseEscalated`: overdue, moved one level up with a renewed deadline; `lead` is the
    lead leader to notify."""

    reason = fields.String(required=True)
    escalated_at = fields.String(required=True)
    from_unit = fields.String(required=True)
    from_level = _level(required=True)
    unit = fields.String(required=True)
    level = _level(required=True)
    previous_handler = fields.String(required=True)
    handler = fields.String(required=True)
    lead = fields.String(required=True, allow_none=True)
    previous_due_at = fields.String(required=True)
    due_at = fields.String(required=True)


@register_event(SERVICE, "DeadlineExtended")
class DeadlineExtended(_Event):
    """`DeadlineExtended`: a leader extended the deadline within the rule's limits."""

    days = StrictInteger(required=True)
    reason = fields.String(required=True)
    previous_due_at = fields.String(required=True)
    due_at = fields.String(required=True)
    extension_number = StrictInteger(required=True)
    extended_days = StrictInteger(required=True)


@register_event(SERVICE, "CaseReassigned")
class CaseReassigned(_Event):
    """`CaseReassigned`: another unit and/or handler; the deadline and lead stay."""

    reason = fields.String(required=True)
    from_unit = fields.String(required=True)
    unit = fields.String(required=True)
    level = _level(required=True)
    from_handler = fields.String(required=True)
    handler = fields.String(required=True)


@register_event(SERVICE, "JointHandlingArranged")
class JointHandlingArranged(_Event):
    """`JointHandlingArranged`: 联合接访 by several agencies or units; `meeting` marks a
    联席会议 (joint meeting)."""

    participants = fields.List(fields.String(), required=True,
                               validate=validate.Length(min=2))
    meeting = StrictBoolean(required=True)
    reason = fields.String(required=True)
    arranged_at = fields.String(required=True)


@register_event(SERVICE, "AssignmentClosed")
class AssignmentClosed(_Event):
    """`AssignmentClosed`: the case closed (mediation's CaseClosed); `on_time` is false
    once it went overdue."""

    closed_at = fields.String(required=True)
    outcome = fields.String(required=True, allow_none=True)
    on_time = StrictBoolean(required=True)

