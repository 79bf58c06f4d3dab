"""Early warning (预警) over a scripted month, through the real services.

Intake, assignment, mediation and reporting run in this process against the real RabbitMQ
(a private vhost) with one FakeClock; clerks register cases and a risk assessment over
HTTP on the days of a December script, with the shipped rules (deploy/rules.yaml
`early_warning`: 元旦 2027 is watched from 25 December). Reporting must raise exactly the
four warnings the script calls for, each once, with the evidence and addressees the
script implies, and nothing for the control traffic; leaders acknowledge and close them;
a restarted reporting and a reporting started afresh on the same logs show the same
warnings.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from gm_directory import load_directory
from gm_kernel import parse_time
from gm_platform.clock import FakeClock
from gm_platform.testing.broker import private_vhost
from gm_platform.testing.services import free_port, services, start_service, write_tokens
from gm_platform.testing.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[1]
QIBIN, SHANCHENG, XUN = "410611", "410602", "410621"
CLERK = {"Authorization": "Bearer t-clerk"}
ANALYST = {"Authorization": "Bearer t-analyst"}
LEADER = {"Authorization": "Bearer t-leader"}
LEADER_QB = {"Authorization": "Bearer t-leader-qb"}  # leader scoped to 淇滨区
ID_NUMBER = "11010519491231002X"
DEC = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 on 2 December, Shanghai
CHECKPOINT = datetime(2026, 12, 24, 16, 0, tzinfo=timezone.utc)  # 25 Dec 00:00 local


class Month:
    def __init__(self, running, clock: FakeClock):
        self.running, self.clock = running, clock
        self.cases: Dict[str, str] = {}  # script name -> case id

    def url(self, service: str, path: str) -> str:
        return self.running[service].url + path

    def register(self, name: str, at: datetime, category: str, region: str,
                 headcount: int = 1, id_number: str = None, channel: str = "visit") -> str:
        self.clock.set(at)
        party = {"role": "applicant", "name": "张三"}
        if id_number:
            party["id_number"] = id_number
        r = requests.post(self.url("intake", "/cases"), headers=CLERK, timeout=10, json={
            "channel": channel, "category": category, "summary": f"{name}", "region": region,
            "parties": [party], "headcount": headcount})
        assert r.status_code == 201, r.text
        self.cases[name] = r.json()["case_id"]
        return self.cases[name]

    def ledger(self, **params) -> dict:
        r = requests.get(self.url("reporting", "/cases"), headers=ANALYST, timeout=10,
                         params={"page_size": 500, **params})
        assert r.status_code == 200, r.text
        return r.json()

    def all_assigned(self) -> bool:
        """Every case registered so far is assigned (so its AssignmentMade carries the
        time it was registered on, before the clock moves on)."""
        items = self.ledger()["items"]
        return len(items) == len(self.cases) and all(i.get("unit") for i in items)

    def assignment(self, case_id: str) -> dict:
        r = requests.get(self.url("assignment", f"/cases/{case_id}/assignment"),
                         headers=LEADER, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


def warnings(base_url: str, headers=ANALYST, **params) -> dict:
    r = requests.get(base_url + "/warnings", headers=headers, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def leaders_of(region: str) -> List[str]:
    unit = load_directory(REPO / "deploy/directory.yaml").unit_for(region)
    return [leader.id for leader in unit.leaders]


def essentials(items: List[dict]) -> List[tuple]:
    """What a warning is, whoever holds it: id, rule, level, region, time, evidence,
    addressees."""
    return sorted((w["warning_id"], w["rule"], w["level"], w["region"],
                   parse_time(w["raised_at"]), tuple(w["evidence"]["case_ids"]),
                   tuple(sorted(w["evidence"]["counts"].items())), tuple(w["addressed_to"]))
                  for w in items)


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warnings-month")
    clock = FakeClock(DEC)
    tokens = write_tokens(tmp / "tokens.json")
    with private_vhost() as amqp_uri:
        with services(["intake", "assignment", "mediation", "reporting"], amqp_uri,
                      tmp / "data", tokens_file=tokens, extra_config={"GM_CLOCK": clock},
                      catchup_interval=0.5, watch_interval=3600, rpc_timeout=5.0) as running:
            m = Month(running, clock)
            m.tmp, m.amqp_uri = tmp, amqp_uri
            play(m)
            yield m


def play(m: Month) -> None:
    """December: a surge of labour disputes in 山城区, a petition over the township's head
    in 淇滨区, a high-risk project with more cases of its kind, ordinary traffic, and the
    key cases still open when 元旦's watch begins."""
    for i in range(6):  # 5 within hours: a surge (the 6th, next day: the same episode)
        m.register(f"labour-{i}", DEC + timedelta(hours=i if i < 5 else 24), "labour",
                   SHANCHENG + "100")
    m.register("petition-village", DEC + timedelta(days=5), "land_acquisition",
               "410611100201", id_number=ID_NUMBER)
    m.register("petition-county", DEC + timedelta(days=7), "land_acquisition", QIBIN,
               headcount=8, id_number=ID_NUMBER)  # repeat + collective + 越级
    m.clock.set(DEC + timedelta(days=8))
    r = requests.post(m.url("intake", "/risk-assessments"), headers=CLERK, timeout=10, json={
        "project": "淇河化工园区扩建", "region": QIBIN, "level": "high",
        "summary": "环境影响群众关注", "category": "environment"})
    assert r.status_code in (200, 201), r.text
    preventive = wait_until(lambda: m.ledger(category="environment")["items"], 20,
                            "the preventive case of the high risk")
    m.cases["preventive"] = preventive[0]["case_id"]
    m.register("environment-1", DEC + timedelta(days=9), "environment", QIBIN + "100")
    m.register("environment-2", DEC + timedelta(days=10), "environment", QIBIN + "100")
    for i in range(4):  # control: four of a kind is no surge
        m.register(f"neighbour-{i}", DEC + timedelta(days=12, hours=i), "neighbour",
                   QIBIN + "100")
    wait_until(m.all_assigned, 30, "every case assigned before the clock moves on")
    # 26 December: 元旦's watch has begun; a case registered now moves assignment's log
    # past the checkpoint.
    m.register("after-checkpoint", DEC + timedelta(days=24), "marriage_family", XUN)


def expected(m: Month) -> List[dict]:
    c = m.cases
    period_end = datetime(2027, 1, 4, tzinfo=timezone(timedelta(hours=8)))
    key_open = [name for name in ("petition-county", "preventive")
                if parse_time(m.assignment(c[name])["due_at"]) < period_end]
    assert key_open, "the script needs a key case due before 元旦 ends"
    leads = sorted({m.assignment(c[n])["lead"] for n in key_open} - {None})
    return [
        {"rule": "hotspot_surge", "level": "yellow", "region": SHANCHENG,
         "raised_at": DEC + timedelta(hours=4),
         "case_ids": [c[f"labour-{i}"] for i in range(5)], "addressed_to": leaders_of(SHANCHENG)},
        {"rule": "escalation_risk", "level": "orange", "region": QIBIN,
         "raised_at": DEC + timedelta(days=7),
         "case_ids": [c["petition-county"], c["petition-village"]],
         "addressed_to": leaders_of(QIBIN)},
        {"rule": "high_risk_project", "level": "red", "region": QIBIN,
         "raised_at": DEC + timedelta(days=10),
         "case_ids": [c["preventive"], c["environment-1"], c["environment-2"]],
         "addressed_to": leaders_of(QIBIN)},
        {"rule": "key_cases_sensitive_period", "level": "red", "region": QIBIN,
         "raised_at": CHECKPOINT, "case_ids": [c[n] for n in key_open],
         "addressed_to": list(dict.fromkeys(leaders_of(QIBIN) + leads))},
    ]


def test_the_month_raises_exactly_the_expected_warnings_once_with_their_evidence(month):
    want = expected(month)
    got = wait_until(lambda: (lambda w: w if w["total"] >= len(want) else None)(
        warnings(month.url("reporting", ""))), 30, "the month's warnings")
    assert got["total"] == len(want) == len(got["items"])
    by_rule = {w["rule"]: w for w in got["items"]}
    assert len(by_rule) == len(want)  # each rule once: the 6th labour case raised nothing
    for w in want:
        item = by_rule[w["rule"]]
        assert (item["level"], item["region"], item["status"]) == (w["level"], w["region"],
                                                                   "open"), item
        assert parse_time(item["raised_at"]) == w["raised_at"], item
        assert item["evidence"]["case_ids"] == w["case_ids"], item
        assert item["addressed_to"] == w["addressed_to"], item
    assert by_rule["hotspot_surge"]["evidence"]["counts"]["window"] == 5
    assert by_rule["hotspot_surge"]["category"] == "labour"
    assert by_rule["escalation_risk"]["evidence"]["counts"]["signals"] == 3
    assert by_rule["key_cases_sensitive_period"]["sensitive_period"] == "2027-new-year"
    # nothing for the control traffic: no neighbour, marriage or second labour warning
    evidence = {cid for item in got["items"] for cid in item["evidence"]["case_ids"]}
    control = {month.cases[n] for n in month.cases
               if n.startswith(("neighbour", "after")) or n == "labour-5"}
    assert not evidence & control
    # the monthly analysis counts them
    r = requests.get(month.url("reporting", "/stats/monthly"), headers=ANALYST,
                     params={"month": "2026-12"}, timeout=10)
    assert r.json()["warnings"]["raised"] == 4
    assert r.json()["warnings"]["by_rule"] == {w["rule"]: 1 for w in want}


def test_leaders_acknowledge_and_close_within_their_regions(month):
    base = month.url("reporting", "")
    items = {w["rule"]: w for w in warnings(base)["items"]}
    surge, escalation = items["hotspot_surge"], items["escalation_risk"]
    ack = lambda wid, headers, note="已安排研判": requests.post(  # noqa: E731
        f"{base}/warnings/{wid}/acknowledgement", headers=headers, json={"note": note},
        timeout=10)
    close = lambda wid, headers, note="已化解": requests.post(  # noqa: E731
        f"{base}/warnings/{wid}/closure", headers=headers, json={"note": note}, timeout=10)
    assert ack(surge["warning_id"], LEADER_QB).status_code == 403  # 山城区 is not theirs
    assert ack(escalation["warning_id"], ANALYST).status_code == 403  # not a leader
    assert ack("no-such-warning", LEADER).status_code == 404
    r = ack(escalation["warning_id"], LEADER_QB)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged", r.text
    assert ack(escalation["warning_id"], LEADER_QB).status_code == 409
    assert close(escalation["warning_id"], LEADER_QB).json()["status"] == "closed"
    assert close(escalation["warning_id"], LEADER_QB).status_code == 409
    assert requests.post(f"{base}/warnings/{surge['warning_id']}/closure", headers=LEADER,
                         json={}, timeout=10).status_code == 400
    assert close(surge["warning_id"], LEADER).status_code == 200
    closed = warnings(base, status="closed")
    assert {w["rule"] for w in closed["items"]} == {"hotspot_surge", "escalation_risk"}
    [done] = [w for w in closed["items"] if w["rule"] == "escalation_risk"]
    assert done["acknowledgement"]["by"] == "leader-qb"
    assert done["closure"]["note"] == "已化解"
    assert warnings(base, status="open")["total"] == 2
    # a leader scoped to 淇滨区 sees its three, not 山城区's
    assert {w["region"] for w in warnings(base, LEADER_QB)["items"]} == {QIBIN}


def test_a_restarted_and_a_fresh_reporting_show_the_same_warnings(month):
    base = month.url("reporting", "")
    before = warnings(base)["items"]
    old = month.running["reporting"]
    old.stop()  # its watch is folded again from the logs at start
    again = start_service("reporting", old.settings, extra_config={"GM_CLOCK": month.clock})
    try:
        after = wait_until(lambda: (lambda w: w if w["total"] >= 4 else None)(
            warnings(again.url)), 30, "the restarted reporting's warnings")
        assert after["items"] == before  # statuses too: they are reporting's own log
        # A reporting with a store of its own, on the same source logs: the same warnings
        # (all open: acknowledgements are leaders' decisions, kept in the first one's log)
        fresh_settings = replace(old.settings, data_dir=str(month.tmp / "fresh"),
                                 http_port=free_port())
        fresh = start_service("reporting", fresh_settings,
                              extra_config={"GM_CLOCK": month.clock})
        try:
            rebuilt = wait_until(lambda: (lambda w: w if w["total"] >= 4 else None)(
                warnings(fresh.url)), 30, "the fresh reporting's warnings")
            assert essentials(rebuilt["items"]) == essentials(before)
            assert {w["status"] for w in rebuilt["items"]} == {"open"}
        finally:
            fresh.stop()
    finally:
        again.stop()
