"""/openapi.json documents the reporting API from the same schemas that validate the
queries (every service's document: tests/test_openapi.py)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from gm_platform.openapi import document
from gm_reporting import schemas
from gm_reporting.domain.periods import month_bounds, months_ending
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
    status = doc["paths"]["/status/{query_code}"]["get"]
    assert status["security"] == [] and set(status["responses"]) == {"200", "404", "429"}
    rating = doc["paths"]["/status/{query_code}/rating"]["post"]
    assert set(rating["responses"]) == {"201", "400", "404", "409", "413", "429",
                                          "503"}


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


@pytest.mark.parametrize("schema,field", [
    (schemas.MonthQuery, "month"), (schemas.TrendQuery, "until"),
    (schemas.ExportQuery, "month"), (schemas.LedgerQuery, "month")])
def test_a_month_is_one_the_reports_can_reckon(schema, field):
    """Found by fuzzing (tests/test_http_fuzz.py): month=0000-01 was a 500 (no year 0)."""
    for month in ("0000-01", "0999-12", "3000-01", "9999-12"):
        with pytest.raises(ValidationError):
            schema().load({field: month, "month": "2026-01"} if field != "month"
                          else {field: month})
    for month in ("1900-01", "2999-12"):
        schema().load({field: month, "month": month})
    zone = ZoneInfo("Asia/Shanghai")
    for month in months_ending("1900-01", 60) + ["2999-12"]:  # the farthest a query goes
        month_bounds(month, zone)
