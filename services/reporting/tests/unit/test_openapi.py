"""/openapi.json documents the reporting API from the same schemas that validate the
queries (every service's document: tests/test_openapi.py)."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from gm_platform.openapi import document
from gm_reporting import schemas
from gm_reporting.service import ReportingService


def test_the_queries_and_answers_are_documented():
    doc = document(ReportingService)
    params = {p["name"] for p in doc["paths"]["/cases"]["get"]["parameters"]}
    assert {"status", "region", "category", "overdue", "page", "page_size"} <= params
    assert doc["components"]["schemas"]["CaseView"]["properties"]["timeline"]["type"] == "array"
    assert "supervisor" in {p["name"] for p in doc["paths"]["/overdue"]["get"]["parameters"]}
    assert {"petitions", "supervised"} <= set(
        doc["components"]["schemas"]["MonthlyStats"]["properties"])
    assert {"supervision", "task", "responsible_leader"} <= set(
        doc["components"]["schemas"]["Assignment"]["properties"])


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
