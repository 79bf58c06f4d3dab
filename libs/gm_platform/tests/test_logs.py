"""Log records made while a worker runs carry its correlation and causation ids, and the
JSON formatter writes them with the service name."""
from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
import requests
from kombu import Connection, Exchange, Producer, Queue

from gm_platform import logs
from gm_platform.base import PlatformService
from gm_platform.consumer import Delivery, consume
from gm_platform.http import api
from gm_platform.testing.services import service_settings, start_service

QUEUE = Queue("logtest.in", Exchange("logtest", type="topic", durable=True), routing_key="#",
              durable=True)
log = logging.getLogger("gm.test.logs")


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


class LoggingService(PlatformService):
    name = "intake"  # any service name the settings know

    @consume(queue=lambda: QUEUE)
    def on_message(self, delivery: Delivery):
        log.info("handled %s", delivery.routing_key)

    @api("GET", "/hello", public=True)
    def hello(self, request):
        log.info("said hello")
        return {"ok": True}


@pytest.fixture
def collected():
    handler = Collect()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield handler.records
    log.removeHandler(handler)


def test_bound_fields_reach_records_and_the_json_formatter():
    token = logs.bind(correlation_id="case-1", causation_id="msg-1")
    try:
        record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "m", (), None)
    finally:
        logs._context.reset(token)
    doc = json.loads(logs.JsonFormatter("assignment").format(record))
    assert doc["service"] == "assignment"
    assert doc["correlation_id"] == "case-1" and doc["causation_id"] == "msg-1"
    later = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert not hasattr(later, "correlation_id")  # reset: nothing leaks to the next work


@pytest.mark.broker
@pytest.mark.timeout(60)
def test_a_workers_records_carry_its_message_and_case(tmp_path, amqp_uri, collected):
    svc = start_service("intake", service_settings("intake", amqp_uri, tmp_path),
                        service_cls=LoggingService)
    try:
        message_id = str(uuid.uuid4())
        with Connection(amqp_uri) as conn:
            Producer(conn.channel()).publish(
                b"{}", exchange=QUEUE.exchange, routing_key="x.y", declare=[QUEUE],
                content_type="application/json", message_id=message_id,
                correlation_id="case-42")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
                r.getMessage() == "handled x.y" for r in collected):
            time.sleep(0.05)
        [handled] = [r for r in collected if r.getMessage() == "handled x.y"]
        assert handled.correlation_id == "case-42" and handled.causation_id == message_id
        assert handled.entrypoint == "on_message"

        requests.get(svc.url + "/hello", headers={"X-Correlation-Id": "case-7",
                                                  "X-Request-Id": "req-9"}, timeout=5)
        [hello] = [r for r in collected if r.getMessage() == "said hello"]
        assert hello.correlation_id == "case-7" and hello.causation_id == "req-9"
    finally:
        svc.stop()
