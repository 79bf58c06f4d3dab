"""实绩考核 through the public contract, against the suite as `make run` starts it: a clerk
registers five cases, a mediator closes two (one with an agreement and its follow-up
visit, one withdrawn and rated by the petitioner with the query code), the same
applicants come back (a repeat, and one over the village's head to the township), a
leader accepts a petition matter in time; a leader reads the month's scores over HTTP,
as CSV, and with `gm`. The expected scores are worked out by hand below from
deploy/rules.yaml's weights."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gm_contracts.testing import valid_resident_id
from gm_platform.testing.system import ROLE_TOKENS, today_local, wait_until

pytestmark = pytest.mark.timeout(300)

VILLAGE, TOWNSHIP = "410611100201", "410611100"
APPLICANT_A = valid_resident_id("41061119800101123")
APPLICANT_B = valid_resident_id("41061119750505234")


def register(suite, applicant: str, region: str, summary: str, channel="visit",
             category="neighbour") -> dict:
    reply = suite.http("POST", "intake", "/cases", "clerk", body={
        "channel": channel, "category": category, "summary": summary, "region": region,
        "parties": [{"role": "applicant", "name": "王五", "id_number": applicant},
                    {"role": "respondent", "name": "赵六"}]})
    assert reply.status_code == 201, reply.text
    made = reply.json()
    view = wait_until(lambda: (lambda v: v if v and v.get("assignment") else None)(
        suite.get_json("reporting", f"/cases/{made['case_id']}", "analyst")), 30,
        "the case placed, in reporting")
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{made['case_id']}/mediation",
                                       "mediator") or {}).get("status") == "assigned",
               30, "mediation has the case")
    return {**made, "view": view}


def mediate(suite, case_id: str, step: str, body=None) -> None:
    reply = suite.http("POST", "mediation", f"/cases/{case_id}/{step}", "mediator", body=body)
    assert reply.status_code == 200, (step, reply.status_code, reply.text)


def closed(suite, case_id: str, timeline_type: str) -> dict:
    return wait_until(lambda: (lambda v: v if v and timeline_type in
                               [t["type"] for t in v["timeline"]] else None)(
        suite.get_json("reporting", f"/cases/{case_id}", "analyst")), 30, timeline_type)


def test_a_month_scored_and_ranked_over_http_csv_and_gm(deployed):
    suite, _ = deployed
    # c1: mediated to an agreement; the follow-up visit (满意, 5) closes it
    c1 = register(suite, APPLICANT_A, VILLAGE, "邻里排水沟堵塞纠纷")
    mediate(suite, c1["case_id"], "sessions", {"held_on": today_local(), "notes": "双方到场"})
    mediate(suite, c1["case_id"], "agreement", {"terms": "李四于月底前疏通排水沟",
                                                "signed_on": today_local()})
    mediate(suite, c1["case_id"], "follow-up", {"satisfaction": 5, "petition_ceased": True})
    # c2: withdrawn; its petitioner rates it 基本满意 with the query code
    c2 = register(suite, APPLICANT_B, VILLAGE, "邻里通道纠纷")
    mediate(suite, c2["case_id"], "withdrawal", {"reason": "双方自行和解"})
    closed(suite, c2["case_id"], "AssignmentClosed")
    rated = requests.post(suite.url("reporting", f"/status/{c2['query_code']}/rating"),
                          json={"rating": "basically_satisfied"}, timeout=15)
    assert rated.status_code == 201, rated.text
    closed(suite, c1["case_id"], "AssignmentClosed")
    closed(suite, c2["case_id"], "PetitionerRated")
    unit = c1["view"]["assignment"]["unit"]
    assert c2["view"]["assignment"]["unit"] == unit
    # c3: A again, at the village (重复信访); c4: B again, at the township: over the
    # village's head (越级, and repeat). Both count against the unit that held c1 and c2.
    c3 = register(suite, APPLICANT_A, VILLAGE, "邻里排水沟堵塞纠纷（再次反映）")
    c4 = register(suite, APPLICANT_B, TOWNSHIP, "邻里通道纠纷（到镇反映）")
    assert (c3["view"]["repeat"], c4["view"]["repeat"]) == (True, True)
    # p1: a letter, a petition matter placed with the township's petition office; a
    # leader tells the petitioner it is accepted, today: in time (及时受理)
    p1 = register(suite, valid_resident_id("41061119660303345"), TOWNSHIP, "林地权属争议",
                  channel="letter", category="land_forest")
    accepted = suite.http("POST", "mediation", f"/cases/{p1['case_id']}/petition/acceptance",
                          "leader", body={"decision": "accepted", "notified_on": today_local()})
    assert accepted.status_code == 200, accepted.text
    office = p1["view"]["assignment"]["unit"]
    assert office != unit
    month = today_local()[:7]

    doc = wait_until(lambda: (lambda d: d if d and _row(d, unit)["deducted"] == 9
                              and _row(d, office)["score"] is not None else None)(
        suite.get_json("reporting", "/stats/performance-review", "leader", month=month)),
        30, "the month's deductions and the acceptance")
    # The petition office: 及时受理率 1/1 and nothing else to count: its weight (15) is
    # scaled to all 100 (15 × 100/15): 100 points, first.
    office_row = _row(doc, office)
    assert [(i["numerator"], i["denominator"], i["effective_weight"], i["points"])
            for i in office_row["indicators"]] == [
        (1, 1, 100.0, 100.0), (0, 0, 0.0, 0.0), (0, 0, 0.0, 0.0), (0, 0, 0.0, 0.0),
        (0, 0, 0.0, 0.0)]
    assert (office_row["score"], office_row["rank"]) == (100.0, 1)
    row = _row(doc, unit)
    # By hand, deploy/rules.yaml's weights (15, 25, 25, 25, 10; redistribute):
    #   closed c1 c2 = 2; resolved c1 = 1; on time 2; rated c1 (follow-up) and c2
    #   (petitioner) = 2, 满意 + 基本满意 = 2; no acceptance decision: 及时受理率 has no
    #   data, the other weights (85) scaled by 100/85.
    #   按期办结率 2/2 × 25 × 100/85 = 29.4117… → 29.41
    #   化解率     1/2 × 29.4117…      = 14.7058… → 14.71
    #   满意率     2/2 × 29.4117…      → 29.41
    #   参评率     2/2 × 10 × 100/85   = 11.7647… → 11.76
    #   base = 29.41 + 14.71 + 29.41 + 11.76 = 85.29
    #   重复信访 c3, c4: 2 × 2 = 4; 越级信访 c4: 1 × 5 = 5; deducted 9
    #   score = 85.29 − 9 = 76.29
    assert [(i["numerator"], i["denominator"], i["points"]) for i in row["indicators"]] == [
        (0, 0, 0.0), (2, 2, 29.41), (1, 2, 14.71), (2, 2, 29.41), (2, 2, 11.76)]
    assert [(d["count"], d["points"], sorted(d["cases"])) for d in row["deductions"]] == [
        (2, 4.0, sorted([c3["case_number"], c4["case_number"]])),
        (1, 5.0, [c4["case_number"]])]
    assert (row["base"], row["deducted"], row["score"], row["rank"]) == (85.29, 9.0, 76.29, 2)
    assert [r["unit"] for r in doc["rows"]][:2] == [office, unit]
    assert doc["rules"]["weights"]["on_time_closure"] == 25

    # the CSV: UTF-8 with BOM, a header row, the same figures
    reply = suite.http("GET", "reporting", "/export/performance-review.csv", "leader",
                       params={"month": month})
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/csv")
    assert reply.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))
    [mine] = [r for r in table if r["单位代码"] == unit]
    assert (mine["排名"], mine["得分"], mine["化解率分子"], mine["化解率分母"],
            mine["化解率得分"], mine["越级信访扣分"]) == ("2", "76.29", "1", "2", "14.71", "5.0")
    assert table[0]["单位代码"] == office and table[0]["及时受理率"] == "1.0"

    # by lead leader, and who may read it
    leads = suite.get_json("reporting", "/stats/performance-review", "analyst", month=month,
                           by="lead")
    assert leads["by"] == "lead" and leads["rows"]
    assert suite.http("GET", "reporting", "/stats/performance-review", "clerk",
                      params={"month": month}).status_code == 403
    assert suite.http("GET", "reporting", "/stats/performance-review", "leader",
                      params={"month": "2026-13"}).status_code == 400

    # `gm stats performance-review`, as a leader would run it
    env = dict(suite.env, GM_TOKEN=ROLE_TOKENS["leader"])
    gm = str(Path(sys.executable).with_name("gm"))
    shown = subprocess.run([gm, "stats", "performance-review", "--month", month, "--json"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert _row(json.loads(shown.stdout), unit)["score"] == 76.29
    printed = subprocess.run([gm, "stats", "performance-review", "--month", month, "--csv"],
                             env=env, capture_output=True, timeout=60)
    assert printed.returncode == 0 and printed.stdout.startswith(b"\xef\xbb\xbf")
    assert b"76.29" in printed.stdout
    people = subprocess.run([gm, "stats", "performance-review", "--month", month],
                            env=dict(env, COLUMNS="300"), capture_output=True, text=True,
                            timeout=60)  # wide enough for the table's columns
    assert people.returncode == 0 and "76.29" in people.stdout


def _row(doc: dict, unit: str) -> dict:
    return next(r for r in doc["rows"] if r["unit"] == unit)
