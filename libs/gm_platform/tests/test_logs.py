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


def test_call_site_fields_merge_with_bound_ones_and_never_raise(collected):
    """extra= naming a bound id replaces it; one naming a record attribute is renamed."""
    token = logs.bind(correlation_id="case-1", causation_id="msg-1")
    try:
        log.info("merged", extra={"correlation_id": "case-2", "name": "x", "message": "y",
                                  "outcome": "registered"})
    finally:
        logs._context.reset(token)
    [record] = [r for r in collected if r.getMessage() == "merged"]
    assert record.correlation_id == "case-2" and record.causation_id == "msg-1"
    assert record.name == "gm.test.logs" and record.extra_name == "x"
    assert record.extra_message == "y" and record.outcome == "registered"
    doc = json.loads(logs.JsonFormatter("intake").format(record))
    assert (doc["correlation_id"], doc["outcome"], doc["extra_name"]) == ("case-2", "registered", "x")


@pytest.mark.broker
@pytest.mark.timeout(120)
@pytest.mark.parametrize("service", ["intake", "assignment", "mediation", "reporting"])
def test_each_service_logs_call_site_fields_at_info_inside_a_worker(service, tmp_path, amqp_uri,
                                                                   collected):
    """The fault that answered every referral three times: `extra={"correlation_id": ...}`
    at INFO inside a worker raised KeyError after the handler had committed."""
    from gm_platform.serve import load_service_class

    class Probe(load_service_class(service)):
        @api("GET", "/log-probe", public=True)
        def log_probe(self, request):
            log.info("probe", extra={"correlation_id": "call-site", "outcome": "ok"})
            return {"ok": True}

    errors = Collect()
    logging.getLogger().addHandler(errors)
    errors.setLevel(logging.ERROR)
    svc = start_service(service, service_settings(service, amqp_uri, tmp_path, log_level="INFO"),
                        service_cls=Probe)
    try:
        # The worker binds a correlation id of its own, which the call site then names too.
        reply = requests.get(svc.url + "/log-probe", timeout=5,
                             headers={"X-Correlation-Id": "bound", "X-Request-Id": "req-1"})
        assert reply.status_code == 200, reply.text
        [probe] = [r for r in collected if r.getMessage() == "probe"]
        assert (probe.correlation_id, probe.causation_id, probe.outcome) == (
            "call-site", "req-1", "ok")
        assert probe.entrypoint == "log_probe"
    finally:
        svc.stop()
        logging.getLogger().removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []


def test_an_expected_workers_error_is_one_line_without_its_traceback():
    """A 4xx is the client's mistake: Nameko logs it at WARNING with the traceback, which
    the service's handler drops (unexpected errors keep theirs)."""
    handler = logging.StreamHandler()
    handler.addFilter(logs.ExpectedErrorsWithoutTraceback())
    handler.setFormatter(logs.JsonFormatter("intake"))
    try:
        raise ValueError("no case 42")
    except ValueError:
        import sys
        info = sys.exc_info()
    expected = logging.getLogger("nameko.containers").makeRecord(
        "nameko.containers", logging.WARNING, __file__, 1,
        "(expected) error handling worker %s: %s", ("w", "no case 42"), info)
    handler.filter(expected)
    assert "exc" not in json.loads(handler.format(expected))
    unexpected = logging.getLogger("nameko.containers").makeRecord(
        "nameko.containers", logging.ERROR, __file__, 1, "error handling worker %s: %s",
        ("w", "boom"), info)
    handler.filter(unexpected)
    assert "Traceback" in json.loads(handler.format(unexpected))["exc"]
