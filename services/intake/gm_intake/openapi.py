"""What /openapi.json says of intake's routes beyond their decorators (the generator:
gm_platform.openapi; routes and summaries from the body schemas' docstrings)."""
from __future__ import annotations

from gm_platform.openapi import Api, route_of

from . import schemas

REUSED_KEY = "what is recorded does not allow it"  # a reused Idempotency-Key: 422

API = Api(
    title="intake",
    description="Every way a case comes in over HTTP: registration by a clerk, screening "
                "reports (排查) and risk assessments (稳评). Agencies' referrals come over "
                "the broker (CONTRACT.md §3).",
    routes=dict([
        route_of(schemas.CaseRegistration, response=schemas.Registered, status=201,
                 idempotent=True, conflict=REUSED_KEY),
        route_of(schemas.ScreeningReportBody, response=schemas.ScreeningFiled, status=201,
                 idempotent=True, extra_statuses=((200, "filed before: its cases"),),
                 conflict="a different report was filed for the period"),
        route_of(schemas.RiskAssessmentBody, response=schemas.RiskAssessed, status=201,
                 idempotent=True, conflict=REUSED_KEY),
    ]),
)
