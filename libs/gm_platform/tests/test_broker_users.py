"""Broker users against the real RabbitMQ: each agency, service and the operator may do
what gm_platform.topology says it needs, and the broker refuses it anything else.

One private vhost holds the whole topology (declared as the suite declares it); the users
are made through the management API exactly as `gm broker provision` makes them, and
deleted afterwards. A refusal is asserted precisely: the broker closes the channel with
403 ACCESS_REFUSED, and the connection stays usable. `pytest -s` prints the matrix.
"""
from __future__ import annotations

import time
import uuid
from typing import Callable, List, Tuple
from urllib.parse import unquote, urlsplit

import amqp
import pytest
from amqp import spec
from kombu import Connection, Queue

from gm_platform import provision, topology
from gm_platform.config import SERVICES
from gm_platform.testing.broker import (
    MANAGEMENT_URI,
    _api,
    private_vhost,
    suite_users,
    vhost_of,
    with_user,
)

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

Op = Callable[[amqp.Channel], object]
TESTED: List[Tuple[str, str, str]] = []  # (user, what, "allowed" | "refused"), for -s


def _op(method, run: Op) -> Op:
    run.method = method  # the AMQP method the broker refuses, e.g. (60, 40) basic.publish
    return run


def publish(exchange: str, routing_key: str) -> Op:
    return _op(spec.Basic.Publish, lambda ch: ch.basic_publish_confirm(
        amqp.Message(b"{}", delivery_mode=2), exchange=exchange, routing_key=routing_key,
        confirm_timeout=5))


def get(queue: str) -> Op:
    return _op(spec.Basic.Get, lambda ch: ch.basic_get(queue))


def declare_queue(name: str, **arguments) -> Op:
    return _op(spec.Queue.Declare, lambda ch: ch.queue_declare(
        name, durable=True, auto_delete=False, arguments=arguments or None))


def delete_queue(name: str) -> Op:
    return _op(spec.Queue.Delete, lambda ch: ch.queue_delete(name))


def purge(name: str) -> Op:
    return _op(spec.Queue.Purge, lambda ch: ch.queue_purge(name))


def declare_exchange(name: str) -> Op:
    return _op(spec.Exchange.Declare, lambda ch: ch.exchange_declare(
        name, "topic", durable=True, auto_delete=False))


def delete_exchange(name: str) -> Op:
    return _op(spec.Exchange.Delete, lambda ch: ch.exchange_delete(name))


def bind(queue: str, exchange: str, routing_key: str) -> Op:
    return _op(spec.Queue.Bind, lambda ch: ch.queue_bind(queue, exchange, routing_key))


def connect(uri: str) -> amqp.Connection:
    parts = urlsplit(uri)
    conn = amqp.Connection(f"{parts.hostname}:{parts.port or 5672}",
                           userid=unquote(parts.username), password=unquote(parts.password),
                           virtual_host=vhost_of(uri), connect_timeout=5)
    conn.connect()
    return conn


def allowed(uri: str, user: str, what: str, op: Op) -> None:
    conn = connect(uri)
    try:
        channel = conn.channel()
        op(channel)
        assert channel.is_open, f"{user}: {what}"
    finally:
        conn.close()
    TESTED.append((user, what, "allowed"))


def refused(uri: str, user: str, what: str, op: Op) -> None:
    conn = connect(uri)
    try:
        channel = conn.channel()
        with pytest.raises(amqp.exceptions.AccessRefused) as refusal:
            op(channel)
            pytest.fail(f"{user} could {what}")
        # The broker closed the channel (channel.close 403 ACCESS_REFUSED naming the
        # method it refused; py-amqp then reopens the channel), not the connection.
        error = refusal.value
        assert (error.reply_code, error.method_sig) == (403, op.method), (user, what, error)
        assert error.reply_text.startswith("ACCESS_REFUSED"), (user, what, error)
        assert conn.connected and conn.channel().is_open, "the connection outlives it"
    finally:
        conn.close()
    TESTED.append((user, what, "refused"))


def declare_topology(uri: str) -> None:
    """Everything the suite declares, as the suite declares it (the vhost's own user)."""
    with Connection(uri) as conn:
        channel = conn.channel()
        for service in SERVICES:
            topology.declare_owned(channel, service)
            Queue(f"rpc-{service}", topology.RPC, routing_key=f"{service}.*",
                  durable=True)(channel).declare()  # as Nameko declares it
        for service in SERVICES:
            for queue in topology.consumed_queues(service):
                assert topology.declare_consumed(conn, queue)[1] is True, queue.name


@pytest.fixture(scope="module")
def users():
    with private_vhost("gm-users") as uri:
        declare_topology(uri)
        with suite_users(uri) as made:
            yield made
    if TESTED:
        print("\n[broker users] as tested:")
        for user, what, outcome in TESTED:
            print(f"  {user:13} {outcome:8} {what}")


def test_an_agency_publishes_only_under_its_name_and_reads_only_its_inbox(users):
    court = users["court"]
    allowed(court, "court", "publish gm.inbound court.referral",
            publish("gm.inbound", "court.referral"))
    allowed(court, "court", "read gm.outbound.court", get("gm.outbound.court"))
    for what, op in {
        "publish gm.inbound police.referral": publish("gm.inbound", "police.referral"),
        "publish gm.inbound with a key naming no agency": publish("gm.inbound", "court"),
        "publish gm.outbound court.referral_accepted": publish("gm.outbound",
                                                               "court.referral_accepted"),
        "publish the default exchange to gm.inbound.intake": publish("", "gm.inbound.intake"),
        "publish intake.events": publish("intake.events", "CaseRegistered"),
        "read gm.outbound.police": get("gm.outbound.police"),
        "read gm.inbound.intake": get("gm.inbound.intake"),
        "declare a queue of its own": declare_queue("court-own"),
        "declare its inbox (configure)": declare_queue("gm.outbound.court",
                                                       **{"x-queue-type": "quorum"}),
        "delete its inbox": delete_queue("gm.outbound.court"),
        "declare gm.inbound": declare_exchange("gm.inbound"),
        "delete gm.inbound": delete_exchange("gm.inbound"),
        "bind its inbox to gm.outbound police.#": bind("gm.outbound.court", "gm.outbound",
                                                       "police.#"),
        "purge gm.outbound.police": purge("gm.outbound.police"),
    }.items():
        refused(court, "court", what, op)


OTHER_AGENCY_INBOX = "gm.outbound.court"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_declares_reads_and_publishes_what_its_place_in_the_topology_needs(
        users, service):
    uri = users[service]
    # Its start-up, exactly as its consumers and relay do it (queues with their bindings,
    # others' events exchanges passively, the public topology where agencies talk to it).
    with Connection(uri) as conn:
        topology.declare_owned(conn.channel(), service)
        for queue in topology.consumed_queues(service):
            assert topology.declare_consumed(conn, queue)[1] is True, queue.name
    TESTED.append((service, "declare its exchanges and consumed queues with bindings",
                   "allowed"))
    for queue in topology.consumed_queues(service):
        allowed(uri, service, f"read {queue.name}", get(queue.name))
        allowed(uri, service, f"replay into {queue.name}", publish("gm.replay", queue.name))
    allowed(uri, service, f"declare nameko-rpc and rpc-{service} as Nameko does",
            lambda ch: (declare_exchange("nameko-rpc")(ch),
                        declare_queue(f"rpc-{service}")(ch),
                        bind(f"rpc-{service}", "nameko-rpc", f"{service}.*")(ch)))
    reply_queue = declare_queue(f"rpc.reply-standalone_rpc_proxy-{uuid.uuid4()}")
    if topology.callees(service):
        allowed(uri, service, "declare an RPC reply queue", reply_queue)
    allowed(uri, service, "reply to an RPC caller", publish("nameko-rpc", str(uuid.uuid4())))
    for source in topology.callees(service):
        allowed(uri, service, f"call {source}.read_log", publish("nameko-rpc",
                                                                 f"{source}.read_log"))
    if topology.publishes_events(service):
        allowed(uri, service, f"publish {service}.events",
                publish(f"{service}.events", "SomethingHappened"))
    if topology.answers_agencies(service):
        allowed(uri, service, "publish gm.outbound court.referral_accepted",
                publish("gm.outbound", "court.referral_accepted"))

    others = [s for s in SERVICES if s != service]
    attempts = {
        f"read {OTHER_AGENCY_INBOX}": get(OTHER_AGENCY_INBOX),
        "purge an agency's inbox": purge(OTHER_AGENCY_INBOX),
        "publish the default exchange (any queue by name)": publish("", OTHER_AGENCY_INBOX),
        "declare a queue of its own choosing": declare_queue(f"{service}-extra"),
        "publish gm.outbound under a key naming no agency": publish("gm.outbound", "x.y"),
        "publish gm.inbound under a key naming no agency": publish("gm.inbound", "x.y"),
        "call intake.replay_dead_letter": publish("nameko-rpc", "intake.replay_dead_letter"),
        "call mediation.list_dead_letters": publish("nameko-rpc",
                                                    "mediation.list_dead_letters"),
        "declare a reply queue not Nameko's": declare_queue("rpc.reply-someone-else"),
        "bind rpc-intake to all RPC calls": bind("rpc-intake", "nameko-rpc", "#"),
    }
    if not topology.answers_agencies(service):
        attempts.update({
            "publish gm.outbound court.referral_accepted": publish(
                "gm.outbound", "court.referral_accepted"),
            "publish gm.inbound court.referral": publish("gm.inbound", "court.referral"),
            "declare gm.outbound": declare_exchange("gm.outbound"),
        })
    if not topology.callees(service):
        attempts["declare an RPC reply queue (it calls no one)"] = reply_queue
    if not topology.publishes_events(service):
        attempts[f"publish {service}.events"] = publish(f"{service}.events", "X")
    for other in others:
        queues = [q.name for q in topology.consumed_queues(other)]
        attempts.update({
            f"read {queues[0]}": get(queues[0]),
            f"replay into {queues[0]}": publish("gm.replay", queues[0]),
            f"delete {queues[0]}": delete_queue(queues[0]),
            f"read rpc-{other}": get(f"rpc-{other}"),
        })
        if topology.publishes_events(other):
            attempts[f"publish {other}.events"] = publish(f"{other}.events", "Forged")
            attempts[f"delete {other}.events"] = delete_exchange(f"{other}.events")
            attempts[f"declare {other}.events (not passively)"] = declare_exchange(
                f"{other}.events")
    for what, op in attempts.items():
        refused(uri, service, what, op)


def test_the_operator_only_calls_the_services_operations(users):
    uri = users["operator"]
    allowed(uri, "operator", "declare its RPC reply queue",
            declare_queue(f"rpc.reply-standalone_rpc_proxy-{uuid.uuid4()}",
                          **{"x-expires": 300000}))
    for service in SERVICES:
        allowed(uri, "operator", f"call {service}.list_dead_letters",
                publish("nameko-rpc", f"{service}.list_dead_letters"))
    for what, op in {
        "call intake.some_other_method": publish("nameko-rpc", "intake.some_other_method"),
        "reply as if it were a service": publish("nameko-rpc", str(uuid.uuid4())),
        "publish gm.inbound court.referral": publish("gm.inbound", "court.referral"),
        "publish gm.outbound court.referral_accepted": publish("gm.outbound",
                                                               "court.referral_accepted"),
        "publish gm.replay": publish("gm.replay", "gm.inbound.intake"),
        "read gm.inbound.intake": get("gm.inbound.intake"),
        "read gm.parked.intake": get("gm.parked.intake"),
        "read rpc-intake": get("rpc-intake"),
        "declare a queue": declare_queue("operator-own"),
        "delete nameko-rpc's rpc-intake": delete_queue("rpc-intake"),
    }.items():
        refused(uri, "operator", what, op)


def test_provisioning_again_replaces_rights_and_drops_stale_topic_permissions(users):
    """Idempotent, and a user moved from one role to another keeps nothing of the first."""
    name, password = f"moved-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    vhost = vhost_of(users["court"])
    uri = with_user(users["court"], name, password)
    try:
        provision.provision_service(MANAGEMENT_URI, "intake", password, vhost, name)
        provision.provision_service(MANAGEMENT_URI, "intake", password, vhost, name)
        allowed(uri, "intake (again)", "publish gm.outbound court.x",
                publish("gm.outbound", "court.x"))
        provision.provision_agency(MANAGEMENT_URI, "police", password, vhost, name)
        refused(uri, "intake→police", "publish gm.outbound police.x",
                publish("gm.outbound", "police.x"))
        refused(uri, "intake→police", "publish gm.inbound court.referral",
                publish("gm.inbound", "court.referral"))
        allowed(uri, "intake→police", "publish gm.inbound police.referral",
                publish("gm.inbound", "police.referral"))
        topics = _api("GET", f"/users/{name}/topic-permissions").json()
        assert [t["exchange"] for t in topics] == ["gm.inbound"]
    finally:
        _api("DELETE", f"/users/{name}")


def test_gm_broker_provision_grants_each_kind_of_user_its_rights(users, monkeypatch):
    """The command line an operator runs: one of --agency, --service, --operator."""
    from click.testing import CliRunner

    from gm_platform.cli import main

    monkeypatch.setenv("GM_RABBIT_API", MANAGEMENT_URI)
    vhost, tag = vhost_of(users["court"]), uuid.uuid4().hex[:8]
    runner = CliRunner()
    cases = {f"reporting-{tag}": (["--service", "reporting"], topology.service_access("reporting")),
             f"operator-{tag}": (["--operator"], topology.operator_access()),
             f"petition-{tag}": (["--agency", "petition"], topology.agency_access("petition"))}
    try:
        for name, (option, access) in cases.items():
            result = runner.invoke(main, ["broker", "provision", *option, "--password", "pw",
                                          "--vhost", vhost, "--user", name])
            assert result.exit_code == 0, result.output
            [granted] = [p for p in _api("GET", f"/users/{name}/permissions").json()
                         if p["vhost"] == vhost]
            assert {k: granted[k] for k in ("configure", "write", "read")} \
                == access.permissions()
            topics = {t["exchange"]: {"write": t["write"], "read": t["read"]}
                      for t in _api("GET", f"/users/{name}/topic-permissions").json()}
            assert topics == access.topic_permissions()
        for wrong in ([], ["--service", "intake", "--operator"]):
            result = runner.invoke(main, ["broker", "provision", *wrong, "--password", "pw"])
            assert result.exit_code == 2 and "exactly one of" in result.output
    finally:
        for name in cases:
            _api("DELETE", f"/users/{name}")


def test_a_replayed_letter_goes_back_into_its_own_queue_only(users, tmp_path):
    """`gm dlq replay` of a letter a feed consumer parked, as assignment's own user: through
    gm.replay into assignment.from.intake, and into no other queue."""
    from gm_kernel import DeadLetter
    from gm_kernel.store.factory import open_store

    from gm_platform.deadletters import replay

    store = open_store(f"sqlite:///{tmp_path}/assignment.db", "assignment")
    try:
        store.park(DeadLetter(id="l-1", source="assignment.from.intake", reason="test",
                              body=b'{"n": 1}', routing_key="CaseRegistered",
                              properties={"message_id": "m-1"}))
        with Connection(users["assignment"]) as conn:  # empty its queues first
            for queue in topology.consumed_queues("assignment"):
                conn.default_channel.queue_purge(queue.name)
        assert replay(store, users["assignment"], "l-1")["id"] == "l-1"
        conn = connect(users["assignment"])
        try:
            channel = conn.channel()
            message = channel.basic_get("assignment.from.intake", no_ack=True)
            assert message is not None and message.body == b'{"n": 1}'
            assert message.properties["application_headers"]["x-gm-replay"] == "l-1"
            for other in ("assignment.from.mediation", "gm.parked.assignment"):
                assert channel.basic_get(other, no_ack=True) is None, other
        finally:
            conn.close()
        assert store.dead_letter("l-1") is None
    finally:
        store.close()


def test_a_service_binds_to_anothers_events_once_they_exist_declaring_them_only_if_allowed():
    """On a bare broker: reporting's own user waits for intake.events (it may not declare
    it); guest, under `make run`, declares it as the suite always did."""
    from gm_platform.testing.broker import broker_users

    queue = topology.events_queue("reporting", "intake")
    with private_vhost("gm-bare") as uri, \
            broker_users(uri, {"reporting": topology.service_access("reporting")}) as made:
        with Connection(made["reporting"]) as conn:
            with pytest.raises(topology.NotDeclaredYet, match="intake.events"):
                topology.declare_consumed(conn, queue)
        with Connection(uri) as conn:  # the vhost's own user, as guest under make run
            assert topology.declare_consumed(conn, queue)[1] is True
        with Connection(made["reporting"]) as conn:
            assert topology.declare_consumed(conn, queue)[1] is True
        name = f"mediation-{uuid.uuid4().hex[:8]}"
        provision.provision_service(MANAGEMENT_URI, "mediation", "pw", vhost_of(uri), name)
        try:
            exchanges = {e["name"] for e in _api(
                "GET", f"/exchanges/{vhost_of(uri)}").json()}
            assert "mediation.events" in exchanges  # provisioning a service declares it
        finally:
            _api("DELETE", f"/users/{name}")


def test_an_events_queue_bound_to_every_event_by_an_older_version_is_narrowed(amqp_uri):
    """Bindings add up: redeclaring assignment.from.mediation with its few types would
    leave the old '#' binding in place, and every event would still come."""
    from kombu import Connection, Queue, binding

    old = Queue("assignment.from.mediation", bindings=[
        binding(topology.events_exchange("mediation"), routing_key="#")], durable=True,
        queue_arguments=topology.consumed_queue_arguments("assignment"))
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        old(channel).declare()
        channel, _ = topology.declare_consumed(conn, topology.events_queue("assignment",
                                                                           "mediation"))
        producer = conn.Producer(channel)
        for key in ("MediationOpened", "CaseClosed", topology.EVENT_BATCH):
            producer.publish(b"{}", exchange="mediation.events", routing_key=key)
        queue = topology.events_queue("assignment", "mediation")(channel)
        got = []
        for _ in range(50):
            message = queue.get(no_ack=True)
            if message is None and got:
                break
            if message is None:
                time.sleep(0.05)
                continue
            got.append(message.delivery_info["routing_key"])
        assert got == ["CaseClosed"]  # a batch holds only what every queue takes
        queue.delete()
