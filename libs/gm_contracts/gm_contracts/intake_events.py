"""The intake service's domain events (exchange `intake.events`, routing key = type).

Streams: `case-<case_id>` (Case), `screening-…` (ScreeningReport), `risk-<id>`
(RiskAssessment). Each schema is registered under its published type (the routing key);
`EVENT_TYPES` lists them. Fields may be added in a version; none is renamed or removed
without a new version.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .fields import RegionCode, StrictBoolean, StrictInteger
from .inbound import Party
from .registry import register_event
from .vocabulary import AGENCIES, CATEGORIES, LEVELS, REGISTRATION_CHANNELS

SERVICE = "intake"
#: Channels a registered case may carry (re-exported under its old name).
CHANNELS = REGISTRATION_CHANNELS

EVENT_TYPES = {
    "CaseRegistered": "CaseRegistered",
    "ScreeningReportFiled": "ScreeningReportFiled",
    "RiskAssessmentRecorded": "RiskAssessmentRecorded",
}


class _Event(Schema):
    class Meta:
        unknown = RAISE


class EarlierCase(_Event):
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    registered_at = fields.String(required=True)
    region = RegionCode(allow_none=True, metadata={
        "description": "absent (or null) in events of early versions"})


@register_event(SERVICE, "CaseRegistered")
class CaseRegistered(_Event):
    """`CaseRegistered` (stream case-<case_id>): a case entered the suite, from a channel
    or an agency referral (channel `referral`), with its flags: collective (5 or more
    people), repeat (same applicant and category within 12 months; `repeat_of` lists the
    earlier cases) and key case (`key_reasons`)."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    summary = fields.String(required=True, validate=validate.Length(1, 4000))
    region = RegionCode(required=True)
    parties = fields.List(fields.Nested(Party), required=True)
    headcount = StrictInteger(required=True)
    source_agency = fields.String(required=True, allow_none=True,
                                  validate=validate.OneOf(AGENCIES))
    referral_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, allow_none=True)
    procedure = fields.String(required=True, allow_none=True)
    requested_days = StrictInteger(required=True, allow_none=True)
    leader = fields.String(required=True, allow_none=True)
    screening_report_id = fields.String(required=True, allow_none=True)
    risk_assessment_id = fields.String(required=True, allow_none=True)
    collective = StrictBoolean(required=True)
    repeat = StrictBoolean(required=True)
    repeat_of = fields.List(fields.Nested(EarlierCase), required=True)
    key_case = StrictBoolean(required=True)
    key_reasons = fields.List(fields.String(), required=True)
    level_skipping = StrictBoolean(metadata={
        "description": "越级访: the same matter is registered at a lower level within this "
                       "region (absent in events of early versions: false)"})
    level_skipping_of = fields.List(fields.String(), metadata={
        "description": "the lower-level cases of the same matter (ids among `repeat_of`)"})
    registered_at = fields.String(required=True)
    applicant_pseudonyms = fields.List(fields.String(), metadata={
        "description": "keyed hashes (HMAC-SHA256 under a key derived from the deployment's "
                       "master key) of the applicants' resident id numbers: repeat detection "
                       "matches on them, and they stay when a person is erased; absent on "
                       "older events"})
    mediator = fields.String(allow_none=True, metadata={
        "description": "the mediator the parties named from the roster (调解员名册) on the "
                       "referral; absent when none was named and on older events"})
    query_code_digest = fields.String(allow_none=True, validate=validate.Length(64, 64), metadata={
        "description": "the keyed digest (HMAC-SHA256, hex) of the petitioner's query code "
                       "(查询码, CONTRACT §8); the code itself is only in the answers. Absent "
                       "in events recorded before codes were given"})


@register_event(SERVICE, "ScreeningReportFiled")
class ScreeningReportFiled(_Event):
    """`ScreeningReportFiled`: a unit's periodic dispute screening (排查) for `period`
    (`YYYY-MM`, or `YYYY-MM-H1`/`-H2` for villages' half months); each finding also
    registers a case (channel `screening`)."""

    report_id = fields.String(required=True)
    unit = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    period = fields.String(required=True)
    findings = fields.List(fields.Dict(), required=True)
    finding_count = StrictInteger(required=True)
    filed_by = fields.String(required=True)


@register_event(SERVICE, "RiskAssessmentRecorded")
class RiskAssessmentRecorded(_Event):
    """`RiskAssessmentRecorded`: a major project's social-stability risk assessment (稳评);
    a `high` level also opens a preventive key case."""

    assessment_id = fields.String(required=True)
    project = fields.String(required=True)
    region = RegionCode(required=True)
    level = fields.String(required=True)
    summary = fields.String(required=True)
    assessed_by = fields.String(required=True)
    category = fields.String(validate=validate.OneOf(CATEGORIES), metadata={
        "description": "the dispute category of the preventive case a high risk opens "
                       "(absent in events of early versions: other)"})
