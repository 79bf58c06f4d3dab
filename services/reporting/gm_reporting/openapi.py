"""Reporting's routes in /openapi.json: a summary, query and answer schema each (the
document itself is made by gm_platform.openapi; print it with
`python -m gm_platform.openapi reporting`)."""
from __future__ import annotations

from gm_platform.openapi import Api, Doc

from . import schemas

NO_CASE = "no such case"

API = Api(
    title="reporting",
    description="Read models of every service's events: case view, ledger, monthly "
                "analysis, boards, export (role analyst), and the dashboard's static page.",
    routes={
        ("GET", "/cases/{case_id}"): Doc("A case with its full timeline", schemas.CaseView,
                                         not_found=NO_CASE),
        ("GET", "/cases"): Doc("The ledger (台账), newest registration first",
                               schemas.LedgerPage, query=schemas.LedgerQuery),
        ("GET", "/stats/monthly"): Doc("Monthly analysis (研判)", schemas.MonthlyStats,
                                       query=schemas.MonthQuery),
        ("GET", "/stats/trend"): Doc("Month-by-month figures", schemas.Trend,
                                     query=schemas.TrendQuery),
        ("GET", "/stats/performance"): Doc(
            "Performance per unit, lead leader or handler (实绩考核)", schemas.Performance,
            query=schemas.PerformanceQuery),
        ("GET", "/overdue"): Doc(
            "Open cases past their deadline or escalated, most overdue first",
            schemas.LedgerPage, query=schemas.OverdueQuery),
        ("GET", "/handoffs"): Doc("The hand-off board", schemas.HandoffBoard,
                                  query=schemas.HandoffQuery),
        ("GET", "/screening/coverage"): Doc("Screening reports owed and filed (排查)",
                                            schemas.Coverage, query=schemas.MonthQuery),
        ("GET", "/export/ledger.csv"): Doc(
            "The month's ledger as CSV (UTF-8 with BOM, local times; Chinese headers and "
            "labels by default, lang=en the English column names and raw values)",
            content="text/csv", query=schemas.ExportQuery),
        ("GET", "/vocabulary"): Doc(
            "The labels of every closed vocabulary and the ledger's field names (Chinese "
            "by default)", schemas.Vocabulary, query=schemas.VocabularyQuery),
        # the dashboard: static files holding no data (its script reads the API above)
        ("GET", "/"): Doc("The dashboard page (研判看板)", content="text/html"),
        ("GET", "/dashboard/{name}"): Doc("The dashboard's script and style sheet",
                                          content=("text/javascript", "text/css"),
                                          not_found="no such file"),
        ("GET", "/assets/plotly.min.js"): Doc("Plotly's bundle, served by reporting itself",
                                              content="text/javascript"),
    },
)
