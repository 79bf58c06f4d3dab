"""The reporting service's domain events (exchange `reporting.events`, routing key = type).

Reporting keeps read models, and one aggregate of its own: the early warning (预警), a
decision with state that leaders acknowledge and close. One stream per warning:
`warning-<warning_id>`. The id is derived from the rule and the evidence that raised it,
so the same evidence never raises a second warning.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .fields import RegionCode, Text
from .registry import register_event
from .vocabulary import CATEGORIES

SERVICE = "reporting"

#: The warning rules (deploy/rules.yaml `early_warning`).
WARNING_RULES = ("hotspot_surge", "escalation_risk", "key_cases_sensitive_period",
                 "high_risk_project")
#: Warning levels, lowest first (预警等级 蓝、黄、橙、红).
WARNING_LEVELS = ("blue", "yellow", "orange", "red")
WARNING_STATUSES = ("open", "acknowledged", "closed")

EVENT_TYPES = {
    "WarningRaised": "WarningRaised",
    "WarningAcknowledged": "WarningAcknowledged",
    "WarningClosed": "WarningClosed",
}


class _Event(Schema):
    class Meta:
        unknown = RAISE


class Evidence(_Event):
    case_ids = fields.List(fields.String(), required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)


@register_event(SERVICE, "WarningRaised")
class WarningRaised(_Event):
    """`WarningRaised`: a rule's thresholds were crossed; `raised_at` is the time of the
    event that crossed them (never the wall clock), `addressed_to` the region's leaders."""

    warning_id = fields.String(required=True)
    rule = fields.String(required=True, validate=validate.OneOf(WARNING_RULES))
    level = fields.String(required=True, validate=validate.OneOf(WARNING_LEVELS))
    region = RegionCode(required=True)
    category = fields.String(allow_none=True, validate=validate.OneOf(CATEGORIES))
    sensitive_period = fields.String(allow_none=True, metadata={
        "description": "the sensitive period in force (its id), which lowered thresholds"})
    raised_at = fields.String(required=True)
    evidence = fields.Nested(Evidence, required=True)
    addressed_to = fields.List(fields.String(), required=True)


@register_event(SERVICE, "WarningAcknowledged")
class WarningAcknowledged(_Event):
    """`WarningAcknowledged`: a leader took the warning in hand."""

    warning_id = fields.String(required=True)
    by = fields.String(required=True)
    note = Text(1, 2000, required=True)
    acknowledged_at = fields.String(required=True)


@register_event(SERVICE, "WarningClosed")
class WarningClosed(_Event):
    """`WarningClosed`: a leader closed the warning, saying what was done."""

    warning_id = fields.String(required=True)
    by = fields.String(required=True)
    note = Text(1, 2000, required=True)
    closed_at = fields.String(required=True)
