"""Nameko entrypoints of the intake service: each a command on the bus.

Agencies' referrals arrive through the gm.inbound consumer every service agencies write
to has (gm_platform.base); the command each becomes is in bootstrap (`inbound`)."""
from __future__ import annotations

from gm_platform.base import PlatformService
from gm_platform.bootstrap import Bootstrapped
from gm_platform.http import Principal, api, caller, load_body

from . import openapi, schemas
from .bootstrap import bootstrap
from .commands import FileScreeningReport, RecordRiskAssessment, RegisterCase
from .domain.case import Party, Registration


class IntakeService(PlatformService):
    name = "intake"
    app = Bootstrapped(bootstrap)
    http_api = openapi.API

    @api("POST", "/cases", roles=("clerk",))
    def register_case(self, request, principal: Principal):
        """A client retrying with the same Idempotency-Key gets the same case back."""
        body = load_body(request, schemas.CaseRegistration())
        reg = Registration(
            channel=body["channel"], category=body["category"], summary=body["summary"],
            region=body["region"], parties=[Party(**p) for p in body["parties"]],
            headcount=body["headcount"], leader=body.get("leader"))
        return 201, self.app.bus.handle(RegisterCase(reg, caller(request, principal)))

    @api("POST", "/screening-reports", roles=("clerk",))
    def file_screening_report(self, request, principal: Principal):
        body = load_body(request, schemas.ScreeningReportBody())
        filed = self.app.file_screening(FileScreeningReport(
            body["unit"], body["period"], body["findings"], caller(request, principal)))
        return (201 if filed.pop("filed") else 200), filed

    @api("POST", "/risk-assessments", roles=("clerk", "leader"))
    def record_risk_assessment(self, request, principal: Principal):
        body = load_body(request, schemas.RiskAssessmentBody())
        return 201, self.app.record_risk(RecordRiskAssessment(
            body["project"], body["region"], body["level"], body["summary"],
            body["category"], caller(request, principal)))
