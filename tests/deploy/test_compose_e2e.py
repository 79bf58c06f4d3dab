"""The compose stack for real: build the four images, start deploy/docker-compose.yml with
pytest-docker, and walk a court referral through it as the court would - with the court's
own broker user, which may only publish to gm.inbound and read gm.outbound.court.

Skipped, with the reason, where there is no Docker engine or no Docker Compose (as on our
development machines); the other tests in this folder check the same files statically.
Slow where it runs: the first run builds four images.
"""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gm_kernel.testing.docker import compose_command, run, why_no_docker
from gm_platform import config

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"
HOST_PORTS = {"DEPLOY_AMQP_PORT": 5672, "DEPLOY_MANAGEMENT_PORT": 15672,
              **{f"DEPLOY_{s.upper()}_PORT": p for s, p in config.DEFAULT_PORTS.items()}}


NO_DOCKER = why_no_docker()
try:
    from pytest_docker.plugin import get_docker_ip, get_docker_services
except ImportError:  # pragma: no cover - pinned in requirements.txt
    NO_DOCKER = NO_DOCKER or "pytest-docker is not installed"

pytestmark = [
    pytest.mark.skipif(NO_DOCKER is not None,
                       reason=f"the compose end-to-end test needs Docker: {NO_DOCKER}"),
    pytest.mark.slow,
    pytest.mark.timeout(1800),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack():
    """The stack up and healthy (`up --build --wait`), on free host ports; removed with its
    volumes afterwards. Not pytest-docker's session fixture: its cache would hand this
    module another module's compose file."""
    ports = {name: _free_port() for name in HOST_PORTS}
    host = get_docker_ip()
    settings = {**{name: str(port) for name, port in ports.items()},
                # a remote engine (DOCKER_HOST=tcp://...) must publish beyond its loopback
                "DEPLOY_PUBLISH_IP": "127.0.0.1" if host == "127.0.0.1" else "0.0.0.0"}
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    project = f"gmdeploy{os.getpid()}"
    try:
        with get_docker_services(compose_command(), str(COMPOSE_FILE), project,
                                 ["up --build --wait"], ["down -v"]):
            yield {"host": host, "ports": ports, "project": project}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_every_service_is_ready(stack):
    for service in config.SERVICES:
        port = stack["ports"][f"DEPLOY_{service.upper()}_PORT"]
        assert _health(f"http://{stack['host']}:{port}/health") == 200, service


def test_a_court_referral_is_answered_with_a_case_number(stack):
    from kombu import Connection, Exchange, Queue

    from gm_contracts.testing import encode, inbound_envelope

    uri = (f"amqp://court:court-dev-password@{stack['host']}:"
           f"{stack['ports']['DEPLOY_AMQP_PORT']}/")
    referral = inbound_envelope("court", "referral")
    answers = []
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        # An agency configures nothing: no declarations, only publish and consume.
        conn.Producer().publish(
            encode(referral), exchange=Exchange("gm.inbound", type="topic", durable=True),
            routing_key="court.referral", message_id=referral["id"],
            content_type="application/json", content_encoding="utf-8", delivery_mode=2,
            declare=[], retry=False)

        def on_message(body, message):
            answers.append((message.delivery_info["routing_key"], json.loads(message.body)))
            message.ack()

        with conn.Consumer(Queue("gm.outbound.court", no_declare=True), callbacks=[on_message]):
            deadline = time.monotonic() + 60
            while not answers and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except socket.timeout:
                    pass
    assert answers, "no answer on gm.outbound.court within 60 s"
    routing_key, envelope = answers[0]
    assert routing_key == "court.referral_accepted"
    assert envelope["data"]["referral_id"] == referral["data"]["referral_id"]
    assert envelope["data"]["case_number"]


def test_operators_reach_parked_messages_inside_a_container(stack):
    result = run(*compose_command().split(), "-f", str(COMPOSE_FILE), "-p", stack["project"],
                  "exec", "-T", "intake", "gm", "dlq", "list", "--service", "intake", "--json",
                  timeout=120)
    assert result is not None and result.returncode == 0, result and result.stderr
    assert "total" in json.loads(result.stdout)
