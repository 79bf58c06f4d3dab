"""deploy/rabbitmq/definitions.json loaded into the real RabbitMQ: it imports, the users'
rights are what CONTRACT.md §1 promises, and the services' own declarations of the
queues it creates are accepted (same type and arguments).

The definitions go into a fresh vhost with user names suffixed, so the shared broker's
"/" and any real users are untouched; both are deleted afterwards. Uses the management
API when it answers, else `rabbitmqctl import_definitions` (as root, like .ci/run).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import amqp
import pytest
from kombu import Connection, Queue

from gm_platform import topology
from gm_platform.config import SERVICES
from gm_platform.testing.broker import BROKER_URI, _api

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


def _management_api() -> bool:
    try:
        return _api("GET", "/overview").ok
    except Exception:
        return False


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                          timeout=30)


def _delete_with_rabbitmqctl(users, vhost: str) -> None:
    """One `rabbitmqctl eval` (each rabbitmqctl takes a third of a second to start), or
    one command per object where the broker's internals differ."""
    binaries = ", ".join(f'<<"{u}">>' for u in users)
    expression = (f'_ = [catch rabbit_auth_backend_internal:delete_user(U, <<"gm-tests">>) '
                  f'|| U <- [{binaries}]], '
                  f'_ = (catch rabbit_vhost:delete(<<"{vhost}">>, <<"gm-tests">>)), ok.')
    if _rabbitmqctl("eval", expression).returncode == 0:
        return
    for user in users:
        _rabbitmqctl("delete_user", user)
    _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def loaded(definitions):
    """The definitions in a private vhost; yields a function user -> AMQP URI."""
    use_api = _management_api()
    if not use_api and (shutil.which("rabbitmqctl") is None or os.geteuid() != 0):
        pytest.skip("neither the RabbitMQ management API nor rabbitmqctl (as root) is available")
    tag = uuid.uuid4().hex[:8]
    vhost = f"gm-definitions-{tag}"
    renamed = copy.deepcopy(definitions)
    renamed.pop("_comment", None)
    for user in renamed["users"]:
        user["name"] = f"{user['name']}-{tag}"
    for entry in renamed["vhosts"]:
        entry["name"] = vhost
    for key in ("permissions", "topic_permissions"):
        for entry in renamed[key]:
            entry["user"], entry["vhost"] = f"{entry['user']}-{tag}", vhost
    for key in ("exchanges", "queues", "bindings"):
        for entry in renamed[key]:
            entry["vhost"] = vhost
    if use_api:
        _api("POST", "/definitions", json=renamed).raise_for_status()
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(renamed, f)
        os.chmod(f.name, 0o644)  # the broker's CLI may run as another user
        try:
            result = _rabbitmqctl("import_definitions", f.name)
            assert result.returncode == 0, result.stderr
        finally:
            os.unlink(f.name)

    parts = urlsplit(BROKER_URI)

    def uri(user: str) -> str:
        netloc = f"{user}-{tag}:{user}-dev-password@{parts.hostname}:{parts.port or 5672}"
        return urlunsplit((parts.scheme, netloc, "/" + quote(vhost, safe=""), "", ""))

    try:
        yield uri
    finally:
        names = [f"{user['name']}-{tag}" for user in definitions["users"]]
        if use_api:
            for name in names:
                _api("DELETE", f"/users/{quote(name, safe='')}")
            _api("DELETE", f"/vhosts/{quote(vhost, safe='')}")
        else:
            _delete_with_rabbitmqctl(names, vhost)


def _publish(uri: str, exchange, routing_key: str) -> None:
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(b"{}", exchange=exchange, routing_key=routing_key,
                                declare=[], retry=False, delivery_mode=2)


def _get(uri: str, queue: str, timeout: float = 5.0):
    with Connection(uri) as conn:
        channel = conn.channel()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=True)
            if message is not None:
                return message
            time.sleep(0.05)
    return None


def test_definitions_load_and_grant_exactly_the_contract(loaded):
    # Each service (its own user) declares its topology as it does at start: accepted as
    # is, each consumed queue with its own arguments (not the fallback for other arguments).
    for service in SERVICES:
        with Connection(loaded(service)) as conn:
            topology.declare_owned(conn.channel(), service)
            for queue in topology.consumed_queues(service):
                assert topology.declare_consumed(conn, queue)[1] is True, queue.name

    court = loaded("court")
    _publish(court, topology.INBOUND, "court.referral")
    _publish(court, topology.INBOUND, "court.handoff_reply")
    assert _get(loaded("intake"), "gm.inbound.intake") is not None
    assert _get(loaded("mediation"), "gm.inbound.mediation") is not None

    _publish(loaded("intake"), topology.OUTBOUND, "court.referral_accepted")
    assert _get(court, "gm.outbound.court") is not None  # an agency reads its own inbox

    refused = {
        "publish under another agency's name": lambda: _publish(court, topology.INBOUND,
                                                                "police.referral"),
        "publish to gm.outbound": lambda: _publish(court, topology.OUTBOUND, "court.x"),
        "read another agency's inbox": lambda: _get(court, "gm.outbound.police", 0.1),
        "declare (configure) anything": lambda: _declare(court),
    }
    for what, attempt in refused.items():
        with pytest.raises(amqp.exceptions.AccessRefused):
            attempt()
            pytest.fail(f"an agency user could {what}")


def _declare(uri: str) -> None:
    with Connection(uri) as conn:
        Queue("court-own-queue", durable=True)(conn.channel()).declare()
