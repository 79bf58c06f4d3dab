"""deploy/rabbitmq/definitions.json against the code it must agree with: the topology
the services declare (gm_platform.topology) and the rights `gm broker provision` grants
(gm_platform.provision). A queue declared by definitions with other arguments than the
services declare it with would make every service's start fail (PRECONDITION_FAILED).
"""
from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit


from gm_platform import topology

SUITE_QUEUES = topology.suite_queues()


def bindings_of(queue):
    if queue.bindings:
        return {(b.exchange.name, queue.name, b.routing_key) for b in queue.bindings}
    return {(queue.exchange.name, queue.name, queue.routing_key)}


def test_vhost_makes_durable_queues_quorum_queues(definitions):
    (vhost,) = definitions["vhosts"]
    assert vhost["name"] == "/"
    assert vhost["default_queue_type"] == vhost["metadata"]["default_queue_type"] == "quorum"


def test_exchanges_are_the_public_ones_parking_replay_and_the_services_events(definitions):
    declared = {e["name"]: e for e in definitions["exchanges"]}
    sources = {s for sources in topology.SUBSCRIPTIONS.values() for s in sources}
    exchanges = [topology.INBOUND, topology.OUTBOUND, topology.PARKED, topology.REPLAY,
                 *(topology.events_exchange(s) for s in sources)]
    assert set(declared) == {e.name for e in exchanges}
    for exchange in exchanges:
        got = declared[exchange.name]
        assert (got["type"], got["durable"], got["auto_delete"], got["internal"], got["arguments"]) \
            == (exchange.type, exchange.durable, bool(exchange.auto_delete), False, {})
        assert got["vhost"] == "/"


def test_queues_are_declared_exactly_as_the_services_declare_them(definitions):
    declared = {q["name"]: q for q in definitions["queues"]}
    assert set(declared) == {q.name for q in SUITE_QUEUES}
    queue_type = definitions["vhosts"][0]["default_queue_type"]
    for queue in SUITE_QUEUES:
        got = declared[queue.name]
        assert got["durable"] is bool(queue.durable) and got["auto_delete"] is bool(queue.auto_delete)
        arguments = dict(got["arguments"])
        declared_args = dict(queue.queue_arguments or {})
        # without an x-queue-type (agency inboxes) the broker fills in the vhost's default
        declared_args.setdefault("x-queue-type", queue_type)
        assert arguments == declared_args, queue.name


def test_every_queue_a_service_consumes_has_a_delivery_limit_and_its_parking_queue(definitions):
    declared = {q["name"]: q["arguments"] for q in definitions["queues"]}
    for service, sources in topology.SUBSCRIPTIONS.items():
        for source in sources:
            args = declared[f"{service}.from.{source}"]
            assert args["x-delivery-limit"] == topology.DELIVERY_LIMIT
            assert (args["x-dead-letter-exchange"], args["x-dead-letter-routing-key"]) == (
                "gm.parked", service)
            assert args["x-dead-letter-strategy"] == "at-least-once"
        assert declared[f"gm.parked.{service}"] == {"x-queue-type": "quorum"}
    for service in ("intake", "mediation"):
        assert declared[f"gm.inbound.{service}"]["x-dead-letter-routing-key"] == service


def test_each_service_consumes_exactly_the_queues_of_the_topology():
    """The services' @consume entrypoints and topology.consumed_queues agree, so the
    definitions (made from the topology) declare what the services consume."""
    from nameko.containers import ServiceContainer

    from gm_platform import config
    from gm_platform.consumer import QueueConsumer
    from gm_platform.serve import load_service_class
    from gm_platform.testing.services import service_settings

    for service in config.SERVICES:
        settings = service_settings(service, "memory://", "/nonexistent")
        container = ServiceContainer(load_service_class(service), settings.nameko_config())
        consumers = [e for e in container.entrypoints if isinstance(e, QueueConsumer)]
        names = set()
        for entrypoint in consumers:
            entrypoint.container = container
            names.add(entrypoint._resolve_queue().name)
        assert names == {q.name for q in topology.consumed_queues(service)}, service


def test_bindings_route_as_the_topology_says(definitions):
    declared = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    assert all(b["destination_type"] == "queue" and b["vhost"] == "/" for b in definitions["bindings"])
    assert declared == set().union(*(bindings_of(q) for q in SUITE_QUEUES))


def _accesses():
    """Every user but admin, with what `gm broker provision` grants it."""
    from gm_platform.config import SERVICES

    return {**{s: topology.service_access(s) for s in SERVICES},
            "operator": topology.operator_access(),
            **{a: topology.agency_access(a) for a in topology.AGENCIES}}


def test_every_user_has_exactly_what_gm_broker_provision_grants(definitions):
    accesses = _accesses()
    permissions = {p["user"]: p for p in definitions["permissions"]}
    topic = {}
    for p in definitions["topic_permissions"]:
        assert p["vhost"] == "/"
        topic.setdefault(p["user"], {})[p["exchange"]] = {"write": p["write"], "read": p["read"]}
    for user, access in accesses.items():
        assert permissions[user]["vhost"] == "/"
        mine = {k: permissions[user][k] for k in ("configure", "write", "read")}
        assert mine == access.permissions(), user
        assert topic.get(user, {}) == access.topic_permissions(), user
    assert set(topic) <= set(accesses), "no topic rights for admin"


def test_users_are_admin_the_services_the_operator_and_the_agencies_without_guest(
        definitions):
    users = {u["name"]: u for u in definitions["users"]}
    assert set(users) == {"admin", *_accesses()}
    assert users["admin"]["tags"] == "administrator"
    assert all(u["tags"] == "" for name, u in users.items() if name != "admin")
    permissions = {p["user"]: p for p in definitions["permissions"]}
    assert set(permissions) == set(users)
    assert (permissions["admin"]["configure"], permissions["admin"]["write"],
            permissions["admin"]["read"]) == (".*", ".*", ".*")
    for user, p in permissions.items():
        if user != "admin":
            assert ".*" not in (p["configure"], p["write"], p["read"]), user


def _matches(password_hash: str, password: str) -> bool:
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def test_passwords_are_the_documented_development_placeholders(definitions, compose):
    for user in definitions["users"]:
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        assert _matches(user["password_hash"], f"{user['name']}-dev-password"), user["name"]
    # and each service connects in compose as its own user, with its placeholder
    from gm_platform.config import SERVICES

    for service in SERVICES:
        env = compose["services"][service]["environment"]
        uri = urlsplit(env[f"GM_{service.upper()}_AMQP_URI"])
        assert (uri.username, uri.password) == (service, f"{service}-dev-password")


def _conf(text: str) -> dict:
    """`key = value` lines of a rabbitmq.conf (sysctl format), comments left out."""
    return dict(tuple(part.strip() for part in line.split("=", 1)) for line in text.splitlines()
                if "=" in line and not line.lstrip().startswith("#"))


def test_max_message_size_lets_oversized_agency_bodies_be_rejected_and_carries_ours(repo):
    """CONTRACT.md §7: a body over 256 KiB is answered `rejected` by the suite, so the broker
    must let it through; its own cap bounds what any one publisher can make it hold."""
    from gm_contracts.inbound import MAX_BODY_BYTES
    from gm_kernel.events import MAX_LETTER_BODY
    from gm_platform.base import RPC_PAGE_BYTES

    limit = int(_conf((repo / "deploy/rabbitmq/rabbitmq.conf").read_text())["max_message_size"])
    assert MAX_BODY_BYTES < limit <= 8 * MAX_BODY_BYTES
    assert MAX_LETTER_BODY < limit  # a replayed dead letter
    # an RPC page: its budget plus the item that crossed it, a 256 KiB body ASCII-escaped
    assert RPC_PAGE_BYTES + 3 * MAX_BODY_BYTES < limit
    k8s = (repo / "deploy/k8s/base/rabbitmq.yaml").read_text()
    assert f"max_message_size = {limit}\n" in k8s, "compose and Kubernetes agree"
