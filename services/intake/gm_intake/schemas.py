"""HTTP bodies of the intake API (CONTRACT.md §5), built from the contract's own fields,
and its answers (documentation: openapi.py)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gm_contracts.fields import BoundedList, RegionCode, StrictInteger, Text
from gm_contracts.inbound import parties_field
from gm_contracts.vocabulary import CATEGORIES, CHANNELS, RISK_LEVELS
from gm_platform.openapi import Answer


class CaseRegistration(Schema):
    """`POST /cases`: a visit, letter, call, website post, hotline, reception or finding."""

    class Meta:
        unknown = RAISE

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    summary = Text(1, 4000, required=True)
    region = RegionCode(required=True)
    parties = parties_field()
    headcount = StrictInteger(load_default=1, validate=validate.Range(min=1, max=100_000))
    leader = Text(1, 100, load_default=None)

    @validates_schema
    def _leader_on_reception_day(self, data, **kwargs):
        """领导接访: the receiving leader becomes the case's lead, so must be named."""
        if data.get("channel") == "leader_reception" and not data.get("leader"):
            raise ValidationError("Required on a leader reception day.", "leader")


class Finding(Schema):
    """One dispute found by screening; its region defaults to the reporting unit."""

    class Meta:
        unknown = RAISE

    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    summary = Text(1, 4000, required=True)
    region = RegionCode(load_default=None)
    parties = parties_field()
    headcount = StrictInteger(load_default=1, validate=validate.Range(min=1, max=100_000))


class ScreeningReportBody(Schema):
    """`POST /screening-reports`: a unit's report for a period (village: YYYY-MM-H1|H2)."""

    class Meta:
        unknown = RAISE

    unit = RegionCode(required=True)
    period = Text(7, 10, required=True)
    findings = BoundedList(fields.Nested(Finding), required=True,
                           validate=validate.Length(max=500))


class RiskAssessmentBody(Schema):
    """`POST /risk-assessments`: a major project's stability risk assessment (稳评)."""

    class Meta:
        unknown = RAISE

    project = Text(1, 200, required=True)
    region = RegionCode(required=True)
    level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))
    summary = Text(1, 4000, required=True)
    category = fields.String(load_default="other", validate=validate.OneOf(CATEGORIES))


# -- answers (documentation) ----------------------------------------------------------------
class Registered(Answer):
    """A case registered: `POST /cases` → 201, and each case a report or assessment opens."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True, metadata={
        "description": "unique per county and year, e.g. 410611-2026-000123"})


class ScreeningFiled(Answer):
    """`POST /screening-reports` → 201, or 200 when this very report was filed before."""

    report_id = fields.String(required=True)
    unit = fields.String(required=True)
    period = fields.String(required=True)
    cases = fields.List(fields.Nested(Registered), required=True,
                        metadata={"description": "a screening case per finding"})


class RiskAssessed(Answer):
    """`POST /risk-assessments` → 201; a high risk opens a preventive key case."""

    assessment_id = fields.String(required=True)
    case = fields.Nested(Registered, allow_none=True, required=True)
