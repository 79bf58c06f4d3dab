"""Reporting's routes in /openapi.json: a summary, query and answer schema each (the
document itself is made by gm_platform.openapi; print it with
`python -m gm_platform.openapi reporting`)."""
from __future__ import annotations

from gm_platform.openapi import Api, Doc

from . import schemas

NO_CASE = "no such case"
NO_WARNING = "no such warning"
WARNING_STATE = "the warning is already acknowledged or closed"
WRONG_CODE = "no case has this code (the same answer for any wrong code)"
TOO_MANY = (429, "too many requests from this address; see Retry-After")

API = Api(
    title="reporting",
    description="Read models of every service's events: case view, ledger, monthly "
                "analysis, boards, export (role analyst; leader too for warnings and 实绩考核), and the dashboard's static page.",
    routes={
        ("GET", "/cases/{case_id}"): Doc(
            "A case with its full timeline (and, with verify=true, whether its history "
            "verifies against the services' hash chains)", schemas.CaseView,
            query=schemas.CaseQuery, not_found=NO_CASE),
        ("GET", "/cases"): Doc("The ledger (台账), newest registration first",
                               schemas.LedgerPage, query=schemas.LedgerQuery),
        ("GET", "/stats/monthly"): Doc("Monthly analysis (研判)", schemas.MonthlyStats,
                                       query=schemas.MonthQuery),
        ("GET", "/stats/trend"): Doc("Month-by-month figures", schemas.Trend,
                                     query=schemas.TrendQuery),
        ("GET", "/stats/performance"): Doc(
            "Performance per unit, lead leader or handler (实绩考核)", schemas.Performance,
            query=schemas.PerformanceQuery),
        ("GET", "/stats/performance-review"): Doc(
            "实绩考核 scores per unit or lead leader, ranked, each with the counts, rates, "
            "weights and points behind it (weights: deploy/rules.yaml performance_review)",
            schemas.PerformanceReview, query=schemas.ReviewQuery),
        ("GET", "/export/performance-review.csv"): Doc(
            "The 实绩考核 scores as CSV, in rank order (UTF-8 with BOM; Chinese headers by "
            "default, lang=en the field names)", content="text/csv",
            query=schemas.ReviewExportQuery),
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
        # early warnings (预警, CONTRACT.md §9)
        ("GET", "/warnings"): Doc("Early warnings (预警), oldest raised first",
                                  schemas.WarningsPage, query=schemas.WarningsQuery),
        ("POST", "/warnings/{warning_id}/acknowledgement"): Doc(
            "A leader acknowledges a warning, with a note", schemas.WarningAnswer,
            body=schemas.WarningNote, idempotent=True, not_found=NO_WARNING,
            conflict=WARNING_STATE),
        ("POST", "/warnings/{warning_id}/closure"): Doc(
            "A leader closes a warning, with a note", schemas.WarningAnswer,
            body=schemas.WarningNote, idempotent=True, not_found=NO_WARNING,
            conflict=WARNING_STATE),
        # the petitioner's side (CONTRACT.md §8): no token, the query code is the credential
        ("GET", "/status/{query_code}"): Doc(
            "A case's public status: stage names and dates only", schemas.PublicStatus,
            not_found=WRONG_CODE, errors=(TOO_MANY,)),
        ("POST", "/status/{query_code}/rating"): Doc(
            "The petitioner's rating, once per closed case", schemas.Rating, status=201,
            body=schemas.RatingBody, not_found=WRONG_CODE,
            conflict="the case is not closed yet, or was rated already",
            errors=(TOO_MANY, (503, "the rating cannot be recorded now; see Retry-After"))),
        ("GET", "/query"): Doc("The petitioner's status page (查询)", content="text/html"),
        # the dashboard: static files holding no data (its script reads the API above)
        ("GET", "/"): Doc("The dashboard page (研判看板)", content="text/html"),
        ("GET", "/dashboard/{name}"): Doc("The dashboard's script and style sheet",
                                          content=("text/javascript", "text/css"),
                                          not_found="no such file"),
        ("GET", "/assets/plotly.min.js"): Doc("Plotly's bundle, served by reporting itself",
                                              content="text/javascript"),
    },
)
