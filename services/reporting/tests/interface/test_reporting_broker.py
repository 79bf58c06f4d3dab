"""Reporting against the real RabbitMQ: intake and assignment run for real, mediation is
played by a stand-in service that appends the events of its vocabulary to its own store
(its outbox relay publishes them and it serves read_log, like every service)."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from gm_kernel import NewEvent, format_time
from gm_platform.base import PlatformService
from gm_platform.bootstrap import Application, Bootstrapped, Platform
from gm_platform.clock import FakeClock
from gm_platform.feed import Feeds
from gm_platform.store_provider import StoreHandle, find_relay, find_store
from gm_platform.testing.services import (TEST_TOKENS, free_port, service_settings,
                                          start_service)
from gm_platform.testing.wait import wait_until
from gm_reporting.bootstrap import ReportingApp
from gm_reporting.rebuild import LocalLog, Rebuilder
from gm_reporting.store.layout import PROJECTIONS
from gm_reporting.store.sqlite import SQLiteProjectionStore

pytestmark = [pytest.mark.broker, pytest.mark.timeout(150)]

REPO = Path(__file__).resolve().parents[4]
FEB_1_LOCAL = datetime(2026, 1, 31, 17, 0, tzinfo=timezone.utc)  # 01:00 on 1 Feb, Shanghai
JAN_31_LOCAL = datetime(2026, 1, 31, 15, 0, tzinfo=timezone.utc)  # 23:00 on 31 Jan
VILLAGE = "410611100201"
ANALYST = {"Authorization": "Bearer t-analyst"}
CLERK = {"Authorization": "Bearer t-clerk"}
ID_NUMBER = "11010519491231002X"


class FollowsNobody(Feeds):
    """A stand-in's feeds: the events its place in the topology brings it are dropped."""

    def __init__(self):
        super().__init__({})

    def deliver(self, source: str, body: bytes) -> str:
        return "ignored"


def stand_in(platform: Platform) -> Application:
    return Application(bus=None, feeds=FollowsNobody())


class StandInMediation(PlatformService):
    """Only what every service has: a store with its relay, read_log, /health."""

    name = "mediation"
    app = Bootstrapped(stand_in)


class StandInAssignment(PlatformService):
    name = "assignment"
    app = Bootstrapped(stand_in)


def tokens_file(path: Path) -> str:
    doc = json.loads(json.dumps(TEST_TOKENS))
    doc["tokens"].append({"token": "t-analyst-hs", "subject": "analyst-hs",
                          "roles": ["analyst"], "regions": ["410602"]})
    doc["tokens"].append({"token": "t-analyst-qb", "subject": "analyst-qb",
                          "roles": ["analyst"], "regions": ["410611"]})
    path.write_text(json.dumps(doc))
    return str(path)


def writer(svc) -> StoreHandle:
    return StoreHandle(find_store(svc.container), find_relay(svc.container))


def append(svc, stream: str, type_: str, data: dict, case_id: str, at: datetime) -> None:
    store = writer(svc)
    store.append(stream, store.stream_version(stream), [NewEvent(
        type_, data, occurred_at=at, actor="mediator-1", correlation_id=case_id)])


def register(intake, **body) -> str:
    payload = {"channel": "visit", "category": "neighbour", "summary": "邻里纠纷",
               "region": VILLAGE, "parties": [{"role": "applicant", "name": "王五"}]}
    payload.update(body)
    resp = requests.post(intake.url + "/cases", json=payload, headers=CLERK, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()["case_id"]


def wait_for(fetch, check, timeout=30.0):
    """What `fetch` gives once `check` accepts it (AssertionError after `timeout`)."""
    last = []

    def reached():
        last[:] = [fetch()]
        return check(last[0])

    wait_until(reached, timeout, what=f"{fetch} to pass {check}")
    return last[0]


def get(svc, path, headers=ANALYST, **params):
    return requests.get(svc.url + path, headers=headers, params=params, timeout=10)


def case_status(reporting, case_id):
    resp = get(reporting, f"/cases/{case_id}")
    return resp.json().get("status") if resp.status_code == 200 else resp.status_code


def app_of(svc) -> ReportingApp:
    """The service's application (its first worker built it: the /health start_service
    waits for)."""
    return next(d for d in svc.container.dependencies if isinstance(d, Bootstrapped)).app


def start(name, amqp_uri, data_dir, tokens, clock, cls=None, **overrides):
    settings = service_settings(name, amqp_uri, data_dir, tokens_file=tokens,
                                catchup_interval=0.5, rpc_timeout=5.0, **overrides)
    return start_service(name, settings, service_cls=cls, extra_config={"GM_CLOCK": clock})


@pytest.fixture
def clock():
    return FakeClock(FEB_1_LOCAL)


def test_case_view_ledger_and_monthly_stats_from_real_events(tmp_path, amqp_uri, clock):
    tokens = tokens_file(tmp_path / "tokens.json")
    data = tmp_path / "data"
    running = []
    try:
        intake = start("intake", amqp_uri, data, tokens, clock)
        running.append(intake)
        assignment = start("assignment", amqp_uri, data, tokens, clock, watch_interval=3600)
        running.append(assignment)
        mediation = start("mediation", amqp_uri, data, tokens, clock, cls=StandInMediation)
        running.append(mediation)
        reporting = start("reporting", amqp_uri, data, tokens, clock)
        running.append(reporting)

        feb = register(intake, headcount=6, parties=[
            {"role": "applicant", "name": "王五", "id_number": ID_NUMBER,
             "phone": "13800001234"}])
        wait_for(lambda: case_status(reporting, feb), lambda s: s == "assigned")
        clock.set(JAN_31_LOCAL)  # registered later, but on the day before, local time
        jan = register(intake, category="labour", summary="拖欠工资")
        wait_for(lambda: case_status(reporting, jan), lambda s: s == "assigned")

        # mediation opens both; the February case reaches an agreement and closes
        clock.set(FEB_1_LOCAL + timedelta(days=2))
        for cid in (feb, jan):
            view = get(reporting, f"/cases/{cid}").json()
            append(mediation, f"mediation-{cid}", "MediationOpened", {
                "case_id": cid, "case_number": view["case_number"], "channel": "visit",
                "category": view["category"], "region": VILLAGE, "parties": [],
                "key_case": view["key_case"], "collective": view["collective"],
                "repeat": False, "registered_at": view["registered_at"]}, cid, clock.now())
        append(mediation, f"mediation-{feb}", "AgreementReached",
               {"terms": "赔偿", "signed_on": "2026-02-03"}, feb, clock.now())
        append(mediation, f"mediation-{feb}", "CaseClosed", {
            "case_id": feb, "outcome": "agreement", "resolved": True,
            "closed_at": format_time(clock.now()), "summary": "达成协议"}, feb, clock.now())
        append(mediation, "handoff-h1", "HandOffRequested", {
            "handoff_id": "h1", "case_id": jan, "case_number": "x", "agency": "petition",
            "kind": "petition_handling", "agreement": None,
            "requested_at": format_time(clock.now()),
            "due_at": format_time(clock.now() + timedelta(days=15))}, jan, clock.now())

        view = wait_for(lambda: get(reporting, f"/cases/{feb}").json(),
                        lambda v: [t["type"] for t in v["timeline"]][-1:] == ["AssignmentClosed"])
        assert view["status"] == "closed" and view["outcome"] == "agreement"
        assert view["channel"] == "visit" and view["region"] == VILLAGE
        assert view["collective"] is True and view["key_case"] is True
        assert view["registered_at"] == format_time(FEB_1_LOCAL)
        assert view["assignment"]["unit"] and view["assignment"]["due_at"]
        assert view["on_time"] is True and view["resolved"] is True
        assert view["parties"][0]["id_number"] == "1101**********002X"
        assert view["parties"][0]["phone"] == "138****1234"
        assert [t["type"] for t in view["timeline"]] == [
            "CaseRegistered", "AssignmentMade", "MediationOpened", "AgreementReached",
            "CaseClosed", "AssignmentClosed"]
        assert set(view) >= {"case_id", "case_number", "status", "channel", "source_agency",
                             "referral_id", "category", "region", "collective", "repeat",
                             "key_case", "assignment", "handoffs", "outcome", "parties",
                             "timeline"}
        wait_for(lambda: case_status(reporting, jan), lambda s: s == "handed_off")
        assert get(reporting, f"/cases/{jan}").json()["handoffs"] == [{
            "handoff_id": "h1", "agency": "petition", "kind": "petition_handling",
            "status": "requested", "requested_at": format_time(clock.now()),
            "due_at": format_time(clock.now() + timedelta(days=15)),
            "overdue_reported": False}]

        # the ledger and the month's figures, in local months
        ledger = get(reporting, "/cases", month="2026-02").json()
        assert [i["case_id"] for i in ledger["items"]] == [feb] and ledger["total"] == 1
        assert get(reporting, "/cases", status="handed_off").json()["total"] == 1
        assert get(reporting, "/cases", page_size=1, page=2).json()["items"][0]["case_id"] == jan
        february = get(reporting, "/stats/monthly", month="2026-02").json()
        assert (february["received"], february["closed"], february["resolved"]) == (1, 1, 1)
        assert february["collective"] == 1 and february["by_channel"]["visit"] == 1
        assert february["resolution_rate"] == 1.0 and february["on_time_rate"] == 1.0
        assert february["handoffs"]["petition"]["requested"] == 1  # requested on 3 Feb
        january = get(reporting, "/stats/monthly", month="2026-01").json()
        assert january["received"] == 1 and january["by_category"]["labour"] == 1
        assert january["closed"] == 0 and january["resolution_rate"] is None
        trend = get(reporting, "/stats/trend", months=2, until="2026-02").json()
        assert [p["received"] for p in trend["months"]] == [1, 1]

        # overdue: past the January case's deadline it is listed
        due = datetime.fromisoformat(get(reporting, f"/cases/{jan}").json()
                                     ["assignment"]["due_at"].replace("Z", "+00:00"))
        clock.set(due + timedelta(days=2))
        overdue = get(reporting, "/overdue").json()
        assert [i["case_id"] for i in overdue["items"]] == [jan]
        assert overdue["items"][0]["days_overdue"] == 2
        assert get(reporting, "/cases", overdue="true").json()["total"] == 1

        # export, OpenAPI, the other boards
        export = get(reporting, "/export/ledger.csv", month="2026-02", lang="en")
        assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert [r["case_id"] for r in rows] == [feb]
        assert rows[0]["registered_at"] == "2026-02-01 01:00:00"
        assert (rows[0]["channel"], rows[0]["collective"]) == ("visit", "1")
        chinese = get(reporting, "/export/ledger.csv", month="2026-02")  # the default
        assert chinese.content.startswith("\ufeff".encode())
        [zh] = list(csv.DictReader(io.StringIO(chinese.content.decode("utf-8-sig"))))
        assert zh["案件标识"] == feb and zh["登记时间"] == "2026-02-01 01:00:00"
        assert (zh["来源渠道"], zh["集体访"], zh["办理状态"]) == ("来访", "是", "已办结")
        assert zh["责任单位"] != rows[0]["unit"]  # the unit's name from the directory
        assert get(reporting, "/export/ledger.csv", month="2026-02",
                   lang="fr").status_code == 400
        vocabulary = get(reporting, "/vocabulary").json()
        assert vocabulary["lang"] == "zh"
        assert vocabulary["labels"]["category"]["neighbour"] == "邻里纠纷"
        assert get(reporting, "/vocabulary", lang="en").json()["labels"]["yes_no"] == {
            "true": "Yes", "false": "No"}
        assert get(reporting, "/vocabulary", headers=CLERK).status_code == 403
        spec = get(reporting, "/openapi.json").json()
        assert {"/cases", "/cases/{case_id}", "/stats/monthly", "/stats/trend", "/overdue",
                "/export/ledger.csv", "/handoffs", "/vocabulary"} <= set(spec["paths"])
        assert get(reporting, "/handoffs").json()["board"]["petition"]["requested"] == 1
        assert get(reporting, "/stats/performance", month="2026-02").status_code == 200
        assert get(reporting, "/screening/coverage", month="2026-02").json()["due"] > 0
        health = requests.get(reporting.url + "/health", timeout=5).json()
        assert health["checks"]["projections"] == "ok" and health["status"] == "ok"

        # authentication, roles, regions, bad queries
        assert get(reporting, "/cases", headers={}).status_code == 401
        assert get(reporting, "/openapi.json", headers={}).status_code == 401
        assert get(reporting, "/cases", headers=CLERK).status_code == 403
        assert get(reporting, f"/cases/{feb}",
                   headers={"Authorization": "Bearer t-admin"}).status_code == 200
        other = {"Authorization": "Bearer t-analyst-hs"}
        assert get(reporting, f"/cases/{feb}", headers=other).status_code == 403
        assert get(reporting, "/cases", headers=other).json()["total"] == 0
        assert get(reporting, "/stats/monthly", headers=other, region="410611").status_code == 403
        mine = {"Authorization": "Bearer t-analyst-qb"}
        assert get(reporting, "/cases", headers=mine).json()["total"] == 2
        assert get(reporting, "/cases/no-such-case").status_code == 404
        bad = get(reporting, "/cases", status="lost", page_size=0)
        assert bad.status_code == 400 and set(bad.json()["errors"]) == {"status", "page_size"}
        assert get(reporting, "/stats/monthly", month="2026-13").status_code == 400
    finally:
        for svc in reversed(running):
            svc.stop()


def test_killed_mid_stream_and_restarted_gives_identical_projections(tmp_path, amqp_uri, clock):
    tokens = tokens_file(tmp_path / "tokens.json")
    data = tmp_path / "data"
    running = []
    try:
        intake = start("intake", amqp_uri, data, tokens, clock)
        assignment = start("assignment", amqp_uri, data, tokens, clock, cls=StandInAssignment)
        mediation = start("mediation", amqp_uri, data, tokens, clock, cls=StandInMediation)
        running += [intake, assignment, mediation]
        reporting = start("reporting", amqp_uri, data, tokens, clock)
        sources = {"intake": intake, "assignment": assignment, "mediation": mediation}

        def burst(n: int, tag: str) -> None:
            for i in range(n):
                clock.advance(minutes=7)
                cid = register(intake, summary=f"{tag} {i}")
                append(assignment, f"assignment-{cid}", "AssignmentMade", {
                    "track": "people", "level": "village", "unit": VILLAGE, "lead": None,
                    "handler": "H1", "due_at": format_time(clock.now() + timedelta(days=30)),
                    "days": 30, "key_case": False, "region": VILLAGE}, cid, clock.now())
                append(mediation, f"mediation-{cid}", "MediationOpened", {
                    "case_id": cid, "case_number": f"n-{tag}-{i}", "region": VILLAGE,
                    "category": "neighbour", "channel": "visit", "parties": []},
                    cid, clock.now())
                if i % 2:
                    append(mediation, f"mediation-{cid}", "CaseClosed", {
                        "case_id": cid, "outcome": "withdrawn", "resolved": False,
                        "closed_at": format_time(clock.now())}, cid, clock.now())

        burst(12, "before")
        wait_for(lambda: app_of(reporting).feeds.positions()["cases:intake"],
                 lambda p: p > 0)
        reporting.kill()  # mid-stream: the burst is still being delivered
        burst(8, "while-down")
        settings = replace(reporting.settings, http_port=free_port())
        reporting = start_service("reporting", settings, extra_config={"GM_CLOCK": clock})
        running.append(reporting)
        burst(6, "after")

        def caught_up():
            positions = app_of(reporting).feeds.positions()
            return all(positions[f"{name}:{s}"] == find_store(sources[s].container).last_position()
                       for name, spec in PROJECTIONS.items() for s in spec.sources)

        wait_for(caught_up, bool, timeout=60)
        live = app_of(reporting).store
        fresh = SQLiteProjectionStore(":memory:")
        try:
            for spec in PROJECTIONS.values():
                fresh.ensure(spec)
            logs = {s: LocalLog(find_store(svc.container)) for s, svc in sources.items()}
            Rebuilder(fresh, list(PROJECTIONS.values()), logs).run()
            for spec in PROJECTIONS.values():
                assert live.dump(spec) == fresh.dump(spec), spec.name
            assert len(live.dump(PROJECTIONS["cases"])["cases"]) == 26
        finally:
            fresh.close()
        assert get(reporting, "/cases").json()["total"] == 26
        assert get(reporting, "/cases", status="closed").json()["total"] == 13
    finally:
        for svc in reversed(running):
            svc.stop()


def test_gm_projections_rebuild_over_rpc_while_serving(tmp_path, amqp_uri, clock, monkeypatch):
    from click.testing import CliRunner

    from gm_platform.cli import main as gm

    tokens = tokens_file(tmp_path / "tokens.json")
    data = tmp_path / "data"
    running = []
    try:
        intake = start("intake", amqp_uri, data, tokens, clock)
        running.append(intake)
        for name, cls in (("assignment", StandInAssignment), ("mediation", StandInMediation)):
            running.append(start(name, amqp_uri, data, tokens, clock, cls=cls))
        reporting = start("reporting", amqp_uri, data, tokens, clock)
        running.append(reporting)
        ids = [register(intake, summary=f"case {i}") for i in range(5)]
        wait_for(lambda: get(reporting, "/cases").json()["total"], lambda n: n == 5)
        before = get(reporting, "/stats/monthly", month="2026-02").json()
        generation = app_of(reporting).store.active("cases").number

        monkeypatch.setenv("AMQP_URI", amqp_uri)
        monkeypatch.setenv("GM_DATA_DIR", str(data))
        result = CliRunner().invoke(gm, ["projections", "rebuild"])
        assert result.exit_code == 0, result.output
        assert "cases" in result.output and "events/s" in result.output
        assert app_of(reporting).store.active("cases").number > generation
        after = get(reporting, "/stats/monthly", month="2026-02").json()
        assert after["received"] == before["received"] == 5
        assert {i["case_id"] for i in get(reporting, "/cases").json()["items"]} == set(ids)
        ids.append(register(intake, summary="after the switch"))  # the live feeds go on
        wait_for(lambda: get(reporting, "/cases").json()["total"], lambda n: n == 6)
        status = CliRunner().invoke(gm, ["projections", "status"])
        assert status.exit_code == 0 and "active" in status.output, status.output
    finally:
        for svc in reversed(running):
            svc.stop()
