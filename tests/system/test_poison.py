"""Poison on `gm.inbound` (CONTRACT.md §7), against the suite as `make run` starts it.

Each bad message is followed at once by a valid one from the same agency. The valid one
must be answered within seconds (nothing blocks the queue); the bad one must be parked
exactly once with its reason and, where an id can be read, answered `rejected` exactly
once.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest

from gm_contracts.inbound import MAX_BODY_BYTES
from gm_platform.testing.system import envelope, report, valid_referral, wait_until

pytestmark = pytest.mark.timeout(600)

ANSWERED_WITHIN = 10.0  # seconds for the valid message behind each poison


def referral_envelope(agency: str = "court") -> dict:
    return envelope("referral", agency, valid_referral(agency))


def body(env: dict) -> bytes:
    return json.dumps(env).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def poisons():
    """(name, routing key, body, AMQP properties, the message_id its answer must carry,
    or None for an answer without one, or "unanswered")."""
    out = []

    def add(name, env_or_body, props, answer_id, routing_key="court.referral"):
        raw = body(env_or_body) if isinstance(env_or_body, dict) else env_or_body
        out.append((name, routing_key, raw, props, answer_id))

    env = referral_envelope()
    add("message_id not UTF-8", env, {"message_id": b"\xff\xfe"}, env["id"])
    env = referral_envelope()
    add("lone surrogate in message_id", env, {"message_id": "\ud800"}, env["id"])
    env = referral_envelope()
    add("correlation_id and content_type not UTF-8", env,
        {"message_id": env["id"], "correlation_id": b"\xc3", "content_type": b"application/\xff"},
        env["id"])
    env = referral_envelope()
    add("header value not UTF-8", env,
        {"message_id": env["id"], "application_headers": {"trace": b"\xff\xfe"}}, env["id"])
    mid = str(uuid.uuid4())
    add("empty body", b"", {"message_id": mid}, mid)
    env = referral_envelope()
    env["data"]["summary"] = "长" * (MAX_BODY_BYTES // 3 + 1000)  # ~260 KiB of UTF-8
    add("body over 256 KiB", env, {"message_id": env["id"]}, env["id"])
    mid = str(uuid.uuid4())
    add("body not UTF-8", b'{"id": "\xff\xfe"}', {"message_id": mid}, mid)
    env = referral_envelope()
    add("another content type", env, {"message_id": env["id"], "content_type": "text/plain"},
        env["id"])
    mid = str(uuid.uuid4())
    add("JSON nested past the limit", nested(40), {"message_id": mid}, mid)
    mid = str(uuid.uuid4())
    add("JSON nested 100,000 deep", nested(100_000), {"message_id": mid}, mid)
    add("not JSON and no message_id", b"garbage", {}, None)
    env = referral_envelope()
    add("routing key naming no agency", env, {"message_id": env["id"]}, "unanswered",
        routing_key="nobody.referral")
    return out


def test_no_poison_blocks_the_queue_and_each_is_parked_and_answered_once(deployed):
    suite, agencies = deployed
    court = agencies["court"]
    figures = []
    for name, routing_key, raw, props, answer_id in poisons():
        court.publish(routing_key, raw, **props)
        behind = court.send("referral", valid_referral("court"))
        sent_at = time.monotonic()
        court.collect(lambda inbox: any(r.data.get("referral_id") == behind["data"]["referral_id"]
                                        for r in inbox), ANSWERED_WITHIN)
        latency = time.monotonic() - sent_at
        assert any(r.data.get("referral_id") == behind["data"]["referral_id"]
                   for r in court.inbox), f"the referral behind {name!r} was not answered " \
                                          f"within {ANSWERED_WITHIN:.0f}s"
        figures.append({"poison": name, "behind_answered_s": round(latency, 3)})
    court.settle(quiet=3.0)

    rejected = court.of_type("rejected")
    expected = poisons()  # the same poisons (their ids differ per call)
    answered = [r.data["message_id"] for r in rejected]
    # one answer per answerable poison, none for the one naming no agency
    assert len(rejected) == len([p for p in expected if p[4] != "unanswered"]), answered
    assert len(court.of_type("referral_accepted")) == len(expected)
    assert answered.count(None) == 1  # "not JSON and no message_id"

    letters = suite.dead_letters("intake")
    assert len(letters) == len(expected), [l["reason"][:80] for l in letters]
    reasons = " | ".join(letter["reason"] for letter in letters)
    for what in ("message_id not UTF-8", "'properties.correlation_id'", "'headers.trace'",
                 "body too large", "body not UTF-8", "wrong content type", "JSON too deep",
                 "not JSON", "unanswerable (routing key names no agency)"):
        assert what in reasons, what
    big = [letter for letter in letters if "body too large" in letter["reason"]]
    assert big[0]["truncated"] is True and big[0]["body_size"] > MAX_BODY_BYTES
    assert suite.error_lines() == [], suite.error_lines()[:3]
    report("poison on gm.inbound (intake)", poisons=figures, rejected_answers=len(rejected),
           dead_letters=len(letters))


def test_poison_on_mediations_queue_blocks_nothing(deployed):
    suite, agencies = deployed
    police = agencies["police"]
    before = len(suite.dead_letters("mediation"))
    env = envelope("handoff_reply", "police", {"handoff_id": "H-1", "decision": "accepted"})
    police.publish("police.handoff_reply", body(env), message_id=b"\xff\xfe")
    # right behind: a well-formed reply to a hand-off nobody asked for, answered rejected
    behind = police.send("handoff_reply", {"handoff_id": f"H-{uuid.uuid4().hex[:8]}",
                                           "decision": "accepted"})
    police.collect(lambda inbox: len([r for r in inbox if r.type == "rejected"]) >= 2,
                   ANSWERED_WITHIN)
    police.settle(quiet=2.0)
    answers = {r.data["message_id"]: r.data["errors"] for r in police.of_type("rejected")}
    assert set(answers) == {env["id"], behind["id"]}
    assert answers[env["id"]] == {"message_id": ["Not valid UTF-8 text."]}
    assert "handoff_id" in answers[behind["id"]]
    wait_until(lambda: len(suite.dead_letters("mediation")) == before + 2, 10,
               "both parked by mediation")
    assert suite.error_lines() == [], suite.error_lines()[:3]
