"""Nameko entrypoints of the intake service: thin translations to `Intake` calls."""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from gm_directory import load_directory
from gm_kernel import DuplicateMessage, Processed
from gm_platform import topology
from gm_platform.base import PlatformService
from gm_platform.clock import container_clock
from gm_platform.consumer import Delivery, consume
from gm_platform.http import BadRequest, Principal, api, load_body
from gm_platform.store_provider import find_store

from . import schemas
from .domain.case import Party, Registration
from .handlers import Intake, RegionNotServed, UnknownLeader

log = logging.getLogger(__name__)


class IntakeProvider(DependencyProvider):
    """One `Intake` per process: it keeps the repeat index warm between workers."""

    def setup(self):
        settings = self.container.config["GM_SETTINGS"]
        self.directory = load_directory(settings.directory_file)
        self.settings = settings
        self._intake = None

    def get_dependency(self, worker_ctx):
        if self._intake is None:  # the store provider is set up by now
            self._intake = Intake(find_store(self.container), self.directory,
                                  self.settings.timezone,
                                  clock=container_clock(self.container).now)
        return self._intake


class IntakeService(PlatformService):
    name = "intake"
    intake = IntakeProvider()

    @consume(queue=topology.intake_inbound_queue)
    def on_inbound(self, delivery: Delivery):
        outcome = self.intake.handle_inbound(delivery)
        log.info("inbound %s: %s", delivery.routing_key, outcome,
                 extra={"correlation_id": delivery.message_id})

    @api("POST", "/cases", roles=("clerk",))
    def register_case(self, request, principal: Principal):
        body = load_body(request, schemas.CaseRegistration())
        principal.require_region(body["region"])
        reg = Registration(
            channel=body["channel"], category=body["category"], summary=body["summary"],
            region=body["region"], parties=[Party(**p) for p in body["parties"]],
            headcount=body["headcount"], leader=body.get("leader"))
        key = request.headers.get("Idempotency-Key")
        answer = None
        if key:  # a client retrying the same request gets the same case back
            key = f"http:cases:{principal.subject}:{key[:200]}"
            answer = lambda r: ([Processed(key, r.as_dict())], [])  # noqa: E731
        try:
            registered = self.intake.register(reg, actor=principal.subject, answer=answer)
        except RegionNotServed as exc:
            raise BadRequest({"region": [str(exc)]}) from None
        except UnknownLeader as exc:
            raise BadRequest({"leader": [str(exc)]}) from None
        except DuplicateMessage as dup:  # the same Idempotency-Key again: same answer
            return 200, dict(dup.result or {})
        return 201, registered.as_dict()

    @api("POST", "/screening-reports", roles=("clerk",))
    def file_screening_report(self, request, principal: Principal):
        body = load_body(request, schemas.ScreeningReportBody())
        principal.require_region(body["unit"])
        return self.intake.file_screening(body, actor=principal.subject)

    @api("POST", "/risk-assessments", roles=("clerk", "leader"))
    def record_risk_assessment(self, request, principal: Principal):
        body = load_body(request, schemas.RiskAssessmentBody())
        principal.require_region(body["region"])
        return 201, self.intake.record_risk(body, actor=principal.subject)
