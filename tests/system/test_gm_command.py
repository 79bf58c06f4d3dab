"""The `gm` command as people and agencies use it, against the suite as `make run` starts
it: an agency refers a case and rules on its confirmation over AMQP (`gm agency`), a clerk
registers one, a leader and a mediator work it, an analyst reads the case, the ledger and
the month (`gm case|assignment|mediation|stats`) — each a separate `gm` process with only
the environment a user would set."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gm_contracts.testing import valid_resident_id
from gm_platform.testing.system import ROLE_TOKENS, valid_referral, today_local, wait_until

pytestmark = pytest.mark.timeout(300)

GM = str(Path(sys.executable).with_name("gm"))


def gm(suite, *args, role=None, env=None, input=None):
    full_env = dict(suite.env, **({"GM_TOKEN": ROLE_TOKENS[role]} if role else {}),
                    **(env or {}))
    return subprocess.run([GM, *args], env=full_env, capture_output=True, text=True,
                          timeout=60, input=input)


def gm_json(suite, *args, role=None):
    done = gm(suite, *args, "--json", role=role)
    assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_a_case_worked_end_to_end_with_gm(deployed, tmp_path):
    suite, _ = deployed
    referral = valid_referral("court", region="410611100201")
    path = tmp_path / "referral.json"
    path.write_text(json.dumps(referral, ensure_ascii=False), encoding="utf-8")

    referred = gm(suite, "agency", "court", "refer", "--file", str(path), "--json")
    assert referred.returncode == 0, referred.stderr
    [accepted] = [json.loads(line) for line in referred.stdout.splitlines()
                  if '"court.referral_accepted"' in line]
    case_id = accepted["envelope"]["data"]["case_id"]
    assert accepted["envelope"]["data"]["referral_id"] == referral["referral_id"]

    placed = wait_until(lambda: gm(suite, "assignment", "show", case_id, "--json",
                                   role="leader").returncode == 0, 30, "the assignment")
    assert placed
    held = gm_json(suite, "mediation", "session", case_id, "--notes", "双方到场",
                   "--held-on", today_local(), role="mediator")
    assert held["case_id"] == case_id
    gm_json(suite, "mediation", "agreement", case_id, "--terms", "李四于月底前疏通排水沟",
            "--signed-on", today_local(), role="mediator")
    asked = gm_json(suite, "mediation", "confirm", case_id, role="mediator")
    handoff_id = asked["awaiting"]["handoff_id"]

    inbox = gm(suite, "agency", "court", "inbox", "--timeout", "20", "--limit", "1", "--json")
    [requested] = [json.loads(line) for line in inbox.stdout.splitlines()]
    assert requested["routing_key"] == "court.handoff_requested"
    assert requested["envelope"]["data"]["handoff_id"] == handoff_id
    assert gm(suite, "agency", "court", "reply", handoff_id, "--decision", "accepted",
              "--case-number", "(2026)豫0611民特1号").returncode == 0
    assert gm(suite, "agency", "court", "rule", handoff_id, "--confirmed",
              "--ruling-number", "(2026)豫0611民特1号").returncode == 0

    view = wait_until(lambda: (lambda v: v if v["status"] == "closed" else None)(
        gm_json(suite, "case", "show", case_id, role="analyst")), 30, "the case closed")
    assert view["outcome"] == "confirmed"
    timeline = gm_json(suite, "case", "timeline", case_id, role="analyst")
    assert [t["type"] for t in timeline].count("ConfirmationRuled") == 1
    outcome = gm(suite, "agency", "court", "inbox", "--timeout", "20", "--limit", "1", "--json")
    assert json.loads(outcome.stdout)["envelope"]["data"]["outcome"] == "confirmed"
    shown = gm(suite, "case", "show", case_id, role="analyst")  # the table, for people
    assert shown.returncode == 0 and view["case_number"] in shown.stdout


def test_a_clerk_registers_and_an_analyst_reads_the_month(deployed):
    suite, _ = deployed
    made = gm_json(suite, "case", "register", "--channel", "visit", "--category", "neighbour",
                   "--summary", "邻里排水纠纷", "--region", "410611100201",
                   "--party", "applicant:王五", "--party", "respondent:赵六",
                   "--idempotency-key", "gm-visit-1", role="clerk")
    again = gm_json(suite, "case", "register", "--channel", "visit", "--category", "neighbour",
                    "--summary", "邻里排水纠纷", "--region", "410611100201",
                    "--party", "applicant:王五", "--party", "respondent:赵六",
                    "--idempotency-key", "gm-visit-1", role="clerk")
    assert again == made  # the same key: answered once
    wait_until(lambda: gm(suite, "case", "show", made["case_id"], "--json",
                          role="analyst").returncode == 0, 30, "the case in reporting")
    ledger = gm_json(suite, "case", "ledger", "--page-size", "100", role="analyst")
    assert made["case_number"] in [row["case_number"] for row in ledger["items"]]
    month = gm_json(suite, "stats", "monthly", role="analyst")
    assert month["received"] >= 1
    table = gm(suite, "stats", "monthly", role="analyst")
    assert table.returncode == 0 and "received" in table.stdout


def test_refusals_and_outages_are_said_with_their_exit_codes(deployed, tmp_path):
    suite, _ = deployed
    bad = gm(suite, "case", "register", "--channel", "fax", "--category", "neighbour",
             "--summary", "x", "--region", "410611100201", "--party", "applicant:王五",
             role="clerk")
    assert bad.returncode == 1 and "channel:" in bad.stderr  # field by field
    forbidden = gm(suite, "case", "ledger", role="clerk")
    assert forbidden.returncode == 1 and "HTTP 403" in forbidden.stderr
    no_token = gm(suite, "case", "ledger")
    assert no_token.returncode == 2 and "GM_TOKEN" in no_token.stderr
    down = gm(suite, "case", "ledger", role="analyst",
              env={"GM_REPORTING_URL": "http://127.0.0.1:9"})
    assert down.returncode == 3 and "does not answer" in down.stderr
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(valid_referral("police", kind="delegated")), encoding="utf-8")
    rejected = gm(suite, "agency", "police", "refer", "--file", str(path))
    assert rejected.returncode == 1 and "police.rejected" in rejected.stdout
    assert "kind" in rejected.stdout
    assert os.path.exists(GM)


def test_a_warning_is_raised_once_and_acknowledged_with_gm(deployed):
    """预警: a petition at the county while the same applicant's matter is at a village
    committee (越级访), repeat and collective — one escalation-risk warning, addressed to
    淇滨区's leaders, acknowledged by a leader."""
    suite, _ = deployed
    applicant = "applicant:张三:" + valid_resident_id("41061119751203004")

    def register(region, *more):
        return gm_json(suite, "case", "register", "--channel", "visit", "--category",
                       "land_acquisition", "--summary", "征地补偿款未到位", "--region", region,
                       "--party", applicant, *more, role="clerk")

    low = register("410611100201")
    high = register("410611", "--headcount", "8")

    def mine():
        doc = gm_json(suite, "warnings", "list", role="leader")
        return [w for w in doc["items"] if high["case_id"] in w["evidence"]["case_ids"]]

    [warning] = wait_until(mine, 60, "the escalation-risk warning")
    assert (warning["rule"], warning["region"], warning["status"]) == (
        "escalation_risk", "410611", "open")
    assert warning["evidence"]["case_ids"] == [high["case_id"], low["case_id"]]
    assert warning["addressed_to"]  # 淇滨区's leaders, from the directory
    acked = gm_json(suite, "warnings", "ack", warning["warning_id"], "--note",
                    "已约谈信访人，乡镇和区联合接访", role="leader")
    assert acked == {"warning_id": warning["warning_id"], "status": "acknowledged"}
    again = gm(suite, "warnings", "ack", warning["warning_id"], "--note", "x", role="leader")
    assert again.returncode == 1 and "HTTP 409" in again.stderr
    [after] = mine()  # raised once
    assert after["status"] == "acknowledged"
    assert after["acknowledgement"]["note"] == "已约谈信访人，乡镇和区联合接访"
    table = gm(suite, "warnings", "list", "--status", "acknowledged", role="analyst")
    assert table.returncode == 0 and "warnings:" in table.stdout
