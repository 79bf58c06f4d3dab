"""Nameko entrypoints of the reporting service: thin translations to its application's
queries (bootstrap.py, handlers.py).

Events of intake, assignment and mediation arrive through the consumers every service
has (gm_platform.base: `reporting.from.<source>`, and the catch-up from the sources' logs
every GM_CATCHUP_INTERVAL seconds) and go to the feeds of the projections (feeds.py):
exactly once, in each source's log order. HTTP queries (role analyst) read the active
generation of the projections.
"""
from __future__ import annotations

from typing import Optional

import eventlet
from nameko.rpc import RpcProxy
from werkzeug.wrappers import Response

from gm_platform.base import PlatformService
from gm_platform.bootstrap import Bootstrapped
from gm_platform.http import Principal, api, caller, json_response, load_body

from . import openapi, schemas, web
from .bootstrap import bootstrap
from .early_warning import AcknowledgeWarning, CloseWarning
from .scoring_file import load_scoring_rules
from .warnings_file import load_warning_rules


class ReportingService(PlatformService):
    """Read models of every service's events, and the queries on them."""

    name = "reporting"
    app = Bootstrapped(bootstrap)
    mediation = RpcProxy("mediation")  # the petitioner's rating is recorded there

    @staticmethod
    def check_config(settings) -> None:
        PlatformService.check_config(settings)
        load_warning_rules(settings.rules_file)  # early_warning: a malformed one stops start-up
        load_scoring_rules(settings.rules_file)  # performance_review: so does it
    http_api = openapi.API

    # -- readiness -------------------------------------------------------------------------
    def readiness_checks(self) -> dict:
        checks = PlatformService.readiness_checks(self)
        try:
            self.app.store.ping()
            stale = self.app.stale()
            checks["projections"] = "ok" if not stale else \
                f"rebuild needed (gm projections rebuild): {', '.join(stale)}"
        except Exception as exc:
            checks["projections"] = f"unreachable: {type(exc).__name__}"
        return checks

    # -- queries (role analyst; admin may do all) --------------------------------------------
    @api("GET", "/cases/<case_id>", roles=("analyst",))
    def get_case(self, request, principal: Principal, case_id: str):
        q = _query(request, schemas.CaseQuery())
        return self.app.queries.case(case_id, principal, verify=q["verify"])

    @api("GET", "/cases", roles=("analyst",))
    def ledger(self, request, principal: Principal):
        q = _query(request, schemas.LedgerQuery())
        return self.app.queries.ledger(principal, q)

    @api("GET", "/stats/monthly", roles=("analyst",))
    def monthly(self, request, principal: Principal):
        q = _query(request, schemas.MonthQuery())
        figures = self.app.queries.monthly(principal, q["month"], q.get("region"))
        figures["warnings"] = self.app.warnings.monthly(
            principal, figures["month"], q.get("region"), self.app.queries.tz)
        return figures

    @api("GET", "/stats/trend", roles=("analyst",))
    def trend(self, request, principal: Principal):
        q = _query(request, schemas.TrendQuery())
        return self.app.queries.trend(principal, q["months"], q["until"], q.get("region"))

    @api("GET", "/stats/performance", roles=("analyst",))
    def performance(self, request, principal: Principal):
        q = _query(request, schemas.PerformanceQuery())
        return self.app.queries.performance(principal, q["month"], q.get("region"),
                                                  q["by"])

    # 实绩考核 scores: leaders read their own too (as the warnings)
    @api("GET", "/stats/performance-review", roles=("leader", "analyst"))
    def performance_review(self, request, principal: Principal):
        q = _query(request, schemas.ReviewQuery())
        return self.app.queries.performance_review(principal, q["month"], q.get("region"),
                                                   q["by"])

    @api("GET", "/export/performance-review.csv", roles=("leader", "analyst"))
    def export_performance_review(self, request, principal: Principal):
        q = _query(request, schemas.ReviewExportQuery())
        body = self.app.queries.performance_review_csv(principal, q["month"], q.get("region"),
                                                       q["by"], q["lang"])
        name = (f"performance-review-{q['month']}-{q['by']}"
                f"{'-' + q['region'] if q.get('region') else ''}.csv")
        return Response(body, status=200, content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

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

    # -- early warnings (预警, CONTRACT.md §9; early_warning.py) -----------------------------
    @api("GET", "/warnings", roles=("leader", "analyst"))
    def warnings(self, request, principal: Principal):
        q = _query(request, schemas.WarningsQuery())
        self.app.queries.scope(principal, q.get("region"))  # 403 for a region outside
        return self.app.warnings.list(principal, q.get("status"), q.get("region"))

    @api("POST", "/warnings/<warning_id>/acknowledgement", roles=("leader",))
    def acknowledge_warning(self, request, principal: Principal, warning_id: str):
        body = load_body(request, schemas.WarningNote())
        return self.app.bus.handle(AcknowledgeWarning(warning_id, body["note"],
                                                      caller(request, principal)))

    @api("POST", "/warnings/<warning_id>/closure", roles=("leader",))
    def close_warning(self, request, principal: Principal, warning_id: str):
        body = load_body(request, schemas.WarningNote())
        return self.app.bus.handle(CloseWarning(warning_id, body["note"],
                                                caller(request, principal)))

    # -- the petitioner's side (CONTRACT §8): no token; the query code is the credential --
    # Every answer but a found case is the same 404 body, whatever was wrong with the code
    # (unknown, mistyped, malformed, another case's with a typo): each costs one keyed
    # digest and one lookup (`path:` so that a "code" with a slash gets that 404 too).
    # Each client address has a token bucket (429, Retry-After).
    @api("GET", "/status/<text:query_code>", public=True)
    def public_status(self, request, query_code: str):
        refused = self._limited(request)
        if refused is not None:
            return refused
        view = self.app.queries.public_status(self.app.codes.digest(query_code))
        return view if view is not None else _UNKNOWN_CODE()

    @api("POST", "/status/<text:query_code>/rating", public=True)
    def rate(self, request, query_code: str):
        refused = self._limited(request)
        if refused is not None:
            return refused
        case_id = self.app.queries.case_id_for_code(self.app.codes.digest(query_code))
        if case_id is None:
            return _UNKNOWN_CODE()
        body = load_body(request, schemas.RatingBody())
        # The rating is a fact of the case's log, which mediation keeps (and where "once,
        # after closure" is decided); reporting only knows which case the code opens.
        try:
            with eventlet.Timeout(self.app.rpc_timeout):
                done = self.mediation.rate_case(case_id, body["rating"], body.get("comment"))
        except eventlet.Timeout:
            return json_response({"error": "not available, try again later"}, 503,
                                 headers={"Retry-After": "30"})
        if "rated" in done:
            return 201, {"rating": done["rated"]}
        if done.get("unknown"):  # the code is right; mediation has yet to open the case
            return 409, {"error": "the case is not closed yet"}
        if done.get("errors"):
            return 400, {"errors": done["errors"]}
        return 409, {"error": done["refused"]}

    def _limited(self, request) -> Optional[Response]:
        wait = self.app.limiter.take(request.remote_addr)
        if not wait:
            return None
        return json_response({"error": "too many requests"}, 429,
                             headers={"Retry-After": str(int(wait))})

    @api("GET", "/query", public=True)
    def status_page(self, request):
        return web.status_page()

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


def _UNKNOWN_CODE() -> Response:
    return json_response({"error": "not found"}, 404)


def _query(request, schema) -> dict:
    """Query parameters through a schema; a ValidationError becomes 400 with field errors."""
    return schema.load(request.args.to_dict(flat=True))
