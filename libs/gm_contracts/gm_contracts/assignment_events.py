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
from .vocabulary import HANDLING_STAGES, LEVELS, TRACKS

SERVICE = "assignment"

EVENT_TYPES = {
    "AssignmentMade": "AssignmentMade",
    "AssignmentFailed": "AssignmentFailed",
    "DeadlineWarningRaised": "DeadlineWarningRaised",
    "SupervisionOrdered": "SupervisionOrdered",
    "SupervisionReminded": "SupervisionReminded",
    "HandlingPeriodStarted": "HandlingPeriodStarted",
    "CaseEscalated": "CaseEscalated",
    "DeadlineExtended": "DeadlineExtended",
    "CaseReassigned": "CaseReassigned",
    "JointHandlingArranged": "JointHandlingArranged",
    "AssignmentClosed": "AssignmentClosed",
    "MediatorChoiceDeclined": "MediatorChoiceDeclined",
}


class _Event(Schema):
    class Meta:
        unknown = RAISE


def _track(**kw):
    return fields.String(validate=validate.OneOf(TRACKS), **kw)


def _level(**kw):
    return fields.String(validate=validate.OneOf(LEVELS), **kw)


PERIOD_UNITS = ("days", "months", "working_days")


class Extension(_Event):
    max_days = StrictInteger(required=True, allow_none=True, metadata={
        "description": "extra time in all, in `unit`; null: no limit set by the basis"})
    max_count = StrictInteger(required=True, allow_none=True)
    condition = fields.String(required=True, allow_none=True)
    unit = fields.String(validate=validate.OneOf(("days", "working_days")))
    notice = StrictBoolean(metadata={"description": "the person must be told why (告知延期理由)"})


class Source(_Event):
    channel = fields.String(required=True, allow_none=True)
    agency = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, allow_none=True)
    procedure = fields.String(required=True, allow_none=True)


def _period():
    return fields.Dict(keys=fields.String(validate=validate.OneOf(PERIOD_UNITS)),
                       values=StrictInteger(), metadata={
                           "description": "the time limit: {days|months|working_days: n}"})


class _Deadline(_Event):
    """A time limit as counted on the working-day calendar, with its rule and basis."""

    due_at = fields.String(required=True)
    rule_id = fields.String(required=True)
    rule_effective_from = fields.Date(required=True)
    legal_basis = fields.String(required=True)
    local_default = StrictBoolean(metadata={"description": "no statute sets the figure"})
    period = _period()
    calendar_provisional = StrictBoolean(metadata={
        "description": "counted over a year whose holiday arrangement was not yet published"})
    rolled_from = fields.Date(allow_none=True, metadata={
        "description": "the rest day or holiday the period ended on, moved to the next "
                       "working day"})
    extension = fields.Nested(Extension, required=True, allow_none=True)


SELECTION_BASES = ("party_choice", "specialty_region", "load")


class Selection(_Event):
    """Why the handler (the mediator) was chosen."""

    basis = fields.String(required=True, validate=validate.OneOf(SELECTION_BASES), metadata={
        "description": "party_choice: the mediator the parties named from the roster "
                       "(调解员名册); specialty_region: the case's category among the "
                       "handler's specialties, or a roster region narrower than the unit's "
                       "holding the case's; load: the fewest open cases among equals"})
    specialty_match = StrictBoolean(required=True)
    region = fields.String(required=True, metadata={
        "description": "the handler's region holding the case's region"})
    open_cases = StrictInteger(required=True, metadata={
        "description": "the handler's open cases when chosen"})
    candidates = StrictInteger(required=True, metadata={
        "description": "how many handlers could have taken the case"})
    named = fields.String(required=True, allow_none=True, metadata={
        "description": "the mediator the parties named, if any"})
    named_refused = fields.String(required=True, allow_none=True, metadata={
        "description": "why the named mediator could not take the case (not on the roster, "
                       "another track, outside their regions, unavailable, at their "
                       "ceiling of open cases); the case then went by matching"})


@register_event(SERVICE, "AssignmentMade")
class AssignmentMade(_Deadline):
    """`AssignmentMade`: the 四定 of a registered case — the task (定任务) and route
    (三调联动), track, level and unit (重心下移), the unit's responsible leader and for a
    key case the lead leader (包案领导), the handler (承办人, least loaded) and the deadline
    (定办结时限) by the rule in force on the registration date, with its basis. Fields
    marked "absent on older events" came with routing as data."""

    task = fields.String(metadata={"description": "定任务 (absent on older events)"})
    route_id = fields.String()
    route_basis = fields.String()
    track = _track(required=True)
    level = _level(required=True)
    unit = fields.String(required=True)
    responsible_leader = fields.String(allow_none=True)
    lead = fields.String(required=True, allow_none=True)
    handler = fields.String(required=True)
    registered_at = fields.String(required=True)
    days = StrictInteger(required=True, metadata={
        "description": "calendar days from the registration day to the last day"})
    time_zone = fields.String(required=True)
    key_case = StrictBoolean(required=True)
    region = RegionCode(required=True)
    petition_matter = StrictBoolean()
    stage = fields.String(validate=validate.OneOf(("registered",)))
    source = fields.Nested(Source, allow_none=True)
    category = fields.String(allow_none=True)
    selection = fields.Nested(Selection, allow_none=True, metadata={
        "description": "why the handler was chosen (absent on older events)"})


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
    responsible_leader = fields.String(allow_none=True)


@register_event(SERVICE, "SupervisionOrdered")
class SupervisionOrdered(_Event):
    """`SupervisionOrdered` (督办): the deadline `due_at` passed; the unit keeps the case and
    the statutory limit does not restart; `supervisor`, the leader of the unit above
    (`supervising_unit`), supervises."""

    supervisor = fields.String(required=True, allow_none=True)
    supervising_unit = fields.String(required=True, allow_none=True)
    ordered_at = fields.String(required=True)
    due_at = fields.String(required=True)
    unit = fields.String(required=True)
    handler = fields.String(required=True)
    lead = fields.String(required=True, allow_none=True)
    responsible_leader = fields.String(required=True, allow_none=True)


@register_event(SERVICE, "SupervisionReminded")
class SupervisionReminded(_Event):
    """`SupervisionReminded` (催办): the supervised case is still overdue."""

    supervisor = fields.String(required=True, allow_none=True)
    reminded_at = fields.String(required=True)
    due_at = fields.String(required=True)
    unit = fields.String(required=True)
    handler = fields.String(required=True)
    reminder_number = StrictInteger(required=True)
    days_overdue = StrictInteger(required=True)


@register_event(SERVICE, "HandlingPeriodStarted")
class HandlingPeriodStarted(_Deadline):
    """`HandlingPeriodStarted`: a petition matter was accepted (受理) on `accepted_on`; its
    handling period (ordinary or 简易办理, `stage`) runs from there."""

    stage = fields.String(required=True, validate=validate.OneOf(HANDLING_STAGES))
    accepted_on = fields.Date(required=True)
    previous_due_at = fields.String(required=True)


@register_event(SERVICE, "CaseEscalated")
class CaseEscalated(_Event):
    """`CaseEscalated` (older versions only): overdue, moved one level up with a renewed
    deadline; `lead` is the lead leader to notify. Overdue cases are now supervised
    (SupervisionOrdered) instead."""

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

    days = StrictInteger(required=True, metadata={"description": "in `unit`"})
    unit = fields.String(validate=validate.OneOf(("days", "working_days")))
    reason = fields.String(required=True)
    notified_on = fields.Date(allow_none=True, metadata={
        "description": "when the person was told why (where the rule requires it)"})
    previous_due_at = fields.String(required=True)
    due_at = fields.String(required=True)
    calendar_provisional = StrictBoolean()
    extension_number = StrictInteger(required=True)
    extended_days = StrictInteger(required=True)


@register_event(SERVICE, "CaseReassigned")
class CaseReassigned(_Event):
    """`CaseReassigned`: another unit and/or handler; the deadline and lead stay."""

    reason = fields.String(required=True)
    from_unit = fields.String(required=True)
    unit = fields.String(required=True)
    level = _level(required=True)
    from_level = _level(allow_none=True)
    from_handler = fields.String(required=True)
    handler = fields.String(required=True)
    responsible_leader = fields.String(allow_none=True)
    selection = fields.Nested(Selection, metadata={
        "description": "the parties chose this mediator at the first session (basis "
                       "party_choice); absent on a leader's reassignment"})


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



@register_event(SERVICE, "MediatorChoiceDeclined")
class MediatorChoiceDeclined(_Event):
    """`MediatorChoiceDeclined`: the parties chose `mediator` from the roster at the first
    session (mediation's SessionHeld), who cannot take the case (`reason`: another track,
    below the case's level, unavailable, away, at their ceiling of open cases); the
    case stays with its handler, as the committee designates."""

    mediator = fields.String(required=True)
    reason = fields.String(required=True)
    declined_at = fields.String(required=True)
