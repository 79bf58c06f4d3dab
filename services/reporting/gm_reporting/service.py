"""Nameko entrypoints of the reporting service: thin translations to `Reporting` calls.

Events of intake, assignment and mediation arrive on `reporting.from.<source>` and go to
the feeds (exactly once, in each source's log order; gaps and restarts are filled from
the source's log over RPC, also every GM_CATCHUP_INTERVAL seconds). HTTP queries (role
analyst) read the active generation of the projections.
"""
from __future__ import annotations

import json
import logging

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from gm_directory import load_directory
from gm_platform import topology
from gm_platform.base import PlatformService
from gm_platform.clock import container_clock
from gm_platform.consumer import Delivery, consume
from gm_platform.feed import RpcSourceLog
from gm_platform.http import Principal, api, json_response
from gm_platform.periodic import every

from . import openapi, schemas, web
from .domain.casefile import SOURCES
from .store.layout import PROJECTIONS
from .feeds import Feeds
from .handlers import Reporting
from .store import open_projection_store

log = logging.getLogger(__name__)


class ReportingProvider(DependencyProvider):
    """The projection store, its feeds and the queries: one of each per process."""

    def setup(self):
        settings = self.container.config["GM_SETTINGS"]
        self.settings = settings
        self.directory = load_directory(settings.directory_file)
        self.clock = container_clock(self.container)
        self.store = open_projection_store(settings.store_uri, settings.service,
                                           settings.data_dir)
        for spec in PROJECTIONS.values():
            self.store.ensure(spec)  # a first, empty generation the feeds fill
        logs = {s: RpcSourceLog(settings.amqp_uri, s, settings.rpc_timeout) for s in SOURCES}
        self.feeds = Feeds(self.store, PROJECTIONS.values(), logs)
        self.queries = Reporting(self.store, self.directory, settings.timezone, self.clock.now)

    def stale(self) -> list:
        """Projections whose active generation was built by another version of the code."""
        out = []
        for spec in PROJECTIONS.values():
            active = self.store.active(spec.name)
            if active is None or active.version != spec.version:
                out.append(f"{spec.name} (generation version "
                           f"{active.version if active else '-'}, code {spec.version})")
        return out

    def stop(self):
        self.store.close()

    def kill(self):
        self.store.close()

    def get_dependency(self, worker_ctx):
        return self


class ReportingService(PlatformService):
    """Read models of every service's events, and the queries on them."""

    name = "reporting"
    reporting = ReportingProvider()

    # -- events of the other services ------------------------------------------------------
    @consume(queue=lambda: topology.events_queue("reporting", "intake"))
    def on_intake_event(self, delivery: Delivery):
        self.reporting.feeds.deliver("intake", delivery.body)

    @consume(queue=lambda: topology.events_queue("reporting", "assignment"))
    def on_assignment_event(self, delivery: Delivery):
        self.reporting.feeds.deliver("assignment", delivery.body)

    @consume(queue=lambda: topology.events_queue("reporting", "mediation"))
    def on_mediation_event(self, delivery: Delivery):
        self.reporting.feeds.deliver("mediation", delivery.body)

    @every("catchup_interval")
    def catch_up(self):
        """Whatever the broker did not bring, read from the sources' logs."""
        return self.reporting.feeds.catch_up()

    # -- readiness -------------------------------------------------------------------------
    @api("GET", "/health", public=True)
    def health(self, request):
        response = PlatformService.health(self, request)
        doc = json.loads(response.get_data())
        try:
            self.reporting.store.ping()
            stale = self.reporting.stale()
            doc["checks"]["projections"] = "ok" if not stale else \
                f"rebuild needed (gm projections rebuild): {', '.join(stale)}"
        except Exception as exc:
            doc["checks"]["projections"] = f"unreachable: {type(exc).__name__}"
        healthy = all(v == "ok" for v in doc["checks"].values())
        doc["status"] = "ok" if healthy else "unavailable"
        return json_response(doc, 200 if healthy else 503)

    # -- queries (role analyst; admin may do all) --------------------------------------------
    @api("GET", "/cases/<case_id>", roles=("analyst",))
    def get_case(self, request, principal: Principal, case_id: str):
        return self.reporting.queries.case(case_id, principal)

    @api("GET", "/cases", roles=("analyst",))
    def ledger(self, request, principal: Principal):
        q = _query(request, schemas.LedgerQuery())
        return self.reporting.queries.ledger(principal, q)

    @api("GET", "/stats/monthly", roles=("analyst",))
    def monthly(self, request, principal: Principal):
        q = _query(request, schemas.MonthQuery())
        return self.reporting.queries.monthly(principal, q["month"], q.get("region"))

    @api("GET", "/stats/trend", roles=("analyst",))
    def trend(self, request, principal: Principal):
        q = _query(request, schemas.TrendQuery())
        return self.reporting.queries.trend(principal, q["months"], q["until"], q.get("region"))

    @api("GET", "/stats/performance", roles=("analyst",))
    def performance(self, request, principal: Principal):
        q = _query(request, schemas.PerformanceQuery())
        return self.reporting.queries.performance(principal, q["month"], q.get("region"),
                                                  q["by"])

    @api("GET", "/overdue", roles=("analyst",))
    def overdue(self, request, principal: Principal):
        return self.reporting.queries.overdue(principal, _query(request, schemas.OverdueQuery()))

    @api("GET", "/handoffs", roles=("analyst",))
    def handoffs(self, request, principal: Principal):
        return self.reporting.queries.handoffs(principal,
                                               _query(request, schemas.HandoffQuery()))

    @api("GET", "/screening/coverage", roles=("analyst",))
    def screening_coverage(self, request, principal: Principal):
        q = _query(request, schemas.MonthQuery())
        return self.reporting.queries.screening_coverage(principal, q["month"], q.get("region"))

    @api("GET", "/export/ledger.csv", roles=("analyst",))
    def export_ledger(self, request, principal: Principal):
        q = _query(request, schemas.ExportQuery())
        body = self.reporting.queries.ledger_csv(principal, q["month"], q.get("region"),
                                                 lang=q["lang"])
        name = f"ledger-{q['month']}{'-' + q['region'] if q.get('region') else ''}.csv"
        return Response(body, status=200, content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api("GET", "/vocabulary", roles=("analyst",))
    def vocabulary(self, request, principal: Principal):
        q = _query(request, schemas.VocabularyQuery())
        return self.reporting.queries.vocabulary(q["lang"])

    @api("GET", "/openapi.json", roles=())
    def openapi(self, request, principal: Principal):
        return openapi.document()

    # -- the dashboard page (web.py): static files holding no data; its script reads the
    # token-protected JSON above with the token the user enters --------------------------------
    @api("GET", "/", public=True)
    def dashboard(self, request):
        return web.page()

    @api("GET", "/dashboard/<name>", public=True)
    def dashboard_asset(self, request, name: str):
        return web.asset(name)

    @api("GET", "/assets/plotly.min.js", public=True)
    def plotly_js(self, request):
        return web.plotly_js()


def _query(request, schema) -> dict:
    """Query parameters through a schema; a ValidationError becomes 400 with field errors."""
    return schema.load(request.args.to_dict(flat=True))
