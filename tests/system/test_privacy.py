"""Personal data at rest and its erasure, through the processes `make run` starts.

Agencies refer cases naming people (names, resident ids, phones), one of them also in a
message that is rejected and parked; a case is mediated to a request for judicial
confirmation (the parties go to the court). Then: no name, id number or phone is in any
file of the data directory; the operator runs `gm privacy erase --id-number ...`; every
service reports what it destroyed; the person reads `[erased]` in reporting's case view,
in the logs served over RPC and in the dead letter, nobody else does; the month's
figures, the ledger and its CSV are byte for byte what they were; a rebuilt projection
stays erased; the person's new case is still recognised as a repeat; erasing again
destroys nothing.
"""
from __future__ import annotations

import json

import pytest

from gm_platform.testing.system import report, today_local, valid_referral, wait_until

pytestmark = pytest.mark.timeout(600)

VILLAGE = "410611100201"
ALICE = {"role": "applicant", "name": "欧阳秘密", "id_number": "11010519491231002X",
         "phone": "13912345678"}
ALICE_RESPONDENT = {"role": "respondent", "name": "司马无号"}  # gives no id number
BOB = {"role": "applicant", "name": "诸葛留存", "id_number": "110101199003074477",
       "phone": "13700001111"}
ERASED = "[erased]"


def accepted_case(client, referral_id: str) -> dict:
    got = client.collect(lambda inbox: any(r.data.get("referral_id") == referral_id
                                           for r in inbox), 60)
    [answer] = [r for r in got if r.type == "referral_accepted"
                and r.data["referral_id"] == referral_id]
    return answer.data


def refer(client, parties, **overrides) -> dict:
    data = valid_referral(client.name, region=VILLAGE, parties=parties, **overrides)
    client.send("referral", data)
    return accepted_case(client, data["referral_id"])


def view(suite, case_id: str) -> dict:
    return wait_until(lambda: suite.get_json("reporting", f"/cases/{case_id}", "analyst"),
                      30, f"reporting's view of {case_id}")


def names(v: dict) -> list:
    return [p["name"] for p in v["parties"]]


def at_rest(suite) -> bytes:
    return b"".join(p.read_bytes() for p in suite.data_dir.rglob("*") if p.is_file())


def figures(suite) -> dict:
    """The month's figures (less `as_of`, the time of asking), the ledger and its CSV."""
    month = today_local()[:7]
    csv = suite.http("GET", "reporting", "/export/ledger.csv", "analyst",
                     params={"month": month})
    assert csv.status_code == 200
    monthly = suite.get_json("reporting", "/stats/monthly", "analyst", month=month)
    monthly.pop("as_of", None)
    return {"monthly": monthly, "ledger": suite.ledger(), "csv": csv.content}


def assert_same(after: dict, before: dict) -> None:
    for part in before:
        assert after[part] == before[part], part


def events_of(suite, service: str, case_id: str) -> list:
    log = suite.rpc(service, "read_log", 0, 1000)
    return [e for e in log if e["correlation_id"] == case_id or
            e["data"].get("case_id") == case_id]


def test_erasing_a_person_end_to_end(deployed):
    suite, agencies = deployed
    court, police = agencies["court"], agencies["police"]
    first = refer(court, [ALICE, ALICE_RESPONDENT])
    second = refer(court, [ALICE])  # the same applicant and matter: a repeat
    bob = refer(police, [BOB, ALICE_RESPONDENT])
    rejected = court.send("referral", valid_referral("court", region=VILLAGE, category="nope",
                                                     parties=[ALICE]))
    court.collect(lambda inbox: any(r.type == "rejected" and r.data["message_id"] ==
                                    rejected["id"] for r in inbox), 60)
    # mediation works the first case to a request for judicial confirmation: the court
    # is sent the parties (in transit, in the clear)
    case_id = first["case_id"]
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation",
                                       "mediator") or {}).get("status") == "assigned",
               30, "mediation has the case")
    for step, body in (("agreement", {"terms": "月底前疏通排水沟", "signed_on": today_local()}),
                       ("confirmation-request", None)):
        reply = suite.http("POST", "mediation", f"/cases/{case_id}/{step}", "mediator",
                           body=body)
        assert reply.status_code == 200, reply.text
    court.collect(lambda inbox: any(r.type == "handoff_requested" for r in inbox), 30)
    [handoff] = [r for r in court.inbox if r.type == "handoff_requested"]
    assert [p["name"] for p in handoff.data["parties"]] == [ALICE["name"], ALICE_RESPONDENT["name"]]
    for c in (first, second, bob):
        view(suite, c["case_id"])
    assert view(suite, second["case_id"])["repeat"] is True  # matched on the pseudonym
    wait_until(lambda: len(suite.ledger()) == 3, 30, "three cases in the ledger")

    # at rest: no name, id number or phone in any file of any service
    raw = at_rest(suite)
    secrets = [ALICE["name"], ALICE["id_number"], ALICE["phone"], ALICE_RESPONDENT["name"],
               BOB["name"], BOB["id_number"], BOB["phone"]]
    assert [s for s in secrets if s.encode() in raw] == []
    before = figures(suite)
    assert names(view(suite, case_id)) == [ALICE["name"], ALICE_RESPONDENT["name"]]

    erase = suite.gm("privacy", "erase", "--id-number", ALICE["id_number"].lower(), "--json")
    assert erase.returncode == 0, erase.stderr
    done = json.loads(erase.stdout)
    destroyed = {s: r["destroyed"] for s, r in done.items()}
    # intake: her key, her first case's key (its respondent gave no id number; her second
    # case names nobody else, so it has none) and the letter's
    assert destroyed["intake"] == {"person": 1, "case": 1, "dead_letter": 1}
    assert destroyed["mediation"]["person"] == 1 and destroyed["reporting"]["person"] == 1
    assert destroyed["assignment"] == {}  # it keeps no personal data

    # every read: erased for her (and the respondent of her cases), not for Bob
    assert names(view(suite, case_id)) == [ERASED, ERASED]
    assert names(view(suite, second["case_id"])) == [ERASED]
    assert names(view(suite, bob["case_id"])) == [BOB["name"], ALICE_RESPONDENT["name"]]
    assert view(suite, case_id)["parties"][0]["id_number"] is None
    for service in ("intake", "mediation"):
        served = [p for e in events_of(suite, service, case_id)
                  for p in e["data"].get("parties") or []]
        assert served and {p["name"] for p in served} == {ERASED}, service
    bob_served = [p["name"] for e in events_of(suite, "intake", bob["case_id"])
                  for p in e["data"]["parties"]]
    assert bob_served == [BOB["name"], ALICE_RESPONDENT["name"]]
    [letter] = [x for x in suite.dead_letters("intake")
                if x["properties"].get("message_id") == rejected["id"]]
    assert letter["body"] == ERASED
    assert_same(figures(suite), before)  # counts, figures, the ledger and its CSV unchanged

    # a projection rebuilt from the logs stays erased
    rebuilt = suite.gm("projections", "rebuild", "cases", timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert names(view(suite, case_id)) == [ERASED, ERASED]
    assert_same(figures(suite), before)

    # she comes back: a new case, still a repeat of the erased ones; erasing again is a no-op
    third = refer(court, [ALICE])
    assert view(suite, third["case_id"])["repeat"] is True
    assert names(view(suite, third["case_id"])) == [ALICE["name"]]
    again = suite.gm("privacy", "erase", "--id-number", BOB["id_number"], "--json")
    assert again.returncode == 0, again.stderr
    again = suite.gm("privacy", "erase", "--id-number", BOB["id_number"], "--json")
    assert {s: r["destroyed"] for s, r in json.loads(again.stdout).items()} == \
        {s: {} for s in destroyed}
    assert suite.error_lines() == [], "\n".join(suite.error_lines()[:5])
    report("privacy", destroyed=destroyed, cases=3, secrets_at_rest=0)
