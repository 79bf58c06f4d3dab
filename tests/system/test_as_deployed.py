"""The suite as `make run` starts it, used the way agencies and people use it.

One `make run` for the module (fresh vhost, data directory, ports and tokens; JSON logs at
INFO). Agencies are plain kombu/py-amqp clients; clerks, mediators, leaders and analysts
use HTTP with their tokens; the operator reads parked messages with `gm dlq list`. What
is asserted is what they would count: answers per message, cases per referral, dead
letters, and error lines in the services' logs.
"""
from __future__ import annotations

import json
import re
import sqlite3
import uuid

import pytest
import requests

from gm_contracts.testing import VALID_RESIDENT_ID
from gm_platform.testing.system import (
    AGENCIES,
    TOKENS,
    KINDS,
    report,
    today_local,
    valid_referral,
    wait_until,
)

pytestmark = pytest.mark.timeout(600)

VILLAGE = "410611100201"
ID_NUMBER = "11010519491231002X"
#: Rejected messages this module sent, by envelope id: each must be parked exactly once.
REJECTED_IDS: set = set()


def invalid_messages(agency: str) -> list:
    """(what, send) pairs: messages an agency might get wrong, each to be answered
    `rejected` exactly once."""
    kind = KINDS[agency]
    return [
        ("missing fields", lambda c: c.send("referral", {"referral_id": "X-1"})),
        ("a kind another agency uses",
         lambda c: c.send("referral", valid_referral(agency, kind="not-a-kind"))),
        ("a region no directory serves",
         lambda c: c.send("referral", valid_referral(agency, region="110101"))),
        ("envelope names another agency", lambda c: _mismatched(c, agency)),
        ("a type it may not send", lambda c: c.send("bogus", {"x": 1})),
        ("malformed JSON", lambda c: _raw(c, b'{"id": ', f"{agency}.referral")),
        ("a bad resident id",
         lambda c: c.send("referral", valid_referral(agency, kind=kind, parties=[
             {"role": "applicant", "name": "王五", "id_number": "110105194912310021"}]))),
    ]


def _mismatched(client, agency: str) -> dict:
    other = next(a for a in AGENCIES if a != agency)
    env = {"id": str(uuid.uuid4()), "type": "referral", "version": 1,
           "sent_at": "2026-12-01T00:00:00Z", "agency": other,
           "data": valid_referral(other)}
    client.publish(f"{agency}.referral", json.dumps(env).encode(), message_id=env["id"])
    return env


def _raw(client, body: bytes, routing_key: str) -> dict:
    message_id = str(uuid.uuid4())
    client.publish(routing_key, body, message_id=message_id)
    return {"id": message_id}


def answered_ids(received, type_) -> list:
    key = "referral_id" if type_ == "referral_accepted" else "message_id"
    return [r.data.get(key) for r in received if r.type == type_]


def assert_no_errors_and_only_rejections_parked(suite) -> None:
    assert suite.error_lines() == [], "\n".join(suite.error_lines()[:5])
    letters = {s: suite.dead_letters(s) for s in ("intake", "assignment", "mediation",
                                                  "reporting")}
    assert [letter["reason"] for s in ("assignment", "mediation", "reporting")
            for letter in letters[s]] == []
    parked = [letter["properties"].get("message_id") for letter in letters["intake"]]
    assert sorted(parked) == sorted(REJECTED_IDS), "each rejected message parked once"
    assert all(letter["reason"].startswith("rejected") for letter in letters["intake"])


def test_every_referral_is_answered_exactly_once_and_has_exactly_one_case(deployed):
    suite, agencies = deployed
    per_agency = 12
    sent = {a: [] for a in AGENCIES}
    invalid = {a: {} for a in AGENCIES}
    for agency, client in agencies.items():
        for i in range(per_agency):
            sent[agency].append(client.send("referral", valid_referral(
                agency, region=VILLAGE if i % 2 else "410611100")))
        for what, send in invalid_messages(agency):
            invalid[agency][send(client)["id"]] = what
        REJECTED_IDS.update(invalid[agency])
    # an agency that did not get its answer sends the same message again: answered again
    court = agencies["court"]
    resent = court.send("referral", sent["court"][0]["data"], id=sent["court"][0]["id"])

    for agency, client in agencies.items():
        expected = per_agency + len(invalid[agency]) + (1 if agency == "court" else 0)
        client.collect(lambda inbox, n=expected: len(inbox) >= n, 60)
        client.settle(quiet=3.0)

    figures = {}
    for agency, client in agencies.items():
        accepted = answered_ids(client.inbox, "referral_accepted")
        rejected = answered_ids(client.inbox, "rejected")
        referral_ids = [m["data"]["referral_id"] for m in sent[agency]]
        extra = [sent["court"][0]["data"]["referral_id"]] if agency == "court" else []
        assert sorted(accepted) == sorted(referral_ids + extra), agency
        assert sorted(rejected) == sorted(invalid[agency]), agency
        assert {r.type for r in client.inbox} == {"referral_accepted", "rejected"}
        envelope_ids = [r.envelope["id"] for r in client.inbox]
        assert len(set(envelope_ids)) == len(envelope_ids), "every answer is a new message"
        for r in client.inbox:  # CONTRACT §1: JSON, persistent, message_id = envelope id
            assert r.properties["message_id"] == r.envelope["id"]
            assert r.properties["content_type"] == "application/json"
            assert r.properties["delivery_mode"] == 2
            assert r.envelope["agency"] == agency
        figures[agency] = {"sent": len(sent[agency]) + len(invalid[agency]) + len(extra),
                           "answers": len(client.inbox), "accepted": len(accepted),
                           "rejected": len(rejected)}
        for r in client.of_type("rejected"):
            assert r.data["errors"], r.data
    resend_answers = [r for r in court.of_type("referral_accepted")
                      if r.data["referral_id"] == resent["data"]["referral_id"]]
    assert len({(r.data["case_id"], r.data["case_number"]) for r in resend_answers}) == 1

    # reporting: exactly one case per referral, each the one its answer named
    for agency, client in agencies.items():
        answered = {r.data["referral_id"]: r.data["case_id"]
                    for r in client.of_type("referral_accepted")}
        ledger = wait_until(lambda a=agency: (lambda items: items if len(items) >= per_agency
                                              else None)(suite.ledger(source_agency=a)),
                            30, f"{agency}'s cases in reporting")
        assert sorted(i["case_id"] for i in ledger) == sorted(answered.values())
        view = suite.get_json("reporting", f"/cases/{ledger[0]['case_id']}", "analyst")
        assert answered[view["referral_id"]] == view["case_id"]
    assert_no_errors_and_only_rejections_parked(suite)
    report("clean run", per_agency=figures,
           dead_letters={s: len(suite.dead_letters(s)) for s in
                         ("intake", "assignment", "mediation", "reporting")},
           error_lines=len(suite.error_lines()))


# -- the whole stories, across the four processes ---------------------------------------------

def refer(suite, client, **overrides) -> dict:
    data = valid_referral(client.name, region=VILLAGE, **overrides)
    client.send("referral", data)
    [accepted] = [r for r in expect(client, "referral_accepted")
                  if r.data["referral_id"] == data["referral_id"]]
    case_id = accepted.data["case_id"]
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation", "mediator")
                        or {}).get("status") == "assigned", 30, "mediation has the case")
    return {**accepted.data, "referral": data}


def expect(client, type_: str, count: int = 1, timeout: float = 30.0) -> list:
    before = len(client.of_type(type_))
    client.collect(lambda inbox: len([r for r in inbox if r.type == type_]) >= before + count,
                   timeout)
    got = client.of_type(type_)[before:]
    assert len(got) == count, f"{client.name}: expected {count} {type_}, got {len(got)}"
    return got


def mediate(suite, case_id: str, step: str, body=None) -> dict:
    reply = suite.http("POST", "mediation", f"/cases/{case_id}/{step}", "mediator", body=body)
    assert reply.status_code == 200, (step, reply.status_code, reply.text)
    return reply.json()


def case_view(suite, case_id: str, until) -> dict:
    return wait_until(lambda: (lambda v: v if v and until(v) else None)(
        suite.get_json("reporting", f"/cases/{case_id}", "analyst")), 30, "the case view")


def timeline_types(view: dict) -> list:
    return [t["type"] for t in view["timeline"]]


def agree_and_request_confirmation(suite, court, case_id: str) -> str:
    mediate(suite, case_id, "sessions", {"held_on": today_local(), "notes": "双方到场"})
    mediate(suite, case_id, "agreement", {"terms": "李四于月底前疏通排水沟",
                                          "signed_on": today_local()})
    view = mediate(suite, case_id, "confirmation-request")
    [request] = expect(court, "handoff_requested")
    assert request.data["kind"] == "judicial_confirmation"
    assert request.data["handoff_id"] == view["awaiting"]["handoff_id"]
    assert request.data["agreement"]["terms"] == "李四于月底前疏通排水沟"
    court.send("handoff_reply", {"handoff_id": request.data["handoff_id"],
                                 "decision": "accepted", "agency_case_number": "(2026)豫0611民特1号"})
    return request.data["handoff_id"]


def test_story_judicial_confirmation_granted(deployed):
    suite, agencies = deployed
    court = agencies["court"]
    case = refer(suite, court, parties=[
        {"role": "applicant", "name": "张三", "id_number": ID_NUMBER, "phone": "13800001234"},
        {"role": "respondent", "name": "李四"}])
    case_id = case["case_id"]
    placed = suite.get_json("assignment", f"/cases/{case_id}/assignment", "leader")
    assert placed["track"] == "judicial" and placed["handler"] and placed["due_at"]
    handoff_id = agree_and_request_confirmation(suite, court, case_id)
    court.send("confirmation_ruling", {"handoff_id": handoff_id, "confirmed": True,
                                       "ruling_number": "(2026)豫0611民特1号"})
    [outcome] = expect(court, "case_outcome")
    assert (outcome.data["case_id"], outcome.data["outcome"],
            outcome.data["referral_id"]) == (case_id, "confirmed", case["referral"]["referral_id"])
    view = case_view(suite, case_id, lambda v: "AssignmentClosed" in timeline_types(v))
    assert (view["status"], view["outcome"]) == ("closed", "confirmed")
    types = timeline_types(view)
    for once in ("CaseRegistered", "AssignmentMade", "AgreementReached", "HandOffRequested",
                 "HandOffAccepted", "ConfirmationRuled", "CaseClosed", "AssignmentClosed"):
        assert types.count(once) == 1, (once, types)
    assert ID_NUMBER not in json.dumps(view)  # masked for analysts
    court.settle(quiet=2.0)
    assert court.of_type("rejected") == [] or all(
        r.data["message_id"] in REJECTED_IDS for r in court.of_type("rejected"))
    assert_no_errors_and_only_rejections_parked(suite)


def test_story_judicial_confirmation_refused_then_sent_to_litigation(deployed):
    suite, agencies = deployed
    court = agencies["court"]
    case_id = refer(suite, court)["case_id"]
    handoff_id = agree_and_request_confirmation(suite, court, case_id)
    court.send("confirmation_ruling", {"handoff_id": handoff_id, "confirmed": False,
                                       "reason": "协议内容违反法律强制性规定"})
    # the refusal reopens the case; mediation then fails and hands it to the court to try
    wait_until(lambda: suite.get_json("mediation", f"/cases/{case_id}/mediation",
                                      "mediator")["status"] == "in_mediation", 30,
               "the case reopened")
    mediate(suite, case_id, "failure", {"reason": "协议未获确认，双方不再调解",
                                        "next": "litigation"})
    [request] = expect(court, "handoff_requested")
    assert request.data["kind"] == "litigation" and request.data["case_id"] == case_id
    court.send("handoff_reply", {"handoff_id": request.data["handoff_id"],
                                 "decision": "accepted"})
    [outcome] = expect(court, "case_outcome")
    assert (outcome.data["case_id"], outcome.data["outcome"]) == (case_id, "handed_off")
    view = case_view(suite, case_id, lambda v: "AssignmentClosed" in timeline_types(v))
    assert (view["status"], view["outcome"]) == ("closed", "handed_off")
    assert [(h["kind"], h["status"]) for h in view["handoffs"]] == [
        ("judicial_confirmation", "not_confirmed"), ("litigation", "accepted")]
    assert timeline_types(view).count("MediationReopened") == 1
    assert_no_errors_and_only_rejections_parked(suite)


def test_story_failure_handed_to_the_police(deployed):
    suite, agencies = deployed
    police = agencies["police"]
    case = refer(suite, police, category="damages", summary="酒后口角互殴，轻微伤")
    case_id = case["case_id"]
    mediate(suite, case_id, "sessions", {"held_on": today_local(), "notes": "双方各执一词"})
    mediate(suite, case_id, "failure", {"reason": "涉嫌殴打他人，应予治安处罚",
                                        "next": "public_security"})
    [request] = expect(police, "handoff_requested")
    assert (request.data["kind"], request.data["case_id"]) == ("public_security", case_id)
    police.send("handoff_reply", {"handoff_id": request.data["handoff_id"],
                                  "decision": "accepted",
                                  "agency_case_number": "淇公(治)受字〔2026〕1号"})
    [outcome] = expect(police, "case_outcome")
    assert (outcome.data["case_id"], outcome.data["outcome"]) == (case_id, "handed_off")
    board = wait_until(lambda: [i for i in (suite.get_json(
        "reporting", "/handoffs", "analyst", agency="police") or {}).get("items", [])
        if i["case_id"] == case_id and i["status"] == "accepted"], 30, "the hand-off board")
    assert board[0]["agency_case_number"] == "淇公(治)受字〔2026〕1号"
    assert_no_errors_and_only_rejections_parked(suite)


def test_story_petition_bureau_referral_mediated_to_an_agreement(deployed):
    suite, agencies = deployed
    petition = agencies["petition"]
    case = refer(suite, petition, category="labour", summary="农民工讨要工资",
                 headcount=6)  # collective: a key case, with all four duties
    case_id = case["case_id"]
    placed = suite.get_json("assignment", f"/cases/{case_id}/assignment", "leader")
    assert placed["lead"], placed  # a key case has a lead leader (包案领导)
    mediate(suite, case_id, "sessions", {"held_on": today_local(), "notes": "约谈用工方"})
    for duty in ("investigation", "handling", "counselling", "cessation"):
        mediate(suite, case_id, f"duties/{duty}", {"note": "已落实"})
    mediate(suite, case_id, "agreement", {"terms": "用工方于十日内结清工资",
                                          "signed_on": today_local()})
    mediate(suite, case_id, "follow-up", {"satisfaction": 5, "petition_ceased": True})
    [outcome] = expect(petition, "case_outcome")
    assert (outcome.data["case_id"], outcome.data["outcome"]) == (case_id, "agreement")
    view = case_view(suite, case_id, lambda v: "AssignmentClosed" in timeline_types(v))
    assert (view["status"], view["outcome"], view["collective"], view["key_case"]) == (
        "closed", "agreement", True, True)
    assert timeline_types(view).count("DutyRecorded") == 4
    assert_no_errors_and_only_rejections_parked(suite)


def test_story_a_petition_matter_accepted_answered_and_reviewed_twice(deployed):
    """A letter about a land-use dispute: a petition matter (信访事项) on the administrative
    track, through 受理, the written answer, 复查 and 复核, as clerks and leaders do it."""
    suite, _ = deployed
    reply = suite.http("POST", "intake", "/cases", "clerk", body={
        "channel": "letter", "category": "land_forest", "summary": "宅基地旁林地权属争议",
        "region": "410611100", "parties": [{"role": "applicant", "name": "赵六"}]})
    assert reply.status_code == 201, reply.text
    case_id = reply.json()["case_id"]
    placed = wait_until(lambda: suite.get_json("assignment", f"/cases/{case_id}/assignment",
                                               "leader"), 30, "the assignment")
    assert (placed["track"], placed["petition_matter"]) == ("administrative", True)
    assert placed["rule_id"] == "petition-acceptance-notice"
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation",
                                       "mediator") or {}).get("status") == "assigned", 30,
               "mediation has the case")
    today = today_local()

    def act(step, body, role="leader"):
        answer = suite.http("POST", "mediation", f"/cases/{case_id}/petition/{step}", role,
                            body=body)
        assert answer.status_code == 200, (step, answer.status_code, answer.text)
        return answer.json()

    view = act("acceptance", {"decision": "accepted", "notified_on": today})
    assert view["petition"]["timely"] is True
    # acceptance starts the 60-day handling period in assignment
    wait_until(lambda: suite.get_json("assignment", f"/cases/{case_id}/assignment",
                                      "leader")["rule_id"] == "petition-handling", 30,
               "the handling period")
    act("answer", {"opinion": "not_support", "summary": "权属清楚，诉求缺乏依据",
                   "issued_on": today}, role="mediator")
    act("review", {"stage": "review", "requested_on": today})
    act("review-decision", {"stage": "review", "opinion": "upheld", "summary": "维持",
                            "issued_on": today})
    act("review", {"stage": "re_review", "requested_on": today})
    view = act("review-decision", {"stage": "re_review", "opinion": "upheld",
                                   "summary": "维持，复核终结", "issued_on": today})
    assert view["petition"]["final"] is True and view["outcome"] == "answered"
    again = suite.http("POST", "mediation", f"/cases/{case_id}/petition/review", "leader",
                       body={"stage": "re_review", "requested_on": today})
    assert again.status_code == 409
    view = case_view(suite, case_id, lambda v: v.get("status") == "closed"
                     and "ReviewDecided" in timeline_types(v))
    assert timeline_types(view).count("ReviewDecided") == 2
    assert_no_errors_and_only_rejections_parked(suite)


def test_story_the_petitioner_follows_the_case_with_the_query_code_and_rates_it(deployed):
    """CONTRACT §8: the code in `referral_accepted` opens the public status (no token);
    after closure the petitioner's rating is taken once and counted once for the unit."""
    suite, agencies = deployed
    petition = agencies["petition"]
    case = refer(suite, petition, category="neighbour", summary="邻里通道纠纷")
    code, case_id = case["query_code"], case["case_id"]
    QUERY_CODES.add(code)
    # waited for on the analysts' view: the status page is rate-limited (GM_STATUS_LIMIT)
    case_view(suite, case_id, lambda v: "AssignmentMade" in timeline_types(v))
    reply = requests.get(suite.url("reporting", f"/status/{code}"), timeout=15)
    assert reply.status_code == 200, reply.text
    status = reply.json()
    assert status["case_number"] == case["case_number"] and status["due_on"]
    assert [t["stage"] for t in status["timeline"]][:2] == ["registered", "assigned"]
    page = requests.get(suite.url("reporting", "/query"), timeout=15)
    assert page.status_code == 200 and "查询码" in page.text
    mediate(suite, case_id, "withdrawal", {"reason": "双方自行和解"})
    view = case_view(suite, case_id, lambda v: v.get("status") == "closed")
    unit, month = view["assignment"]["unit"], view["closed_at"][:7]

    def unit_figures() -> dict:
        figures = suite.get_json("reporting", "/stats/monthly", "analyst", month=month)
        return next((r for r in figures["satisfaction_by_unit"] if r["unit"] == unit), {})

    before = unit_figures()
    rating = f"/status/{code}/rating"
    first = requests.post(suite.url("reporting", rating), timeout=15,
                          json={"rating": "dissatisfied", "comment": "处理太慢"})
    assert (first.status_code, first.json()) == (201, {"rating": "dissatisfied"})
    again = requests.post(suite.url("reporting", rating), json={"rating": "satisfied"},
                          timeout=15)
    assert again.status_code == 409
    view = case_view(suite, case_id, lambda v: "PetitionerRated" in timeline_types(v))
    assert timeline_types(view).count("PetitionerRated") == 1
    after = unit_figures()
    assert (after["rated"] - before.get("rated", 0),
            after["dissatisfied"] - before.get("dissatisfied", 0)) == (1, 1)
    assert after["rating_rate"] is not None and after["satisfaction_rate"] is not None
    assert_no_errors_and_only_rejections_parked(suite)


QUERY_CODES: set = set()  # the petitioners' codes given above: credentials, never logged

# Near the end of the module: the logs of every run above, stories and bad input included.
RESIDENT_ID = re.compile(r"(?<!\d)[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{5}[\dXx](?!\d)")
# Not inside a longer token: a UUID or hex trace id holds runs like 'a146-5505-4452'.
MOBILE = re.compile(r"(?<![0-9A-Za-z-])1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z-])")


def test_the_logs_hold_no_id_numbers_phones_tokens_or_tracebacks(deployed):
    suite, _ = deployed
    text = suite.log_text()
    assert len(text.splitlines()) > 100  # the module's runs did log
    assert RESIDENT_ID.findall(text) == []
    assert ID_NUMBER not in text and VALID_RESIDENT_ID not in text
    assert MOBILE.findall(text) == []
    assert [t["token"] for t in TOKENS["tokens"] if t["token"] in text] == []
    assert QUERY_CODES and [c for c in QUERY_CODES if c in text] == []
    assert "Traceback" not in text


def test_the_record_verifies_until_a_row_is_edited_in_the_file(deployed):
    """`gm audit verify` walks every service's hash chain: OK after everything this module
    did; after one event row is edited directly in intake's SQLite file, exit 1 naming
    that commit, and the case view with ?verify=true says which of the case's commits
    fails. (Last in the module: it leaves intake's chain broken.)"""
    suite, agencies = deployed
    court = agencies["court"]
    case_id = refer(suite, court)["case_id"]
    handoff_id = agree_and_request_confirmation(suite, court, case_id)
    view = case_view(suite, case_id, lambda v: v["handoffs"])
    clean = suite.gm("audit", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "BROKEN" not in clean.stdout
    for service in ("intake", "assignment", "mediation", "reporting"):
        assert f"{service}: head at position" in clean.stdout
    chains = json.loads(suite.gm("audit", "verify", "--json").stdout)
    assert all(chains[s]["ok"] and chains[s]["commits"] > 0
               for s in ("intake", "assignment", "mediation")), chains
    audit = suite.get_json("reporting", f"/cases/{case_id}", "analyst", verify="true")["audit"]
    assert audit["ok"] is True, audit
    streams = {st["stream_id"]: st for s in audit["services"] for st in s["streams"]}
    assert {f"case-{case_id}", f"assignment-{case_id}", f"mediation-{case_id}",
            f"handoff-{handoff_id}"} <= set(streams)
    assert all(st["commits"] for st in streams.values())
    assert "audit" not in view  # only when asked

    refer(suite, court)  # intake's head is another case's now: its link vouches for ours
    intake_db = sqlite3.connect(suite.data_dir / "intake.db", timeout=30)
    try:
        with intake_db:
            [(position,)] = intake_db.execute(
                "SELECT position FROM events WHERE stream_id = ? AND type = 'CaseRegistered'",
                (f"case-{case_id}",)).fetchall()
            intake_db.execute("UPDATE events SET data = json_set(data, '$.summary', '另一事由') "
                              "WHERE position = ?", (position,))
    finally:
        intake_db.close()

    broken = suite.gm("audit", "verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"intake: first broken link: commit at position {position} (stream " \
           f"case-{case_id}): events altered" in broken.stdout, broken.stdout
    assert "assignment: head at position" in broken.stdout
    one = json.loads(suite.gm("audit", "verify", "--service", "intake", "--json").stdout)
    assert one["intake"]["broken"]["position"] == position
    audit = suite.get_json("reporting", f"/cases/{case_id}", "analyst", verify="true")["audit"]
    assert audit["ok"] is False
    [intake] = [s for s in audit["services"] if s["service"] == "intake"]
    [commit] = intake["streams"][0]["commits"]
    assert (commit["ok"], commit["first_position"], commit["broken"]["problem"]) == (
        False, position, "events altered")
    assert all(s["ok"] for s in audit["services"] if s["service"] != "intake")
