"""HTTP and RPC bodies of the mediation commands (CONTRACT.md §5), strict like the
contract, and their answers (documentation: openapi.py)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from gm_contracts.fields import BoundedList, StrictBoolean, Text
from gm_contracts.mediation_events import DOCUMENT_KINDS, SATISFACTION_LEVELS
from gm_contracts.vocabulary import AGENCIES, CASE_OUTCOMES, CASE_STATUSES
from gm_platform.openapi import Answer

from .domain import (
    DECLINE_ROUTES,
    DUTIES,
    NEXT_STEPS,
    NO_NEXT_STEP,
    OPINIONS,
    REVIEW_OPINIONS,
    REVIEW_STAGES,
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class SessionBody(_Strict):
    """`POST /cases/{case_id}/sessions`: a mediation session held (local date)."""

    held_on = fields.Date(required=True)
    notes = Text(1, 4000, required=True)
    mediator = Text(1, 64, load_default=None, metadata={
        "description": "first session only: the roster id of the mediator the parties chose "
                       "(调解员名册); 400 with the field if not on the roster, not serving "
                       "the case's region or not on its track"})


class DutyBody(_Strict):
    """`POST /cases/{case_id}/duties/{duty}`: one of the four duties (四包) done."""

    note = Text(1, 4000, required=True)


class DutyName(_Strict):
    """The `{duty}` of the path, checked like a field so a typo is a 400 naming it."""

    duty = fields.String(required=True, validate=validate.OneOf(DUTIES))


class AgreementBody(_Strict):
    """`POST /cases/{case_id}/agreement`: the signed settlement (调解协议)."""

    terms = Text(1, 4000, required=True)
    signed_on = fields.Date(required=True)
    performance = Text(1, 2000, metadata={
        "description": "how the terms are to be performed (履行方式), if said apart from them"})
    perform_by = fields.Date(metadata={
        "description": "the time limit of performance (履行期限), a local date"})


class ConfirmationRequestBody(_Strict):
    """`POST /cases/{case_id}/confirmation-request`: the agreement in force is sent, as the
    joint application of both parties (共同申请) — by default all parties, today."""

    applicants = BoundedList(Text(1, 100), validate=validate.Length(min=1, max=50), metadata={
        "description": "the parties (by name) who apply; both sides must be among them"})
    applied_on = fields.Date(metadata={"description": "the day they applied (local date)"})


class MeetingDecision(_Strict):
    """A decision of the meeting, who sees to it and by when."""

    decision = Text(1, 1000, required=True)
    owner = Text(1, 100, required=True, metadata={"description": "责任单位或责任人"})
    due_on = fields.Date(required=True, metadata={"description": "完成时限 (local date)"})


class JointMeetingBody(_Strict):
    """`POST /cases/{case_id}/joint-meetings`: a joint meeting (联席会议) on the case held,
    for its minutes (联席会议纪要)."""

    held_on = fields.Date(required=True)
    participants = BoundedList(Text(1, 100), required=True, validate=validate.Length(
        min=2, max=50), metadata={"description": "the agencies, units and people who took part"})
    agenda = BoundedList(Text(1, 1000), required=True, validate=validate.Length(min=1, max=20))
    decisions = BoundedList(fields.Nested(MeetingDecision), required=True,
                            validate=validate.Length(min=1, max=50))


class PetitionAcceptanceBody(_Strict):
    """`POST /cases/{case_id}/petition/acceptance`: 受理 or 不予受理 of a petition matter,
    told to the petitioner in writing on `notified_on`."""

    decision = fields.String(required=True, validate=validate.OneOf(["accepted", "declined"]))
    notified_on = fields.Date(required=True)
    simple = StrictBoolean(load_default=False, metadata={"description": "简易办理"})
    reason = Text(1, 2000, metadata={"description": "why not accepted (declined)"})
    route = fields.String(validate=validate.OneOf(DECLINE_ROUTES), metadata={
        "description": "where the petitioner is to go (declined)"})


class PetitionAnswerBody(_Strict):
    """`POST /cases/{case_id}/petition/answer`: the written decision (信访处理意见书)."""

    opinion = fields.String(required=True, validate=validate.OneOf(OPINIONS))
    summary = Text(1, 4000, required=True)
    issued_on = fields.Date(required=True)


class ReviewRequestBody(_Strict):
    """`POST /cases/{case_id}/petition/review`: 复查 (review) or 复核 (re_review) requested."""

    stage = fields.String(required=True, validate=validate.OneOf(REVIEW_STAGES))
    requested_on = fields.Date(required=True)
    received_on = fields.Date(metadata={
        "description": "when the petitioner received the written answer (default: its date)"})


class ReviewDecisionBody(_Strict):
    """`POST /cases/{case_id}/petition/review-decision`: 复查意见 / 复核意见 in writing."""

    stage = fields.String(required=True, validate=validate.OneOf(REVIEW_STAGES))
    opinion = fields.String(required=True, validate=validate.OneOf(REVIEW_OPINIONS))
    summary = Text(1, 4000, required=True)
    issued_on = fields.Date(required=True)


class FailureBody(_Strict):
    """`POST /cases/{case_id}/failure`: mediation failed, and what happens next."""

    reason = Text(1, 2000, required=True)
    next = fields.String(required=True, validate=validate.OneOf([*NEXT_STEPS, NO_NEXT_STEP]))


class WithdrawalBody(_Strict):
    """`POST /cases/{case_id}/withdrawal`: the applicant withdrew."""

    reason = Text(1, 2000, required=True)


class Satisfaction(fields.Field):
    """A 1–5 score (a JSON integer) or a level as petition work counts it: `satisfied`
    (满意), `basically_satisfied` (基本满意), `dissatisfied` (不满意) — CONTRACT §8."""

    default_error_messages = {
        "invalid": "Must be a whole number from 1 to 5 or one of: "
                   + ", ".join(SATISFACTION_LEVELS) + ".",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
            return value
        if isinstance(value, str) and value in SATISFACTION_LEVELS:
            return value
        raise self.make_error("invalid")


class FollowUpBody(_Strict):
    """`POST /cases/{case_id}/follow-up`: the follow-up visit (回访)."""

    satisfaction = Satisfaction(required=True, metadata={
        "description": "1–5, or satisfied | basically_satisfied | dissatisfied"})
    petition_ceased = StrictBoolean(required=True)


# -- answers (documentation) ----------------------------------------------------------------
class HandOffView(Answer):
    """A hand-off to an agency and where it stands."""

    handoff_id = fields.String(required=True)
    case_id = fields.String()
    agency = fields.String(validate=validate.OneOf(AGENCIES))
    kind = fields.String()
    status = fields.String()
    requested_at = fields.String(metadata={"format": "date-time"}, allow_none=True)
    due_at = fields.String(metadata={"format": "date-time"}, allow_none=True)
    overdue = fields.Boolean()
    agency_case_number = fields.String(allow_none=True)
    ruling_number = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class MediationView(Answer):
    """`GET /cases/{case_id}/mediation`, and the answer of every mediator's command."""

    case_id = fields.String(required=True)
    case_number = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    region = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    key_case = fields.Boolean()
    source_agency = fields.String(allow_none=True)
    referral_id = fields.String(allow_none=True)
    assignment = fields.Dict(metadata={"description": "the 四定, as assigned"}, allow_none=True)
    sessions = fields.List(fields.Dict())
    duties = fields.Dict(keys=fields.String(validate=validate.OneOf(DUTIES)),
                         values=fields.String(allow_none=True),
                         metadata={"description": "each duty: when it was done, or null"})
    missing_duties = fields.List(fields.String(validate=validate.OneOf(DUTIES)))
    agreement = fields.Dict(metadata={"description": "the agreement in force"}, allow_none=True)
    confirmation_window_ends_at = fields.String(allow_none=True)
    confirmation_applies = fields.Boolean()
    petition_matter = fields.Boolean()
    petition = fields.Dict(allow_none=True)
    reviews = fields.List(fields.Dict())
    awaiting = fields.Dict(metadata={"description": "the hand-off it waits on"}, allow_none=True)
    handoffs = fields.List(fields.Nested(HandOffView))
    outcome = fields.String(validate=validate.OneOf(CASE_OUTCOMES), allow_none=True)
    resolved = fields.Boolean(allow_none=True)
    closed_at = fields.String(allow_none=True)
    follow_up = fields.Dict(allow_none=True)
    version = fields.Integer()


class DocumentView(Answer):
    """A document (文书) the case's events back, and whether it was issued."""

    document = fields.String(required=True, metadata={
        "description": "its id in the case, `<kind>-<n>`; the PDF is at "
                       "`/cases/{case_id}/documents/{document}.pdf`"})
    kind = fields.String(required=True, validate=validate.OneOf(DOCUMENT_KINDS))
    title = fields.String(required=True)
    drawn_up_at = fields.String(metadata={"format": "date-time", "description":
                                          "when the event that backs it was recorded"})
    issued_at = fields.String(metadata={"format": "date-time"}, allow_none=True)
    digest = fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the PDF as issued (null until issued)"})
    size = fields.Integer(allow_none=True)


class DocumentList(Answer):
    """`GET /cases/{case_id}/documents`."""

    case_id = fields.String(required=True)
    documents = fields.List(fields.Nested(DocumentView), required=True)
    not_backed = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "documents this service cannot draw up for lack of facts, and why"})


class DocumentName(_Strict):
    """The `{document}` of the path: `<kind>-<n>`."""

    document = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z_]+-[1-9][0-9]{0,3}$", error="must be <kind>-<n>, as the list names it"))
