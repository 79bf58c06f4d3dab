"""SIGKILL in the middle of a few hundred referrals, against the suite as `make run` starts
it: of the whole suite (a power cut), and of each service in turn (the supervisor starts
it again). Afterwards every referral has exactly one case and its answer, every case was
assigned once, nothing is parked, and an answer sent twice is the same message (the same
envelope id), so an agency can drop the copy.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest

from gm_platform.testing.broker import private_vhost
from gm_platform.testing.system import (
    AGENCIES,
    SERVICES,
    AgencyClient,
    Suite,
    report,
    valid_referral,
    wait_until,
)

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def fresh(tmp_path):
    """A suite of its own (the test kills it), not started yet, and its agencies."""
    with private_vhost("gm-system") as amqp_uri:
        suite = Suite(tmp_path, amqp_uri)
        agencies = {}
        try:
            yield suite, amqp_uri, agencies
        finally:
            for client in agencies.values():
                client.close()
            suite.kill()


def send_referrals(amqp_uri: str, total: int, rate: float, on_sent=None) -> dict:
    """Publish `total` valid referrals round-robin over the agencies at `rate` per second,
    each agency on its own connection; `on_sent(n)` after each. Returns referral ids by
    agency."""
    clients = {a: AgencyClient(amqp_uri, a) for a in AGENCIES}
    sent = defaultdict(list)
    try:
        started = time.monotonic()
        for n in range(total):
            agency = AGENCIES[n % len(AGENCIES)]
            data = valid_referral(agency, region="410611100" if n % 2 else "410611100201")
            clients[agency].send("referral", data)
            sent[agency].append(data["referral_id"])
            if on_sent:
                on_sent(n + 1)
            pause = started + (n + 1) / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    finally:
        for client in clients.values():
            client.close()
    return dict(sent)


def check_every_referral(suite: Suite, inboxes: dict, sent: dict, name: str, **figures) -> None:
    """Exactly one case per referral, its answer (copies only of the same message), each
    case assigned once, nothing parked; then report the figures."""
    total = sum(len(ids) for ids in sent.values())
    for agency, client in inboxes.items():
        client.collect(lambda inbox, n=len(sent[agency]): len(
            {r.data.get("referral_id") for r in inbox}) >= n, 180)
        client.settle(quiet=5.0)
    answers = duplicates = 0
    case_ids = {}
    for agency, client in inboxes.items():
        assert client.of_type("rejected") == [], client.of_type("rejected")[:3]
        by_referral = defaultdict(list)
        for r in client.of_type("referral_accepted"):
            by_referral[r.data["referral_id"]].append(r)
        assert sorted(by_referral) == sorted(sent[agency]), f"{agency}: unanswered referrals"
        for referral_id, got in by_referral.items():
            assert len({(r.data["case_id"], r.data["case_number"]) for r in got}) == 1, got
            # a copy is the same message again (the relay re-sent it after the kill)
            assert len({r.envelope["id"] for r in got}) == 1, referral_id
            case_ids[got[0].data["case_id"]] = referral_id
        answers += len(client.of_type("referral_accepted"))
        duplicates += len(client.of_type("referral_accepted")) - len(by_referral)
    assert len(case_ids) == total, "a case id answered for two referrals"

    ledger = wait_until(lambda: (lambda items: items if len(items) >= total and all(
        i["track"] for i in items) else None)(suite.ledger()), 120,
        "every case assigned in reporting")
    assert sorted(i["case_id"] for i in ledger) == sorted(case_ids), "one case per referral"
    for case_id in list(case_ids)[:: max(1, total // 40)]:  # a sample of case views
        view = suite.get_json("reporting", f"/cases/{case_id}", "analyst")
        types = [t["type"] for t in view["timeline"]]
        assert (types.count("CaseRegistered"), types.count("AssignmentMade")) == (1, 1), types
        assert view["referral_id"] == case_ids[case_id]
    letters = {s: len(suite.dead_letters(s)) for s in SERVICES}
    assert letters == {s: 0 for s in SERVICES}, letters
    errors = suite.error_lines()
    report(name, referrals_sent=total, answers=answers, duplicates=duplicates,
           cases=len(ledger), dead_letters=letters, error_lines=len(errors),
           first_errors=[e[:300] for e in errors[:5]], **figures)
    assert errors == [], errors[:5]


def test_sigkill_of_the_whole_suite_mid_stream(fresh):
    suite, amqp_uri, inboxes = fresh
    suite.start()
    inboxes.update({a: AgencyClient(amqp_uri, a) for a in AGENCIES})
    killed_at = []

    def kill_part_way(n):
        if n == 120:
            suite.kill()  # SIGKILL make, the supervisor and all four services at once
            killed_at.append(n)

    sent = send_referrals(amqp_uri, 320, rate=80, on_sent=kill_part_way)
    answered_before_restart = sum(len(c.collect(lambda inbox: False, 1.0)) for c in
                                  inboxes.values())
    suite.start()
    check_every_referral(suite, inboxes, sent, "SIGKILL of the whole suite",
                         killed_after_sent=killed_at[0],
                         answered_before_restart=answered_before_restart)


def test_sigkill_of_each_service_in_turn(fresh):
    suite, amqp_uri, inboxes = fresh
    suite.start()
    inboxes.update({a: AgencyClient(amqp_uri, a) for a in AGENCIES})
    progress = {"sent": 0}
    result = {}

    def publish():
        try:
            result["sent"] = send_referrals(amqp_uri, 400, rate=15,
                                            on_sent=lambda n: progress.update(sent=n))
        except BaseException as exc:  # shown by the waits below, not lost with the thread
            result["error"] = exc

    publisher = threading.Thread(target=publish)
    publisher.start()
    kills = []
    try:
        for service in SERVICES:
            at = progress["sent"] + 40
            wait_until(lambda: progress["sent"] >= at or "error" in result, 120,
                       f"40 more referrals before {service}")
            assert "error" not in result, f"the agencies could not publish: {result['error']!r}"
            started = time.monotonic()
            suite.kill_service(service)
            kills.append({"service": service, "after_sent": at,
                          "back_within_s": round(time.monotonic() - started, 1)})
    finally:
        publisher.join(120)
    assert "error" not in result, f"the agencies could not publish: {result['error']!r}"
    check_every_referral(suite, inboxes, result["sent"], "SIGKILL of each service in turn",
                         kills=kills)
