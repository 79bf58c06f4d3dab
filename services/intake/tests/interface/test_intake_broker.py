"""Intake against the real RabbitMQ, with agencies played by plain kombu clients."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from gm_platform.testing.agency import Agency
from gm_platform.testing.services import services, service_settings, start_service, write_tokens

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[4]
VALID_ID = "11010519491231002X"


def referral(**overrides) -> dict:
    data = {
        "referral_id": f"R-{uuid.uuid4().hex[:12]}",
        "kind": "entrusted",
        "category": "neighbour",
        "summary": "邻里之间因排水沟发生纠纷",
        "region": "410611100",
        "parties": [{"role": "applicant", "name": "张三", "id_number": VALID_ID},
                    {"role": "respondent", "name": "李四"}],
    }
    data.update(overrides)
    return data


@pytest.fixture
def env(tmp_path, amqp_uri):
    tokens = write_tokens(tmp_path / "tokens.json")
    with services(["intake"], amqp_uri, tmp_path / "data", tokens_file=tokens,
                  directory_file=str(REPO / "deploy/directory.yaml")) as running:
        court = Agency(amqp_uri, "court")
        police = Agency(amqp_uri, "police")
        yield running["intake"], court, police
        court.close()
        police.close()


def store_of(svc):
    from gm_platform.store_provider import find_store

    return find_store(svc.container)


def test_valid_referral_is_accepted_with_a_case_number(env):
    intake, court, _ = env
    sent = court.send("referral", referral())
    [(key, answer)] = court.receive(1)
    assert key == "court.referral_accepted"
    assert answer["agency"] == "court" and answer["type"] == "referral_accepted"
    assert answer["data"]["referral_id"] == sent["data"]["referral_id"]
    assert answer["data"]["case_number"].startswith("410611-")
    [event] = store_of(intake).read_log()
    assert event.type == "CaseRegistered" and event.causation_id == sent["id"]
    assert event.data["source_agency"] == "court" and event.data["procedure"] == "ordinary"


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(category="gossip"), "category"),
    (lambda d: d.update(kind="minor_dispute"), "kind"),
    (lambda d: d.update(region="41061"), "region"),
    (lambda d: d.update(region="510104"), "region"),  # a county this deployment does not serve
    (lambda d: d["parties"][0].update(id_number="110105194912310021"), "parties.0.id_number"),
    (lambda d: d.update(parties=[{"role": "respondent", "name": "李四"}]), "parties"),
    (lambda d: d.update(headcount="5"), "headcount"),
    (lambda d: d.update(summary="x" * 4001), "summary"),
    (lambda d: d.pop("referral_id"), "referral_id"),
])
def test_invalid_referral_is_rejected_naming_the_field(env, mutate, field):
    intake, court, _ = env
    data = referral()
    mutate(data)
    sent = court.send("referral", data)
    [(key, answer)] = court.receive(1)
    assert key == "court.rejected"
    assert answer["data"]["message_id"] == sent["id"]
    assert any(f == field or f.endswith("." + field) for f in answer["data"]["errors"]), \
        answer["data"]["errors"]
    assert store_of(intake).read_log() == []
    assert store_of(intake).count_dead_letters() == 1  # every rejected message is kept


def test_malformed_json_is_answered_with_the_amqp_message_id(env):
    intake, court, _ = env
    court.publish_raw("court.referral", b"{not json", message_id="m-123")
    [(key, answer)] = court.receive(1)
    assert key == "court.rejected"
    assert answer["data"]["message_id"] == "m-123" and answer["data"]["type"] == "referral"
    assert answer["data"]["errors"]


def test_agency_mismatch_and_unknown_type_are_rejected(env):
    _, court, police = env
    police.send("referral", referral(kind="minor_dispute"), routing_key="police.referral",
                agency="court")
    court.send("gossip", {"x": 1})
    [(pkey, panswer)] = police.receive(1)
    [(ckey, canswer)] = court.receive(1)
    assert pkey == "police.rejected" and ckey == "court.rejected"
    assert any("agency" in f for f in panswer["data"]["errors"])
    assert any("type" in f for f in canswer["data"]["errors"])


def test_routing_key_naming_no_agency_is_dead_lettered_not_dropped(env):
    intake, court, _ = env
    court.publish_raw("nobody.referral", json.dumps({"id": "x"}).encode(), message_id="m-9")
    assert court.quiet(1.5) == []
    store = store_of(intake)
    for _ in range(50):
        if store.count_dead_letters():
            break
        import time
        time.sleep(0.1)
    [letter] = store.dead_letters()
    assert letter.routing_key == "nobody.referral" and letter.body == b'{"id": "x"}'
    assert "unanswerable" in letter.reason


def test_duplicates_get_the_original_answer_and_create_nothing(env):
    intake, court, _ = env
    first = court.send("referral", referral())
    [(_, original)] = court.receive(1)
    court.send("referral", first["data"], id=first["id"])  # same message id again
    court.send("referral", first["data"])  # same referral id, new message id
    answers = court.receive(2)
    assert [a["data"] for _, a in answers] == [original["data"]] * 2
    assert len({a["id"] for _, a in answers} | {original["id"]}) == 3  # each message new
    assert len(store_of(intake).read_log()) == 1


def test_duplicate_after_restart_gets_the_same_answer(tmp_path, amqp_uri):
    directory = str(REPO / "deploy/directory.yaml")
    settings = service_settings("intake", amqp_uri, tmp_path / "data", directory_file=directory)
    court = Agency(amqp_uri, "court")
    try:
        svc = start_service("intake", settings)
        sent = court.send("referral", referral())
        [(_, original)] = court.receive(1)
        svc.stop()
        svc = start_service("intake", settings)
        court.send("referral", sent["data"], id=sent["id"])
        [(_, again)] = court.receive(1)
        assert again["data"] == original["data"]
        assert len(store_of(svc).read_log()) == 1
        svc.stop()
    finally:
        court.close()


def test_burst_of_1000_with_10_percent_invalid(env):
    intake, court, _ = env
    for i in range(1000):
        data = referral()
        if i % 10 == 0:
            data["category"] = "invalid"
        court.send("referral", data)
    answers = court.receive(1000, timeout=90)
    kinds = [key for key, _ in answers]
    assert len(answers) == 1000
    assert kinds.count("court.referral_accepted") == 900
    assert kinds.count("court.rejected") == 100
    store = store_of(intake)
    assert store.last_position() == 900
    numbers = {a["data"]["case_number"] for k, a in answers if k.endswith("accepted")}
    assert len(numbers) == 900


def test_two_instances_on_one_queue_create_each_case_once(tmp_path, amqp_uri):
    directory = str(REPO / "deploy/directory.yaml")
    data_dir = tmp_path / "data"
    court = Agency(amqp_uri, "court")
    a = start_service("intake", service_settings("intake", amqp_uri, data_dir,
                                              directory_file=directory))
    b = start_service("intake", service_settings("intake", amqp_uri, data_dir,
                                              directory_file=directory))
    try:
        sent = [court.send("referral", referral()) for _ in range(100)]
        for env in sent[:50]:  # every other message re-sent: both instances may see both
            court.send("referral", env["data"], id=env["id"])
        # Each instance runs an outbox relay over the same store, so an answer may be
        # published twice; it keeps its envelope id, which is how agencies drop it.
        answers, seen = {}, set()
        for _ in range(60):
            for _, answer in court.receive(500, timeout=1):
                answers.setdefault(answer["id"], answer)
            seen = {a["data"]["referral_id"] for a in answers.values()}
            if len(seen) == 100 and len(answers) >= 150:
                break
        by_referral = {}
        for answer in answers.values():
            by_referral.setdefault(answer["data"]["referral_id"], set()).add(
                answer["data"]["case_id"])
        assert len(by_referral) == 100
        assert all(len(ids) == 1 for ids in by_referral.values())
        assert store_of(a).last_position() == 100
    finally:
        a.stop()
        b.stop()
        court.close()


def test_http_registration_auth_and_validation(env):
    intake, _, _ = env
    url = intake.url + "/cases"
    body = {"channel": "visit", "category": "labour", "summary": "拖欠工资",
            "region": "410611100", "parties": [{"role": "applicant", "name": "王五",
                                                 "id_number": VALID_ID}], "headcount": 6}
    clerk = {"Authorization": "Bearer t-clerk"}
    assert requests.post(url, json=body).status_code == 401
    assert requests.post(url, json=body, headers={"Authorization": "Bearer nope"}
                         ).status_code == 401
    assert requests.post(url, json=body, headers={"Authorization": "Bearer t-analyst"}
                         ).status_code == 403
    scoped = {"Authorization": "Bearer t-clerk-qb"}
    assert requests.post(url, json=dict(body, region="410621101"), headers=scoped
                         ).status_code == 403
    bad = requests.post(url, json=dict(body, channel="fax", headcount=0), headers=clerk)
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"channel", "headcount"}
    no_leader = requests.post(url, json=dict(body, channel="leader_reception"), headers=clerk)
    assert no_leader.status_code == 400 and "leader" in no_leader.json()["errors"]
    first = requests.post(url, json=body, headers=scoped)
    assert first.status_code == 201, first.text
    second = requests.post(url, json=body, headers=clerk)
    assert second.status_code == 201
    events = store_of(intake).read_log()
    assert [e.data["collective"] for e in events] == [True, True]
    assert [e.data["repeat"] for e in events] == [False, True]
    assert events[1].data["repeat_of"][0]["case_id"] == first.json()["case_id"]
    assert all(e.data["key_case"] for e in events)
    assert events[0].actor == "clerk-qb"


def test_a_key_reused_for_another_body_is_422_and_a_large_body_413_unread(env):
    intake, _, _ = env
    url = intake.url + "/cases"
    body = {"channel": "visit", "category": "labour", "summary": "拖欠工资",
            "region": "410611100", "parties": [{"role": "applicant", "name": "王五"}]}
    keyed = {"Authorization": "Bearer t-clerk", "Idempotency-Key": "visit-0001"}
    first = requests.post(url, json=body, headers=keyed)
    again = requests.post(url, json=body, headers=keyed)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    other = requests.post(url, json=dict(body, summary="拖欠工程款"), headers=keyed)
    assert other.status_code == 422, other.text
    assert "Idempotency-Key" in other.json()["error"]
    assert len(store_of(intake).read_log()) == 1

    limit = 256 * 1024
    big = dict(body, summary="纠" * limit)  # ~768 KiB of UTF-8, declared by Content-Length
    refused = requests.post(url, json=big, headers={"Authorization": "Bearer t-clerk"})
    assert refused.status_code == 413 and str(limit) in refused.json()["error"]
    # refused from the header alone, before the token is even looked at
    assert requests.post(url, json=big).status_code == 413

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(40):
            yield b" " * 16384
    chunked = requests.post(url, data=chunks(), headers={
        "Authorization": "Bearer t-clerk", "Content-Type": "application/json"})
    assert chunked.status_code == 413, chunked.text
    # a body just under the limit is read and judged on its content
    fits = requests.post(url, json=dict(body, summary="x" * (limit - 400)),
                         headers={"Authorization": "Bearer t-clerk"})
    assert fits.status_code in (201, 400), fits.text
    assert len(store_of(intake).read_log()) <= 2


def test_health_and_metrics_need_no_token(env):
    intake, _, _ = env
    health = requests.get(intake.url + "/health")
    assert health.status_code == 200
    assert health.json()["checks"] == {"store": "ok", "broker": "ok", "consumers": "ok"}
    metrics = requests.get(intake.url + "/metrics")
    assert metrics.status_code == 200 and "gm_outbox_backlog" in metrics.text


def test_screening_report_registers_each_finding_once(env):
    intake, _, _ = env
    clerk = {"Authorization": "Bearer t-clerk"}
    finding = {"category": "land_forest", "summary": "山林界址争议",
               "parties": [{"role": "applicant", "name": "赵六"}]}
    body = {"unit": "410611100", "period": "2026-11", "findings": [finding, finding]}
    bad = requests.post(intake.url + "/screening-reports", headers=clerk,
                        json=dict(body, period="2026-11-H1"))
    assert bad.status_code == 400 and "period" in bad.json()["errors"]
    first = requests.post(intake.url + "/screening-reports", headers=clerk, json=body)
    assert first.status_code == 201, first.text
    again = requests.post(intake.url + "/screening-reports", headers=clerk, json=body)
    assert again.status_code == 200 and again.json() == first.json()
    other = requests.post(intake.url + "/screening-reports", headers=clerk,
                          json=dict(body, findings=[]))
    assert other.status_code == 409
    cases = [e for e in store_of(intake).read_log() if e.type == "CaseRegistered"]
    assert len(cases) == 2 and {c.data["channel"] for c in cases} == {"screening"}


def test_high_risk_assessment_opens_a_preventive_key_case(env):
    intake, _, _ = env
    leader = {"Authorization": "Bearer t-leader"}
    body = {"project": "淇河生态廊道征地", "region": "410611", "level": "high",
            "summary": "征地补偿标准争议", "category": "land_acquisition"}
    assert requests.post(intake.url + "/risk-assessments", headers=leader,
                         json=dict(body, level="extreme")).status_code == 400
    high = requests.post(intake.url + "/risk-assessments", headers=leader, json=body)
    assert high.status_code == 201 and high.json()["case"]["case_number"]
    low = requests.post(intake.url + "/risk-assessments", headers=leader,
                        json=dict(body, level="low"))
    assert low.status_code == 201 and low.json()["case"] is None
    [case] = [e for e in store_of(intake).read_log() if e.type == "CaseRegistered"]
    assert case.data["key_case"] and case.data["key_reasons"] == ["high_risk"]
