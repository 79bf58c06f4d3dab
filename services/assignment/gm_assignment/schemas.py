"""HTTP bodies of the assignment API (CONTRACT.md §5) and its answers (documentation:
openapi.py)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from gm_contracts.assignment_events import SELECTION_BASES
from gm_contracts.fields import BoundedList, RegionCode, StrictBoolean, StrictInteger, Text
from gm_contracts.vocabulary import CATEGORIES, LEVELS, TRACKS
from gm_directory.roster import LANGUAGES, MEDIATOR_KINDS
from gm_platform.openapi import Answer


class ExtensionBody(Schema):
    """`POST /cases/{case_id}/extension`: extend the deadline (延期), with the reason."""

    days = StrictInteger(required=True, validate=validate.Range(1, 365), metadata={
        "description": "extra days, or working days where the rule's extension counts them"})
    reason = Text(1, 2000, required=True)
    notified_on = fields.Date(metadata={
        "description": "when the person was told the reason (required where the rule says "
                       "so, e.g. 信访: 告知信访人延期理由)"})


class ReassignmentBody(Schema):
    """`POST /cases/{case_id}/reassignment`: another unit or handler takes the case."""

    unit = Text(1, 12)
    handler = Text(1, 64)
    reason = Text(1, 2000, required=True)

    @validates_schema
    def unit_or_handler(self, data, **kwargs):
        if not data.get("unit") and not data.get("handler"):
            raise ValidationError("name a unit, a handler or both", "unit")


class JointHandlingBody(Schema):
    """`POST /cases/{case_id}/joint-handling`: other units join (联合处置), by a joint
    meeting (联席会议) if `meeting`."""

    participants = BoundedList(Text(1, 12), required=True, validate=validate.Length(2, 20))
    reason = Text(1, 2000, required=True)
    meeting = StrictBoolean()


class RosterQuery(Schema):
    """`GET /mediators`: the mediator roster (调解员名册), filtered."""

    class Meta:
        unknown = EXCLUDE  # cache busters and the like are ignored

    region = RegionCode(metadata={"description": "only those serving this division"})
    category = fields.String(validate=validate.OneOf(CATEGORIES), metadata={
        "description": "only those listing this category among their specialties"})
    kind = fields.String(validate=validate.OneOf(tuple(MEDIATOR_KINDS)), metadata={
        "description": "people_mediator (人民调解员) or invited_mediator (特邀调解员)"})
    language = fields.String(validate=validate.OneOf(LANGUAGES), metadata={
        "description": "only those mediating in this language (e.g. sign_language)"})


# -- answers (documentation) ----------------------------------------------------------------
class Supervision(Answer):
    """督办: the deadline passed; the leader above supervises, reminders follow (催办)."""

    supervisor = fields.String(allow_none=True)
    reminders = fields.Integer()
    last_at = fields.String(metadata={"format": "date-time"}, allow_none=True)


class SelectionView(Answer):
    """Why the handler (the mediator) was chosen: AssignmentMade's `selection`."""

    basis = fields.String(validate=validate.OneOf(SELECTION_BASES))
    specialty_match = fields.Boolean()
    region = fields.String()
    open_cases = fields.Integer()
    candidates = fields.Integer()
    named = fields.String(allow_none=True)
    named_refused = fields.String(allow_none=True)


class RosterMediator(Answer):
    """A mediator on the roster, and whether they take a new case today."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(tuple(MEDIATOR_KINDS)))
    unit = fields.String(required=True)
    office = fields.String(allow_none=True)
    track = fields.String(validate=validate.OneOf(TRACKS))
    specialties = fields.List(fields.String())
    regions = fields.List(fields.String())
    languages = fields.List(fields.String())
    max_cases = fields.Integer(allow_none=True)
    open_cases = fields.Integer()
    available = fields.Boolean(metadata={"description": "takes a new case today"})
    unavailable = fields.String(allow_none=True, metadata={"description": "why not"})


class RosterView(Answer):
    """`GET /mediators`: the roster on a (local) day."""

    on = fields.String(required=True, metadata={"format": "date"})
    mediators = fields.List(fields.Nested(RosterMediator), required=True)


class AssignmentView(Answer):
    """`GET /cases/{case_id}/assignment`, and the answer of every leader's command: the
    四定 of the case (CONTRACT's fields first) and its deadline's story."""

    track = fields.String(validate=validate.OneOf(TRACKS), required=True)
    level = fields.String(validate=validate.OneOf(LEVELS), required=True)
    unit = fields.String(required=True)
    lead = fields.String(required=True, allow_none=True)
    handler = fields.String(required=True)
    due_at = fields.String(required=True, metadata={"format": "date-time"})
    extended = fields.Boolean(required=True)
    case_id = fields.String()
    task = fields.String(metadata={"description": "定任务"}, allow_none=True)
    responsible_leader = fields.String(metadata={"description": "责任领导"}, allow_none=True)
    key_case = fields.Boolean()
    petition_matter = fields.Boolean()
    stage = fields.String()
    rule_id = fields.String(allow_none=True)
    period = fields.Dict(metadata={"description": "the time limit applied"}, allow_none=True)
    legal_basis = fields.String(allow_none=True)
    local_default = fields.Boolean(allow_none=True)
    calendar_provisional = fields.Boolean(allow_none=True)
    extension_count = fields.Integer()
    joint_handling = fields.List(fields.Dict())
    supervision = fields.Nested(Supervision, allow_none=True)
    selection = fields.Nested(SelectionView, allow_none=True, metadata={
        "description": "why the handler was chosen: the parties' choice from the mediator "
                       "roster, a match on specialty or region, or the load (null on cases "
                       "assigned before it was recorded)"})
    escalations = fields.Integer()
    closed = fields.Boolean()
    overdue = fields.Boolean()
