"""The suite as `make run` starts it, every service connected as its own broker user with
only the rights `gm broker provision --service` grants (README, "Broker users"), the court
as its agency user and the operator's `gm` as the operator user: a referral is answered,
assigned, mediated, handed to the court for judicial confirmation and closed, reporting
shows it, a malformed message is rejected, parked and replayed by the operator — and no
service's log has a refusal or an error line.

`AMQP_URI` is the operator's: a service that ignored its own GM_<SERVICE>_AMQP_URI would
connect as the operator and be refused.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gm_platform.testing.broker import private_vhost, suite_users
from gm_platform.testing.system import (
    ROOT,
    SERVICES,
    AgencyClient,
    Suite,
    report,
    today_local,
    valid_referral,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)

REFUSALS = re.compile(r"ACCESS_REFUSED|NOT_ALLOWED|access to .* refused", re.IGNORECASE)


@pytest.fixture(scope="module")
def least_privilege(tmp_path_factory):
    with private_vhost("gm-least") as amqp_uri, suite_users(amqp_uri) as users:
        suite = Suite(tmp_path_factory.mktemp("suite"), users["operator"],
                      service_uris={s: users[s] for s in SERVICES})
        court = None
        try:
            suite.start()
            court = AgencyClient(users["court"], "court", declare=False)
            yield suite, court
        finally:
            if court is not None:
                court.close()
            try:
                unclean = suite.stop()
            finally:
                suite.kill()
            assert unclean == [], f"no graceful stop of {unclean}:\n{suite.tail()}"


def expect(client: AgencyClient, type_: str, timeout: float = 30.0):
    before = len(client.of_type(type_))
    client.collect(lambda inbox: len(client.of_type(type_)) > before, timeout)
    got = client.of_type(type_)[before:]
    assert len(got) == 1, f"expected one {type_}, got {len(got)}"
    return got[0]


def mediate(suite: Suite, case_id: str, step: str, body=None) -> dict:
    reply = suite.http("POST", "mediation", f"/cases/{case_id}/{step}", "mediator", body=body)
    assert reply.status_code == 200, (step, reply.status_code, reply.text)
    return reply.json()


def gm(suite: Suite, *args: str) -> subprocess.CompletedProcess:
    """The operator's command line, as the operator's broker user (AMQP_URI)."""
    return subprocess.run([str(Path(sys.executable).with_name("gm")), *args], env=suite.env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_each_service_on_its_own_user_works_a_referral_end_to_end(least_privilege):
    suite, court = least_privilege
    referral = valid_referral("court", region="410611100201")
    court.send("referral", referral)
    accepted = expect(court, "referral_accepted")  # intake: gm.inbound → gm.outbound
    case_id = accepted.data["case_id"]
    assert accepted.data["referral_id"] == referral["referral_id"]

    # assignment and mediation followed intake's events (and each other's)
    placed = wait_until(lambda: suite.get_json("assignment", f"/cases/{case_id}/assignment",
                                               "leader"), 30, "the case assigned")
    assert placed["handler"] and placed["due_at"]
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation", "mediator")
                        or {}).get("status") == "assigned", 30, "mediation has the case")
    mediate(suite, case_id, "sessions", {"held_on": today_local(), "notes": "双方到场"})
    mediate(suite, case_id, "agreement", {"terms": "李四于月底前疏通排水沟",
                                          "signed_on": today_local()})
    mediate(suite, case_id, "confirmation-request")
    request = expect(court, "handoff_requested")  # mediation: gm.outbound
    court.send("handoff_reply", {"handoff_id": request.data["handoff_id"],
                                 "decision": "accepted"})  # gm.inbound.mediation
    court.send("confirmation_ruling", {"handoff_id": request.data["handoff_id"],
                                       "confirmed": True, "ruling_number": "(2026)豫0611民特1号"})
    outcome = expect(court, "case_outcome")
    assert (outcome.data["case_id"], outcome.data["outcome"]) == (case_id, "confirmed")

    # reporting followed all three
    view = wait_until(lambda: (lambda v: v if v and v.get("status") == "closed" else None)(
        suite.get_json("reporting", f"/cases/{case_id}", "analyst")), 30, "the case view")
    assert view["outcome"] == "confirmed"

    # the operator: a malformed message is rejected and parked; `gm dlq` lists and replays
    # it (the operator's RPC, intake publishing it to gm.inbound under the court's key)
    court.publish("court.referral", b'{"id": ', message_id="not-json-1")
    first = expect(court, "rejected")
    listed = gm(suite, "dlq", "list", "--service", "intake", "--json")
    assert listed.returncode == 0, listed.stderr
    [letter] = suite.dead_letters("intake")
    assert letter["properties"]["message_id"] == "not-json-1"
    replayed = gm(suite, "dlq", "replay", "--service", "intake", letter["id"])
    assert replayed.returncode == 0, replayed.stderr
    again = expect(court, "rejected")  # judged afresh, rejected again, parked again
    assert first.data["message_id"] == again.data["message_id"] == "not-json-1"
    assert [x["properties"]["message_id"] for x in suite.dead_letters("intake")] == [
        "not-json-1"]
    for service in SERVICES:
        assert suite.healthy(service), service

    log = suite.log_text()
    refusals = [line for line in log.splitlines() if REFUSALS.search(line)]
    assert refusals == [], "\n".join(refusals[:5])
    assert suite.error_lines() == [], "\n".join(suite.error_lines()[:5])
    report("least privilege", case_id=case_id, outcome=outcome.data["outcome"],
           refusals=len(refusals), error_lines=len(suite.error_lines()))
