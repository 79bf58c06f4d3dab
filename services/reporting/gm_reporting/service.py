"""Nameko entrypoints of the reporting service: thin translations to its application's
queries (bootstrap.py, handlers.py).

Events of intake, assignment and mediation arrive through the consumers every service
has (gm_platform.base: `reporting.from.<source>`, and the catch-up from the sources' logs
every GM_CATCHUP_INTERVAL seconds) and go to the feeds of the projections (feeds.py):
exactly once, in each source's log order. HTTP queries (role analyst) read the active
generation of the projections.
"""
from __future__ import annotations

import json

from werkzeug.wrappers import Response

from gm_platform.base import PlatformService
from gm_platform.bootstrap import Bootstrapped
from gm_platform.http import Principal, api, json_response

from . import openapi, schemas, web
from .bootstrap import bootstrap


class ReportingService(PlatformService):
    """Read models of every service's events, and the queries on them."""

    name = "reporting"
    app = Bootstrapped(bootstrap)
    http_api = openapi.API

    # -- readiness -------------------------------------------------------------------------
    @api("GET", "/health", public=True)
    def health(self, request):
        response = PlatformService.health(self, request)
        doc = json.loads(response.get_data())
        try:
            self.app.store.ping()
            stale = self.app.stale()
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
        return self.app.queries.case(case_id, principal)

    @api("GET", "/cases", roles=("analyst",))
    def ledger(self, request, principal: Principal):
        q = _query(request, schemas.LedgerQuery())
        return self.app.queries.ledger(principal, q)

    @api("GET", "/stats/monthly", roles=("analyst",))
    def monthly(self, request, principal: Principal):
        q = _query(request, schemas.MonthQuery())
        return self.app.queries.monthly(principal, q["month"], q.get("region"))

    @api("GET", "/stats/trend", roles=("analyst",))
    def trend(self, request, principal: Principal):
        q = _query(request, schemas.TrendQuery())
        return self.app.queries.trend(principal, q["months"], q["until"], q.get("region"))

    @api("GET", "/stats/performance", roles=("analyst",))
    def performance(self, request, principal: Principal):
        q = _query(request, schemas.PerformanceQuery())
        return self.app.queries.performance(principal, q["month"], q.get("region"),
                                                  q["by"])

    @api("GET", "/overdue", roles=("analyst",))
    def overdue(self, request, principal: Principal):
        return self.app.queries.overdue(principal, _query(request, schemas.OverdueQuery()))

    @api("GET", "/handoffs", roles=("analyst",))
    def handoffs(self, request, principal: Principal):
        return self.app.queries.handoffs(principal,
                                               _query(request, schemas.HandoffQuery()))

    @api("GET", "/screening/coverage", roles=("analyst",))
    def screening_coverage(self, request, principal: Principal):
        q = _query(request, schemas.MonthQuery())
        return self.app.queries.screening_coverage(principal, q["month"], q.get("region"))

    @api("GET", "/export/ledger.csv", roles=("analyst",))
    def export_ledger(self, request, principal: Principal):
        q = _query(request, schemas.ExportQuery())
        body = self.app.queries.ledger_csv(principal, q["month"], q.get("region"),
                                                 lang=q["lang"])
        name = f"ledger-{q['month']}{'-' + q['region'] if q.get('region') else ''}.csv"
        return Response(body, status=200, content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api("GET", "/vocabulary", roles=("analyst",))
    def vocabulary(self, request, principal: Principal):
        q = _query(request, schemas.VocabularyQuery())
        return self.app.queries.vocabulary(q["lang"])

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
