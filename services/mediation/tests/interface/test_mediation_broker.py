"""Mediation end to end, against the real RabbitMQ: intake registers, assignment assigns,
mediation opens on both and works the case; agencies are plain kombu clients.

The three services run once for the module (in a private vhost, with their own stores);
every test refers its own cases, so the tests do not depend on one another.
"""
from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from gm_platform.clock import FakeClock
from gm_platform.store_provider import find_store
from gm_platform.testing.agency import Agency
from gm_platform.testing.broker import private_vhost
from gm_platform.testing.services import TEST_TOKENS, service_settings, services, start_service
from gm_platform.testing.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

# 10:00 in Beijing on 10 March 2026; every container reads this clock.
START = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
MEDIATOR = {"Authorization": "Bearer t-mediator"}
ELSEWHERE = {"Authorization": "Bearer t-mediator-xx"}  # a mediator of 浚县 (410621) only
TOKENS = {"tokens": [*TEST_TOKENS["tokens"],
                     {"token": "t-mediator-xx", "subject": "mediator-xx",
                      "roles": ["mediator"], "regions": ["410621"]}]}
DUTIES = ("investigation", "handling", "counselling", "cessation")


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mediation-e2e")
    tokens = tmp / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    with private_vhost() as amqp_uri:
        with services(["intake", "assignment", "mediation"], amqp_uri, tmp / "data",
                      tokens_file=str(tokens), extra_config={"GM_CLOCK": FakeClock(START)},
                      catchup_interval=2.0) as running:
            agencies = {name: Agency(amqp_uri, name) for name in ("court", "police")}
            try:
                yield Suite(running, agencies, amqp_uri)
            finally:
                for agency in agencies.values():
                    agency.close()


class Suite:
    def __init__(self, running, agencies, amqp_uri):
        self.running, self.agencies, self.amqp_uri = running, agencies, amqp_uri
        self.url = running["mediation"].url

    def refer(self, agency: str, kind: str, **data) -> str:
        """An agency refers a case; returns its id once mediation has it assigned."""
        body = {"referral_id": f"R-{uuid.uuid4().hex[:12]}", "kind": kind,
                "category": "neighbour", "summary": "邻里之间因排水沟发生纠纷",
                "region": "410611100",
                "parties": [{"role": "applicant", "name": "张三"},
                            {"role": "respondent", "name": "李四"}]}
        body.update(data)
        self.agencies[agency].send("referral", body)
        [(key, answer)] = self.agencies[agency].receive(1)
        assert key == f"{agency}.referral_accepted", answer
        case_id = answer["data"]["case_id"]
        wait_for(lambda: self.case(case_id).get("status") == "assigned")
        return case_id

    def case(self, case_id: str) -> dict:
        resp = requests.get(f"{self.url}/cases/{case_id}/mediation", headers=MEDIATOR, timeout=10)
        return resp.json() if resp.status_code == 200 else {}

    def post(self, case_id: str, path: str, body=None, headers=MEDIATOR) -> requests.Response:
        return requests.post(f"{self.url}/cases/{case_id}/{path}", json=body, headers=headers,
                             timeout=10)

    def ok(self, case_id: str, path: str, body=None) -> dict:
        resp = self.post(case_id, path, body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def receive(self, agency: str, routing_key: str) -> dict:
        [(key, message)] = self.agencies[agency].receive(1)
        assert key == routing_key, message
        return message["data"]

    def events(self, case_id: str):
        store = find_store(self.running["mediation"].container)
        return [e.type for e in store.read_stream(f"mediation-{case_id}")]


wait_for = functools.partial(wait_until, timeout=20.0)


def mediate_to_agreement(suite: Suite, case_id: str) -> None:
    suite.ok(case_id, "sessions", {"held_on": "2026-03-10", "notes": "双方到场，陈述意见"})
    for duty in DUTIES:
        suite.ok(case_id, f"duties/{duty}", {"note": f"{duty} 已落实"})
    view = suite.ok(case_id, "agreement", {"terms": "李四于四月底前修复排水沟",
                                           "signed_on": "2026-03-10"})
    assert view["status"] == "agreement"


def test_court_delegated_referral_ends_confirmed_and_the_court_is_told(suite):
    # six people: a collective, hence key case, which needs all four duties to resolve
    case_id = suite.refer("court", "delegated", headcount=6)
    assert suite.case(case_id)["key_case"] is True
    suite.ok(case_id, "sessions", {"held_on": "2026-03-10", "notes": "双方到场"})
    suite.ok(case_id, "agreement", {"terms": "李四于四月底前修复排水沟",
                                    "signed_on": "2026-03-10"})
    refused = suite.post(case_id, "confirmation-request")
    assert refused.status_code == 409 and "four duties" in refused.json()["error"]
    for duty in DUTIES:
        suite.ok(case_id, f"duties/{duty}", {"note": f"{duty} 已落实"})
    view = suite.ok(case_id, "confirmation-request")
    handoff_id = view["awaiting"]["handoff_id"]

    request = suite.receive("court", "court.handoff_requested")
    assert request["handoff_id"] == handoff_id and request["kind"] == "judicial_confirmation"
    assert request["case_id"] == case_id and request["agreement"]["signed_on"] == "2026-03-10"
    court = suite.agencies["court"]
    court.send("handoff_reply", {"handoff_id": handoff_id, "decision": "accepted",
                                 "agency_case_number": "(2026)豫0611民特1号"})
    court.send("confirmation_ruling", {"handoff_id": handoff_id, "confirmed": True,
                                       "ruling_number": "(2026)豫0611民特1号"})
    outcome = suite.receive("court", "court.case_outcome")
    assert outcome["case_id"] == case_id and outcome["outcome"] == "confirmed"
    view = suite.case(case_id)
    assert view["status"] == "closed" and view["resolved"] is True
    # assignment closes its side when it sees mediation's CaseClosed
    assignment = suite.running["assignment"].url + f"/cases/{case_id}/assignment"
    wait_for(lambda: requests.get(assignment, headers={"Authorization": "Bearer t-leader"},
                                  timeout=10).json().get("closed") is True)


def test_police_referral_fails_back_to_the_police(suite):
    case_id = suite.refer("police", "minor_dispute")
    suite.ok(case_id, "sessions", {"held_on": "2026-03-10", "notes": "双方各执一词"})
    view = suite.ok(case_id, "failure", {"reason": "涉嫌殴打他人", "next": "public_security"})
    assert view["status"] == "handed_off"
    request = suite.receive("police", "police.handoff_requested")
    assert request["kind"] == "public_security" and request["case_id"] == case_id
    assert request["agreement"] is None and [p["name"] for p in request["parties"]] == ["张三", "李四"]
    suite.agencies["police"].send("handoff_reply", {"handoff_id": request["handoff_id"],
                                                    "decision": "accepted"})
    outcome = suite.receive("police", "police.case_outcome")
    assert outcome["outcome"] == "handed_off" and outcome["case_id"] == case_id


def test_refused_confirmation_reopens_mediation(suite):
    case_id = suite.refer("court", "delegated")
    mediate_to_agreement(suite, case_id)
    handoff_id = suite.ok(case_id, "confirmation-request")["awaiting"]["handoff_id"]
    suite.receive("court", "court.handoff_requested")
    court = suite.agencies["court"]
    court.send("handoff_reply", {"handoff_id": handoff_id, "decision": "accepted"})
    court.send("confirmation_ruling", {"handoff_id": handoff_id, "confirmed": False,
                                       "reason": "协议内容不明确"})
    wait_for(lambda: suite.case(case_id)["status"] == "in_mediation")
    assert suite.events(case_id)[-1] == "MediationReopened"
    # amend the agreement and ask again: a second hand-off to the court
    suite.ok(case_id, "agreement", {"terms": "李四于四月底前修复排水沟并赔偿500元",
                                    "signed_on": "2026-03-10"})
    second = suite.ok(case_id, "confirmation-request")["awaiting"]["handoff_id"]
    assert suite.receive("court", "court.handoff_requested")["handoff_id"] == second != handoff_id


def test_a_second_ruling_is_rejected_with_field_errors(suite):
    case_id = suite.refer("court", "delegated")
    mediate_to_agreement(suite, case_id)
    handoff_id = suite.ok(case_id, "confirmation-request")["awaiting"]["handoff_id"]
    suite.receive("court", "court.handoff_requested")
    court = suite.agencies["court"]
    early = court.send("confirmation_ruling", {"handoff_id": handoff_id, "confirmed": True})
    answer = suite.receive("court", "court.rejected")
    assert answer["message_id"] == early["id"] and "handoff_id" in answer["errors"]
    assert suite.case(case_id)["status"] == "handed_off"  # the court still holds it


def test_the_same_command_sent_twice_at_once_has_one_effect(suite):
    case_id = suite.refer("court", "delegated")
    results = []

    def send(path, body, headers):
        results.append(suite.post(case_id, path, body, headers))

    def at_once(path, body, headers=MEDIATOR):
        results.clear()
        threads = [threading.Thread(target=send, args=(path, body, headers)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        return sorted(r.status_code for r in results)

    keyed = {**MEDIATOR, "Idempotency-Key": "session-1"}
    assert at_once("sessions", {"held_on": "2026-03-10", "notes": "调解"}, keyed) == [200, 200]
    assert results[0].json() == results[1].json()
    assert suite.events(case_id).count("SessionHeld") == 1
    reused = suite.post(case_id, "sessions", {"held_on": "2026-03-10", "notes": "另一次"},
                        headers=keyed)
    assert reused.status_code == 422 and "Idempotency-Key" in reused.json()["error"]
    assert suite.events(case_id).count("SessionHeld") == 1
    # without a key the case itself refuses the second agreement
    assert at_once("agreement", {"terms": "和解", "signed_on": "2026-03-10"}) == [200, 409]
    assert suite.events(case_id).count("AgreementReached") == 1


def test_http_answers_follow_the_contract(suite):
    case_id = suite.refer("court", "delegated")
    before = suite.case(case_id)["version"]
    session = {"held_on": "2026-03-10", "notes": "x"}
    assert suite.post(case_id, "sessions", session, headers={}).status_code == 401
    assert suite.post(case_id, "sessions", session,
                      headers={"Authorization": "Bearer t-clerk"}).status_code == 403
    assert suite.post(case_id, "sessions", session, headers=ELSEWHERE).status_code == 403
    assert suite.post(str(uuid.uuid4()), "sessions", session).status_code == 404
    bad = suite.post(case_id, "duties/prayer", {"note": "x"})
    assert bad.status_code == 400 and "duty" in bad.json()["errors"]
    bad = suite.post(case_id, "follow-up", {"satisfaction": 7, "petition_ceased": "yes"})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"satisfaction", "petition_ceased"}
    future = suite.post(case_id, "sessions", {"held_on": "2026-03-11", "notes": "x"})
    assert future.status_code == 400 and "held_on" in future.json()["errors"]
    illegal = suite.post(case_id, "follow-up", {"satisfaction": 5, "petition_ceased": True})
    assert illegal.status_code == 409 and "follow-up" in illegal.json()["error"]
    assert suite.case(case_id)["version"] == before  # nothing changed


def test_follow_up_takes_a_satisfaction_level_or_a_score(suite):
    """CONTRACT §8: satisfied | basically_satisfied | dissatisfied, or 1–5."""
    store = find_store(suite.running["mediation"].container)
    for given, score, level in (("satisfied", None, "satisfied"),
                                ("basically_satisfied", None, "basically_satisfied"),
                                ("dissatisfied", None, "dissatisfied"),
                                (3, 3, "basically_satisfied")):
        case_id = suite.refer("police", "minor_dispute")
        suite.ok(case_id, "withdrawal", {"reason": "申请人撤回"})
        suite.receive("police", "police.case_outcome")
        bad = suite.post(case_id, "follow-up", {"satisfaction": "good", "petition_ceased": True})
        assert bad.status_code == 400 and set(bad.json()["errors"]) == {"satisfaction"}
        view = suite.ok(case_id, "follow-up", {"satisfaction": given, "petition_ceased": True})
        assert view["follow_up"]["satisfaction_level"] == level
        [event] = [e for e in store.read_stream(f"mediation-{case_id}")
                   if e.type == "FollowUpRecorded"]
        assert (event.data["satisfaction"], event.data["satisfaction_level"]) == (score, level)


def test_commands_over_rpc(suite):
    from nameko.standalone.rpc import ClusterRpcProxy

    case_id = suite.refer("court", "delegated")
    with ClusterRpcProxy({"AMQP_URI": suite.amqp_uri}, timeout=10) as rpc:
        view = rpc.mediation.record_duty(case_id, "investigation", "走访双方", "cli:ops-1")
        assert view["duties"]["investigation"] == "走访双方"
        view = rpc.mediation.withdraw(case_id, "申请人撤回", "cli:ops-1")
        assert view["outcome"] == "withdrawn"
    assert suite.receive("court", "court.case_outcome")["outcome"] == "withdrawn"


def test_started_late_mediation_catches_up_and_marks_overdue_handoffs(tmp_path, amqp_uri):
    """Mediation down while a case is registered and assigned: at start it reads both
    logs; later its watch marks the police's hand-off overdue once the 15 days pass."""
    clock = FakeClock(START)
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    police = Agency(amqp_uri, "police")
    try:
        with services(["intake", "assignment"], amqp_uri, tmp_path / "data",
                      tokens_file=str(tokens), extra_config={"GM_CLOCK": clock}) as running:
            police.send("referral", {"referral_id": "P-1", "kind": "minor_dispute",
                                     "category": "neighbour", "summary": "噪音纠纷",
                                     "region": "410611100",
                                     "parties": [{"role": "applicant", "name": "张三"}]})
            [(_, accepted)] = police.receive(1)
            case_id = accepted["data"]["case_id"]
            settings = service_settings("mediation", amqp_uri, tmp_path / "data",
                                        tokens_file=str(tokens), watch_interval=0.2)
            mediation = start_service("mediation", settings, extra_config={"GM_CLOCK": clock})
            try:
                suite = Suite({**running, "mediation": mediation}, {"police": police},
                              amqp_uri)
                wait_for(lambda: suite.case(case_id).get("status") == "assigned")
                suite.ok(case_id, "failure", {"reason": "调解不成", "next": "public_security"})
                handoff_id = suite.receive("police", "police.handoff_requested")["handoff_id"]
                store = find_store(mediation.container)
                clock.advance(days=16)
                wait_for(lambda: [e.type for e in store.read_stream(f"handoff-{handoff_id}")]
                         == ["HandOffRequested", "HandOffOverdue"])
                time.sleep(0.5)  # more watch runs: still marked once
                assert len(store.read_stream(f"handoff-{handoff_id}")) == 2
                assert suite.case(case_id)["handoffs"][0]["overdue"] is True
            finally:
                mediation.stop()
    finally:
        police.close()
