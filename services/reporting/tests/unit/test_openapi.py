"""/openapi.json documents every route the service serves, from the same schemas that
validate the queries."""
from __future__ import annotations

import re

import pytest
from marshmallow import ValidationError

from gm_platform.base import PlatformService
from gm_platform.http import ApiHandler
from gm_reporting import openapi, schemas
from gm_reporting.service import ReportingService

# Every service's own routes (health, metrics, ...) and the dashboard's static files.
DASHBOARD = {"/", "/dashboard/{name}", "/assets/plotly.min.js", "/query"}


def served_routes(cls=ReportingService):
    routes = set()
    for name in dir(cls):
        member = getattr(cls, name)
        for ep in getattr(member, "nameko_entrypoints", ()):
            if isinstance(ep, ApiHandler):
                routes.add((ep.method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", ep.url)))
    return routes


def test_every_route_is_documented():
    doc = openapi.document()
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    platform = {path for _, path in served_routes(PlatformService)}
    served = {r for r in served_routes() if r[1] not in platform | DASHBOARD}
    assert served == documented
    assert doc["openapi"].startswith("3.")
    params = {p["name"] for p in doc["paths"]["/cases"]["get"]["parameters"]}
    assert {"status", "region", "category", "overdue", "page", "page_size"} <= params
    assert doc["components"]["schemas"]["CaseView"]["properties"]["timeline"]["type"] == "array"
    assert "supervisor" in {p["name"] for p in doc["paths"]["/overdue"]["get"]["parameters"]}
    assert {"petitions", "supervised"} <= set(
        doc["components"]["schemas"]["MonthlyStats"]["properties"])
    assert {"supervision", "task", "responsible_leader"} <= set(
        doc["components"]["schemas"]["Assignment"]["properties"])
    status = doc["paths"]["/status/{query_code}"]["get"]
    assert status["security"] == [] and set(status["responses"]) == {"200", "404", "429"}
    rating = doc["paths"]["/status/{query_code}/rating"]["post"]
    assert set(rating["responses"]) == {"201", "400", "404", "409", "429", "503"}


def test_query_schemas_validate():
    assert schemas.LedgerQuery().load({"page": "2", "overdue": "true", "junk": "x"}) == {
        "page": 2, "page_size": 50, "overdue": True}
    with pytest.raises(ValidationError) as info:
        schemas.LedgerQuery().load({"status": "lost", "region": "41x", "page_size": "501"})
    assert set(info.value.messages) == {"status", "region", "page_size"}
    with pytest.raises(ValidationError):
        schemas.MonthQuery().load({"month": "2026-13"})
    with pytest.raises(ValidationError):
        schemas.ExportQuery().load({})
    assert schemas.TrendQuery().load({}) == {"months": 12, "until": None}
