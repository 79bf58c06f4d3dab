"""The mediation service's domain events (exchange `mediation.events`, routing key = type).

Two streams: `mediation-<case_id>` (aggregate MediationCase) and `handoff-<handoff_id>`
(aggregate HandOff). Every event's `correlation_id` is the case id, `actor` who did it
(a mediator's token subject, `agency:<agency>`, or the service), `causation_id` the
command, message or event that caused it. Each schema is registered under its
published type (the routing key); `EVENT_TYPES` lists them.

Fields may be added in a version; none is renamed or removed without a new version.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .fields import DateTimeString, RegionCode, StrictBoolean, StrictInteger
from .inbound import Party
from .registry import register_event
from .vocabulary import (
    AGENCIES, CASE_OUTCOMES, CATEGORIES, DUTIES, HANDOFF_KINDS, NEXT_STEPS,
)

SERVICE = "mediation"
KINDS = sorted({kind for kinds in HANDOFF_KINDS.values() for kind in kinds})
ASSIGNMENT_REASONS = ("assigned", "escalated", "reassigned", "extended", "handling_period")
#: 信访处理意见书 (信访工作条例 第三十二条): 支持 / 解释说明 / 不予支持.
OPINIONS = ("support", "explain", "not_support")
DECLINE_ROUTES = ("litigation", "arbitration", "administrative_procedure", "other_organ",
                  "final_after_re_review", "not_a_petition")
REVIEW_STAGES = ("review", "re_review")
REVIEW_OPINIONS = ("upheld", "changed")
#: The follow-up visit's satisfaction as petition work counts it (满意 / 基本满意 / 不满意).
SATISFACTION_LEVELS = ("satisfied", "basically_satisfied", "dissatisfied")
#: The documents (文书) a case's events back: 人民调解协议书, 司法确认申请书, 受理告知书,
#: 不予受理告知书, 延期告知书, 信访事项处理意见书, 复查意见书, 复核意见书, 联席会议纪要.
DOCUMENT_KINDS = ("agreement", "confirmation_application", "acceptance_notice",
                  "non_acceptance_notice", "extension_notice", "petition_answer",
                  "review_opinion", "re_review_opinion", "joint_meeting_minutes")


def satisfaction_level(score: int) -> str:
    """The level a 1–5 score counts as (CONTRACT §8): 4–5 satisfied, 3 basically
    satisfied, 1–2 dissatisfied. ValueError for anything else."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError(f"a satisfaction score is a whole number from 1 to 5, not {score!r}")
    return "satisfied" if score >= 4 else "basically_satisfied" if score == 3 else "dissatisfied"


#: Published event type → registered event name.
EVENT_TYPES = {
    "MediationOpened": "MediationOpened",
    "MediatorAssigned": "MediatorAssigned",
    "SessionHeld": "SessionHeld",
    "DutyRecorded": "DutyRecorded",
    "AgreementReached": "AgreementReached",
    "ConfirmationRequested": "ConfirmationRequested",
    "MediationFailed": "MediationFailed",
    "MediationWithdrawn": "MediationWithdrawn",
    "MediationReopened": "MediationReopened",
    "FollowUpRecorded": "FollowUpRecorded",
    "CaseClosed": "CaseClosed",
    "HandOffRequested": "HandOffRequested",
    "HandOffAccepted": "HandOffAccepted",
    "HandOffRejected": "HandOffRejected",
    "ConfirmationRuled": "ConfirmationRuled",
    "HandOffOverdue": "HandOffOverdue",
    "PetitionAccepted": "PetitionAccepted",
    "PetitionDeclined": "PetitionDeclined",
    "PetitionAnswered": "PetitionAnswered",
    "ReviewRequested": "ReviewRequested",
    "ReviewDecided": "ReviewDecided",
    "PetitionerRated": "PetitionerRated",
    "DocumentIssued": "DocumentIssued",
    "JointMeetingHeld": "JointMeetingHeld",
}


def _agency(**kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(AGENCIES), **kwargs)


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class _Event(Schema):
    class Meta:
        unknown = RAISE


class Agreement(_Event):
    """An agreement as sent for judicial confirmation."""

    terms = _text(4000, required=True)
    signed_on = fields.Date(required=True)


class RepeatOf(_Event):
    """An earlier case of the same applicant and matter."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True, allow_none=True)


class DeadlineExtension(_Event):
    """A deadline extension as assignment recorded it (its DeadlineExtended)."""

    days = StrictInteger(required=True)
    unit = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True)
    notified_on = fields.Date(required=True, allow_none=True)
    previous_due_at = DateTimeString(required=True)
    extension_number = StrictInteger(required=True)


class MeetingDecision(_Event):
    """One decision of a joint meeting: what, who sees to it, by when."""

    decision = _text(1000, required=True)
    owner = _text(100, required=True)
    due_on = fields.Date(required=True)


class JointApplication(_Event):
    """Both parties' joint application for judicial confirmation (共同申请)."""

    applicants = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    applied_on = fields.Date(required=True)


@register_event(SERVICE, "MediationOpened")
class MediationOpened(_Event):
    """`MediationOpened` (stream mediation-<case_id>): a registered case reached mediation
    (from intake's CaseRegistered)."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    source_agency = _agency(required=True, allow_none=True)
    referral_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, allow_none=True)
    procedure = fields.String(required=True, allow_none=True)
    channel = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    summary = _text(4000, required=True)
    region = RegionCode(required=True)
    parties = fields.List(fields.Nested(Party), required=True)
    headcount = StrictInteger(required=True, allow_none=True)
    key_case = StrictBoolean(required=True)
    key_reasons = fields.List(fields.String(), required=True)
    collective = StrictBoolean(required=True)
    repeat = StrictBoolean(required=True)
    repeat_of = fields.List(fields.Nested(RepeatOf), metadata={
        "description": "earlier cases of the same applicant and matter (absent on older events)"})
    registered_at = DateTimeString(required=True)


@register_event(SERVICE, "MediatorAssigned")
class MediatorAssigned(_Event):
    """`MediatorAssigned`: who mediates the case and by when (from assignment's
    AssignmentMade, CaseEscalated, CaseReassigned, DeadlineExtended; `reason` says
    which)."""

    track = fields.String(required=True, allow_none=True)
    level = fields.String(required=True, allow_none=True)
    unit = fields.String(required=True, allow_none=True)
    handler = fields.String(required=True, allow_none=True)
    lead = fields.String(required=True, allow_none=True)
    due_at = DateTimeString(required=True, allow_none=True)
    petition_matter = StrictBoolean(allow_none=True, metadata={
        "description": "a 信访事项 on the administrative track (absent on older events)"})
    reason = fields.String(required=True, validate=validate.OneOf(ASSIGNMENT_REASONS))
    extension = fields.Nested(DeadlineExtension, allow_none=True, metadata={
        "description": "reason extended: the extension (days, why, when the person was "
                       "told), for the 延期告知书 (absent on older events)"})


@register_event(SERVICE, "SessionHeld")
class SessionHeld(_Event):
    """`SessionHeld`: a mediation session on a (local) date; `number` counts from 1."""

    held_on = fields.Date(required=True)
    notes = _text(4000, required=True)
    number = StrictInteger(required=True)
    mediator = fields.String(metadata={
        "description": "the roster mediator (调解员名册) the parties chose at this, the first, "
                       "session; assignment then gives them the case or records why not "
                       "(absent when none was named)"})


@register_event(SERVICE, "DutyRecorded")
class DutyRecorded(_Event):
    """`DutyRecorded`: one of the four duties (四包) done, each once per case."""

    duty = fields.String(required=True, validate=validate.OneOf(DUTIES))
    note = _text(4000, required=True)


@register_event(SERVICE, "AgreementReached")
class AgreementReached(_Event):
    """`AgreementReached`: the parties signed an agreement (调解协议); `number` > 1 is an
    amended agreement after a refused confirmation."""

    terms = _text(4000, required=True)
    signed_on = fields.Date(required=True)
    number = StrictInteger(required=True)
    confirmation_window_ends_at = DateTimeString(allow_none=True, metadata={
        "description": "the last moment to apply for judicial confirmation; null where it "
                       "does not apply (absent on older events)"})
    performance = _text(2000, allow_none=True, metadata={
        "description": "how the terms are to be performed (履行方式), if said apart from "
                       "them (absent on older events)"})
    perform_by = fields.Date(allow_none=True, metadata={
        "description": "the time limit of performance (履行期限), if any (absent on older "
                       "events)"})


@register_event(SERVICE, "ConfirmationRequested")
class ConfirmationRequested(_Event):
    """`ConfirmationRequested`: the mediator asked for judicial confirmation (司法确认);
    hand-off `handoff_id` to the court follows (HandOffRequested)."""

    handoff_id = fields.String(required=True)
    agency = _agency(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["judicial_confirmation"]))
    agreement = fields.Nested(Agreement, required=True)
    requested_at = DateTimeString(required=True)
    window_ends_at = DateTimeString(required=True)
    joint_application = fields.Nested(JointApplication, metadata={
        "description": "who applied, and when (absent on older events)"})


@register_event(SERVICE, "MediationFailed")
class MediationFailed(_Event):
    """`MediationFailed`: mediation failed; `next` none closes the case (CaseClosed
    failed), another next step hands it to `agency` (HandOffRequested `handoff_id`)."""

    reason = _text(2000, required=True)
    next = fields.String(required=True, validate=validate.OneOf(NEXT_STEPS))
    handoff_id = fields.String(required=True, allow_none=True)
    agency = _agency(required=True, allow_none=True)


@register_event(SERVICE, "MediationWithdrawn")
class MediationWithdrawn(_Event):
    """`MediationWithdrawn`: the applicant withdrew (CaseClosed withdrawn follows)."""

    reason = _text(2000, required=True)


@register_event(SERVICE, "MediationReopened")
class MediationReopened(_Event):
    """`MediationReopened`: the court refused confirmation, or an agency rejected the
    hand-off `handoff_id`: mediation resumes (amend the agreement, or fail)."""

    reason = _text(4000, required=True)
    handoff_id = fields.String(required=True)


@register_event(SERVICE, "FollowUpRecorded")
class FollowUpRecorded(_Event):
    """`FollowUpRecorded`: the follow-up visit (回访), once per case.

    `satisfaction_level` is always set on events recorded since it was added; an older
    event has only `satisfaction`, whose level follows from the score
    (`satisfaction_level()`: 4–5 satisfied, 3 basically satisfied, 1–2 dissatisfied).
    `satisfaction` is the 1–5 score when one was given, else null."""

    satisfaction = StrictInteger(required=True, allow_none=True,
                                 validate=validate.Range(min=1, max=5),
                                 metadata={"description": "1–5 score, or null when only "
                                                          "a level was given"})
    satisfaction_level = fields.String(
        validate=validate.OneOf(SATISFACTION_LEVELS),
        metadata={"description": "satisfied (满意), basically_satisfied (基本满意) or "
                                 "dissatisfied (不满意); absent on events recorded before "
                                 "it was added, whose level follows from the score"})
    petition_ceased = StrictBoolean(required=True)
    visited_at = DateTimeString(required=True)

    @validates_schema
    def _level_matches_score(self, data, **kwargs):
        score, level = data.get("satisfaction"), data.get("satisfaction_level")
        if score is None and level is None:
            raise ValidationError("a score or a level is needed", "satisfaction")
        if score is not None and level is not None and satisfaction_level(score) != level:
            raise ValidationError(f"a score of {score} counts as "
                                  f"{satisfaction_level(score)}", "satisfaction_level")


@register_event(SERVICE, "PetitionerRated")
class PetitionerRated(_Event):
    """`PetitionerRated`: the petitioner's own rating of how the case was handled
    (CONTRACT §8, given with the query code), once per case, after it closed. It counts
    in 满意率 and 参评率 instead of the follow-up visit's satisfaction, if any."""

    rating = fields.String(required=True, validate=validate.OneOf(SATISFACTION_LEVELS),
                           metadata={"description": "satisfied (满意), basically_satisfied "
                                                    "(基本满意) or dissatisfied (不满意)"})
    comment = _text(1000, required=True, allow_none=True)
    rated_at = DateTimeString(required=True)


@register_event(SERVICE, "CaseClosed")
class CaseClosed(_Event):
    """`CaseClosed`: mediation's part is over; `resolved` for agreement and confirmed.
    A case an agency referred is reported to it as `<agency>.case_outcome`."""

    case_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(CASE_OUTCOMES))
    resolved = StrictBoolean(required=True)
    closed_at = DateTimeString(required=True)
    summary = _text(4000, required=True)
    source_agency = _agency(required=True, allow_none=True)
    referral_id = fields.String(required=True, allow_none=True)
    handoff_id = fields.String(required=True, allow_none=True)


@register_event(SERVICE, "HandOffRequested")
class HandOffRequested(_Event):
    """`HandOffRequested` (stream handoff-<handoff_id>): a case handed to an agency,
    published to it as `<agency>.handoff_requested`; it must act by `due_at`."""

    handoff_id = fields.String(required=True)
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    agency = _agency(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    agreement = fields.Nested(Agreement, required=True, allow_none=True)
    requested_at = DateTimeString(required=True)
    due_at = DateTimeString(required=True)
    rule_id = fields.String(required=True)


@register_event(SERVICE, "HandOffAccepted")
class HandOffAccepted(_Event):
    """`HandOffAccepted`: the agency took the case (for a confirmation: the court accepted
    the application and will rule)."""

    handoff_id = fields.String(required=True)
    case_id = fields.String(required=True)
    agency = _agency(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    agency_case_number = fields.String(required=True, allow_none=True)
    due_at = DateTimeString(allow_none=True, metadata={
        "description": "a confirmation: when the court must rule (absent on older events)"})


@register_event(SERVICE, "HandOffRejected")
class HandOffRejected(_Event):
    """`HandOffRejected`: the agency declined the hand-off (mediation reopens)."""

    handoff_id = fields.String(required=True)
    case_id = fields.String(required=True)
    agency = _agency(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    reason = fields.String(required=True, allow_none=True)


@register_event(SERVICE, "ConfirmationRuled")
class ConfirmationRuled(_Event):
    """`ConfirmationRuled`: the court's ruling on a judicial confirmation request."""

    handoff_id = fields.String(required=True)
    case_id = fields.String(required=True)
    confirmed = StrictBoolean(required=True)
    ruling_number = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)


@register_event(SERVICE, "HandOffOverdue")
class HandOffOverdue(_Event):
    """`HandOffOverdue`: the agency let the hand-off's deadline pass unsettled (raised once)."""

    handoff_id = fields.String(required=True)
    case_id = fields.String(required=True)
    due_at = DateTimeString(required=True)
    agency = _agency(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    status = fields.String(required=True)


@register_event(SERVICE, "PetitionAccepted")
class PetitionAccepted(_Event):
    """`PetitionAccepted`: a petition matter accepted (受理), told in writing on
    `notified_on`; `timely` when within the 15 days (信访工作条例 第二十三条)."""

    case_id = fields.String(required=True)
    accepted_on = fields.Date(required=True)
    notified_on = fields.Date(required=True)
    notice_due_at = DateTimeString(required=True)
    timely = StrictBoolean(required=True)
    simple = StrictBoolean(required=True)


@register_event(SERVICE, "PetitionDeclined")
class PetitionDeclined(_Event):
    """`PetitionDeclined`: not accepted (不予受理), told in writing with the `route` the
    petitioner is to take (CaseClosed declined follows)."""

    case_id = fields.String(required=True)
    reason = _text(2000, required=True)
    route = fields.String(required=True, validate=validate.OneOf(DECLINE_ROUTES))
    notified_on = fields.Date(required=True)
    notice_due_at = DateTimeString(required=True)
    timely = StrictBoolean(required=True)


@register_event(SERVICE, "PetitionAnswered")
class PetitionAnswered(_Event):
    """`PetitionAnswered`: the written decision (信访处理意见书); CaseClosed answered follows."""

    case_id = fields.String(required=True)
    opinion = fields.String(required=True, validate=validate.OneOf(OPINIONS))
    summary = _text(4000, required=True)
    issued_on = fields.Date(required=True)


@register_event(SERVICE, "ReviewRequested")
class ReviewRequested(_Event):
    """`ReviewRequested`: 复查 (`review`) or 复核 (`re_review`) requested within 30 days of
    receiving the written answer; to be decided by `due_at`."""

    case_id = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(REVIEW_STAGES))
    requested_on = fields.Date(required=True)
    received_on = fields.Date(required=True)
    request_due_at = DateTimeString(required=True)
    due_at = DateTimeString(required=True)


@register_event(SERVICE, "ReviewDecided")
class ReviewDecided(_Event):
    """`ReviewDecided`: 复查意见 or 复核意见 in writing; `final` after 复核 (the same matter
    is not accepted again)."""

    case_id = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(REVIEW_STAGES))
    opinion = fields.String(required=True, validate=validate.OneOf(REVIEW_OPINIONS))
    summary = _text(4000, required=True)
    issued_on = fields.Date(required=True)
    on_time = StrictBoolean(required=True)
    final = StrictBoolean(required=True)


@register_event(SERVICE, "DocumentIssued")
class DocumentIssued(_Event):
    """`DocumentIssued`: a document (文书) drawn up from the case's events was issued for
    the first time (its PDF downloaded), once per document; `digest` is the SHA-256 of
    the PDF's bytes, which every later download reproduces."""

    document = fields.String(required=True, metadata={
        "description": "the document's id in the case: `<kind>-<n>`, e.g. agreement-1"})
    kind = fields.String(required=True, validate=validate.OneOf(DOCUMENT_KINDS))
    title = _text(100, required=True)
    drawn_up_from = StrictInteger(required=True, metadata={
        "description": "the case's stream version the document is drawn up from (the "
                       "event that backs it)"})
    digest = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    size = StrictInteger(required=True, metadata={"description": "the PDF's length in bytes"})
    issued_at = DateTimeString(required=True)


@register_event(SERVICE, "JointMeetingHeld")
class JointMeetingHeld(_Event):
    """`JointMeetingHeld`: a joint meeting (联席会议) on the case was held — who took part,
    the agenda, and each decision with its owner and date (for the 联席会议纪要);
    `number` counts from 1."""

    number = StrictInteger(required=True)
    held_on = fields.Date(required=True)
    participants = fields.List(_text(100), required=True, validate=validate.Length(min=2))
    agenda = fields.List(_text(1000), required=True, validate=validate.Length(min=1))
    decisions = fields.List(fields.Nested(MeetingDecision), required=True,
                            validate=validate.Length(min=1))
