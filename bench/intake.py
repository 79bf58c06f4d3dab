"""Intake end to end: the court sends N referrals, intake answers each one.

Measured from the first send to the last answer received, with the intake service running
in this process (eventlet) against a private RabbitMQ vhost and its own SQLite store.

Baseline (same run, same vhost): a raw kombu client publishes the same N bodies to a durable
queue (persistent, publisher confirms) and consumes them back with acks.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import uuid
from typing import List

from kombu import Connection, Exchange, Queue

from gm_platform.testing.agency import Agency, envelope
from gm_platform.testing.broker import private_vhost
from gm_platform.testing.services import service_settings, start_service, write_tokens

from .common import Row, Timer

N = 1000
TIMEOUT = 60.0


def referral(i: int) -> dict:
    return {"referral_id": f"R-bench-{i:05d}-{uuid.uuid4().hex[:8]}", "kind": "entrusted",
            "category": "neighbour", "summary": "邻里之间因排水沟发生纠纷",
            "region": "410611100",
            "parties": [{"role": "applicant", "name": "张三", "id_number": "11010519491231002X"}]}


def baseline(amqp_uri: str, bodies: List[bytes]) -> float:
    exchange = Exchange("bench.baseline", type="topic", durable=True)
    queue = Queue("bench.baseline", exchange, routing_key="court.#", durable=True)
    got = 0

    def on_message(message):
        nonlocal got
        got += 1
        message.ack()

    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        queue(channel).declare()
        producer = conn.Producer(channel)
        with Timer() as t:
            for i, body in enumerate(bodies):
                producer.publish(body, exchange=exchange, routing_key="court.referral",
                                 message_id=str(i), content_type="application/json",
                                 content_encoding="utf-8", delivery_mode=2)
            deadline = time.monotonic() + TIMEOUT
            with conn.Consumer(queue, on_message=on_message, prefetch_count=500):
                while got < len(bodies) and time.monotonic() < deadline:
                    try:
                        conn.drain_events(timeout=0.2)
                    except socket.timeout:
                        pass
        queue(channel).delete()
        exchange(channel).delete()
    if got != len(bodies):
        raise RuntimeError(f"baseline: consumed {got} of {len(bodies)}")
    return t.seconds


def run(n: int = N) -> List[Row]:
    referrals = [referral(i) for i in range(n)]
    bodies = [json.dumps(envelope("referral", "court", d), ensure_ascii=False).encode()
              for d in referrals]
    with private_vhost("gm-bench") as amqp_uri, \
            tempfile.TemporaryDirectory(prefix="gm-bench-intake-") as tmp:
        b_seconds = baseline(amqp_uri, bodies)
        tokens = write_tokens(os.path.join(tmp, "tokens.json"))
        svc = start_service("intake", service_settings("intake", amqp_uri,
                                                        os.path.join(tmp, "data"),
                                                        tokens_file=tokens))
        court = Agency(amqp_uri, "court")
        try:
            court.inbox(court.channel).declare()  # answers must not be dropped
            with Timer() as t:
                for d in referrals:
                    court.send("referral", d)
                answers = court.receive(n, timeout=TIMEOUT)
        finally:
            court.close()
            svc.stop()
    kinds = {}
    for key, _ in answers:
        kinds[key] = kinds.get(key, 0) + 1
    if len(answers) != n or kinds.get("court.referral_accepted") != n:
        raise RuntimeError(f"intake: expected {n} acceptances, got {kinds}")
    return [Row("intake referral -> answer (court, end to end)", "referrals/s", n, t.seconds,
                "kombu publish (confirms, persistent) + consume with acks", n, b_seconds)]
