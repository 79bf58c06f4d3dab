"""The outbox relay against the real RabbitMQ: broker outages and crashes lose nothing.

The consumer is a plain kombu client on its own queue bound to `svc.events` with '#',
declared before anything is published, reading with basic_get (bounded polling).
"""
from __future__ import annotations

import functools
import json
import threading
import time
import uuid

import pytest
from kombu import Connection, Exchange, Queue

from gm_kernel import NewEvent, OutboxMessage
from gm_kernel.store.factory import open_store
from gm_platform.relay import EVENT_BATCH, EVENT_BATCH_BYTES, OutboxRelay
from gm_platform.testing.proxy import TcpProxy
from gm_platform.testing import wait

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

SERVICE = "svc"
WAIT = 30.0  # upper bound for anything we wait for; normally it takes well under a second


wait_until = functools.partial(wait.wait_until, timeout=WAIT, interval=0.05)


class Listener:
    """A queue bound to every event of `svc.events`, read with basic_get."""

    def __init__(self, amqp_uri: str):
        self.conn = Connection(amqp_uri, connect_timeout=5)
        self.conn.connect()
        self.channel = self.conn.channel()
        exchange = Exchange(f"{SERVICE}.events", type="topic", durable=True)
        self.queue = Queue(f"test-listener-{uuid.uuid4().hex[:8]}", exchange, routing_key="#",
                           durable=False)(self.channel)
        self.queue.declare()  # declares the exchange too, so nothing published is unrouted
        self.messages: list = []

    def get(self):
        return self.queue.get(no_ack=True)

    def receive(self, n: int, timeout: float = WAIT) -> list:
        """The next `n` events, each as its own message would show it (`Event`), whether
        the relay sent it alone or in a batch (`self.messages` keeps what came)."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            msg = self.get()
            if msg is None:
                time.sleep(0.05)
            else:
                self.messages.append(msg)
                got += Event.of(msg)
        assert len(got) == n, f"received {len(got)} of {n} events within {timeout:.0f}s"
        return got

    def assert_empty(self) -> None:
        msg = self.get()
        assert msg is None, f"unexpected extra message {msg and msg.properties}"

    def close(self) -> None:
        try:
            self.queue.delete()
        except Exception:
            pass
        self.conn.release()


class Event:
    """One event received: its body, and the message id and routing key it would have had
    alone (a batch's events are unpacked: `batch` is the message that carried them)."""

    def __init__(self, body: bytes, message_id: str, routing_key: str, batch=None):
        self.body, self.batch = body, batch
        self.properties = {"message_id": message_id}
        self.delivery_info = {"routing_key": routing_key}

    @classmethod
    def of(cls, msg) -> list:
        decoded = json.loads(msg.body)
        if isinstance(decoded, dict):
            return [cls(msg.body, msg.properties["message_id"],
                        msg.delivery_info["routing_key"])]
        assert msg.delivery_info["routing_key"] == EVENT_BATCH
        assert msg.properties["message_id"] == f"{decoded[0]['id']}+{len(decoded) - 1}"
        return [cls(json.dumps(e).encode(), e["id"], e["type"], batch=msg) for e in decoded]


def body(msg) -> dict:
    return json.loads(msg.body)


def append_events(store, stream: str, n: int) -> list:
    recorded = []
    for i in range(n):
        recorded += store.append(stream, store.stream_version(stream),
                                 [NewEvent(type="ThingHappened", data={"i": i})])
    return recorded


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'svc.db'}", SERVICE)  # tmp_path is absolute: 4 slashes
    yield s
    s.close()


@pytest.fixture
def listener(amqp_uri):
    lst = Listener(amqp_uri)
    yield lst
    lst.close()


@pytest.fixture
def proxy():
    with TcpProxy() as p:
        yield p


class CountingRelay(OutboxRelay):
    """An OutboxRelay that counts failed passes, so a test can see it tried and failed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = 0

    def publish_pending(self) -> int:
        try:
            return super().publish_pending()
        except Exception:
            self.failures += 1
            raise


def test_events_appended_while_the_broker_is_unreachable_are_published_once_it_is_back(
        store, listener, proxy, amqp_uri):
    relay = CountingRelay(store, proxy.uri_for(amqp_uri), idle_wait=0.1)
    runner = threading.Thread(target=relay.run, name="relay", daemon=True)
    runner.start()
    try:
        # Warm up: the relay holds a live connection through the proxy before the outage.
        [first] = append_events(store, "thing-1", 1)
        relay.wake()
        [msg] = listener.receive(1)
        assert msg.properties["message_id"] == first.id
        wait_until(lambda: store.outbox_backlog() == 0, what="warm-up marked sent")
        assert relay.connected

        proxy.cut()
        failures_before = relay.failures
        n = 7
        during = append_events(store, "thing-1", n)
        relay.wake()
        # It tries (the dead connection, then reconnecting) and fails, more than once.
        wait_until(lambda: relay.failures >= failures_before + 2, what="relay to fail twice")
        assert proxy.refused >= 1  # it did try to reconnect while the broker was unreachable
        assert not relay.connected
        assert store.outbox_backlog() == n
        listener.assert_empty()

        proxy.restore()
        relay.wake()
        got = listener.receive(n)
        wait_until(lambda: store.outbox_backlog() == 0, what="backlog to drain")
        assert [m.properties["message_id"] for m in got] == [e.id for e in during]
        assert [body(m)["position"] for m in got] == [e.position for e in during]
        assert [body(m)["id"] for m in got] == [e.id for e in during]
        assert all(m.delivery_info["routing_key"] == "ThingHappened" for m in got)
    finally:
        relay.stop()
        runner.join(timeout=15)
        relay.close()
    assert not runner.is_alive(), "relay.run() did not return after stop()"
    listener.assert_empty()  # all confirmed and routed before backlog hit 0: nothing more


def test_a_relay_crashing_between_publish_and_mark_sent_duplicates_but_loses_nothing(
        store, listener, amqp_uri, monkeypatch):
    n = 5
    events = append_events(store, "thing-2", n)

    real_mark_sent = store.mark_sent
    calls = []

    def crash_once(ids):
        calls.append(list(ids))
        if len(calls) == 1:
            raise RuntimeError("relay process died before marking sent")
        return real_mark_sent(ids)

    monkeypatch.setattr(store, "mark_sent", crash_once)

    crashed = OutboxRelay(store, amqp_uri)
    try:
        with pytest.raises(RuntimeError, match="died"):
            crashed.publish_pending()
    finally:
        crashed.close()
    assert len(calls[0]) == n  # everything was published (and confirmed) before the crash
    assert store.outbox_backlog() == n  # ... but nothing is marked sent
    first = listener.receive(n)

    restarted = OutboxRelay(store, amqp_uri)
    try:
        assert restarted.publish_pending() == n  # re-sends all of it
        assert restarted.publish_pending() == 0
    finally:
        restarted.close()
    assert store.outbox_backlog() == 0
    second = listener.receive(n)
    listener.assert_empty()

    ids = [e.id for e in events]
    assert [m.properties["message_id"] for m in first] == ids
    assert [m.properties["message_id"] for m in second] == ids  # duplicates, same message id
    for m in first + second:
        assert m.properties["message_id"] == body(m)["id"]

    # A consumer deduplicating by message id sees every event exactly once, in order.
    seen, delivered = set(), []
    for m in first + second:
        mid = m.properties["message_id"]
        if mid not in seen:
            seen.add(mid)
            delivered.append(body(m))
    assert [d["id"] for d in delivered] == ids
    assert [d["position"] for d in delivered] == [e.position for e in events]


def test_events_committed_before_an_upgrade_are_published_in_their_current_schema(
        store, listener, amqp_uri):
    """Upcasters registered after the commit (a new release) apply to what the relay
    publishes, so broker and log (read_log) give consumers the same shape."""
    [old] = append_events(store, "s-1", 1)

    @store.upcasters.register("ThingHappened", 1)
    def add_unit(data):
        return {**data, "unit": "410611"}

    relay = OutboxRelay(store, amqp_uri)
    try:
        assert relay.publish_pending() == 1
    finally:
        relay.close()
    [msg] = listener.receive(1)
    published = body(msg)
    assert published["schema_version"] == 2 and published["data"] == {"i": 0, "unit": "410611"}
    assert published == store.read_log()[0].to_dict()
    assert published["id"] == old.id == msg.properties["message_id"]


def test_two_replicas_relays_publish_each_message_once_and_one_takes_over(
        tmp_path, listener, amqp_uri):
    """Two replicas share one store: one relay holds the lease and publishes; the other
    stands by, and publishes once the first is gone (its lease given up or expired)."""
    path = f"sqlite:///{tmp_path / 'svc.db'}"
    stores = [open_store(path, SERVICE), open_store(path, SERVICE)]
    relays = [OutboxRelay(s, amqp_uri, idle_wait=0.05, lease_ttl=1.0, holder=f"replica-{i}")
              for i, s in enumerate(stores)]
    runners = [threading.Thread(target=r.run, daemon=True) for r in relays]
    try:
        for runner in runners:
            runner.start()
        first = append_events(stores[0], "thing-1", 20) + append_events(stores[1], "thing-2", 20)
        got = listener.receive(40)
        assert sorted(m.properties["message_id"] for m in got) == sorted(e.id for e in first)
        time.sleep(0.5)
        listener.assert_empty()  # nobody published anything twice
        assert sorted(r.leading for r in relays) == [False, True]
        leader = next(r for r in relays if r.leading)
        other = next(r for r in relays if not r.leading)
        # The leader dies without a word (its lease expires) ...
        leader.stop()
        runners[relays.index(leader)].join(timeout=5)
        leader._disconnect()  # like a killed process: the lease is not given up
        later = append_events(stores[0], "thing-1", 5)
        got = listener.receive(5, timeout=10)  # ... and the other takes over
        assert sorted(m.properties["message_id"] for m in got) == sorted(e.id for e in later)
        assert other.leading
    finally:
        for relay in relays:
            relay.stop()
        for runner in runners:
            runner.join(timeout=5)
        for relay, s in zip(relays, stores):
            relay.close()
            s.close()


def test_a_batch_is_confirmed_in_one_wait_and_marked_sent_in_order(store, listener, amqp_uri,
                                                                   monkeypatch):
    events = append_events(store, "thing-batch", 50)
    # A message that is not a domain event (as an agency's answer) goes alone, and cuts
    # the run of events.
    store.append(None, None, outbox=[OutboxMessage(exchange="test.elsewhere", routing_key="n",
                                                   body={"note": 1}, message_id="note-1")])
    more = append_events(store, "thing-batch", 3)
    relay = OutboxRelay(store, amqp_uri, batch_size=200)
    waits = []
    real_wait = relay._await_confirms
    monkeypatch.setattr(relay, "_await_confirms", lambda tags: (waits.append(len(tags)),
                                                                real_wait(tags)))
    try:
        assert relay.publish_pending() == 54
    finally:
        relay.close()
    assert waits == [3]  # published back to back, confirms awaited once
    assert store.outbox_backlog() == 0
    got = listener.receive(53)
    assert [m.properties["message_id"] for m in got] == [e.id for e in events + more]
    # The events went as two batches in log order (the other message between them).
    assert [len(json.loads(m.body)) for m in listener.messages] == [50, 3]
    assert [body(m)["position"] for m in got if m.batch is not None] == [
        e.position for e in events + more]


def test_a_batch_stays_under_its_byte_budget_and_a_lone_event_goes_as_itself(
        store, listener, amqp_uri):
    big = "x" * (EVENT_BATCH_BYTES // 5)
    events = []
    for i in range(12):
        events += store.append(f"big-{i}", 0, [NewEvent(type="ThingHappened",
                                                        data={"i": i, "text": big})])
    relay = OutboxRelay(store, amqp_uri)
    try:
        assert relay.publish_pending() == 12
        [alone] = append_events(store, "thing-alone", 1)
        assert relay.publish_pending() == 1
    finally:
        relay.close()
    got = listener.receive(13)
    assert [m.properties["message_id"] for m in got] == [e.id for e in events] + [alone.id]
    sizes = [len(m.body) for m in listener.messages]
    assert len(listener.messages) == 4 and max(sizes[:-1]) <= EVENT_BATCH_BYTES
    last = listener.messages[-1]  # alone: the event itself, under its type and id
    assert last.delivery_info["routing_key"] == "ThingHappened"
    assert last.properties["message_id"] == alone.id == body(last)["id"]


def test_what_the_broker_does_not_confirm_in_time_stays_pending(store, listener, amqp_uri,
                                                                 monkeypatch):
    """Confirms lost (here: ignored) until the timeout: nothing is marked sent, and the
    next relay publishes all of it again under the same message ids."""
    from gm_platform.relay import ConfirmTimeout

    events = append_events(store, "thing-unconfirmed", 5)
    relay = OutboxRelay(store, amqp_uri, confirm_timeout=1.0)
    monkeypatch.setattr(relay, "_on_confirm", lambda into, tag, multiple: None)
    # (the channel binds its callbacks when it connects, after the patch)
    try:
        with pytest.raises(ConfirmTimeout):
            relay.publish_pending()
    finally:
        relay.close()
    assert store.outbox_backlog() == 5
    first = listener.receive(5)

    again = OutboxRelay(store, amqp_uri)
    try:
        assert again.publish_pending() == 5
    finally:
        again.close()
    assert store.outbox_backlog() == 0
    second = listener.receive(5)
    ids = [e.id for e in events]
    assert [m.properties["message_id"] for m in first] == ids
    assert [m.properties["message_id"] for m in second] == ids


def test_a_type_some_queue_is_bound_to_by_name_goes_alone(tmp_path, amqp_uri):
    """assignment.from.mediation takes only the types assignment acts on
    (topology.BROKER_INTERESTS): a batch goes only where every event goes, so those types
    never travel in one."""
    store = open_store(f"sqlite:///{tmp_path / 'mediation.db'}", "mediation")
    conn = Connection(amqp_uri, connect_timeout=5)
    channel = conn.channel()
    queue = Queue(f"test-listener-{uuid.uuid4().hex[:8]}",
                  Exchange("mediation.events", type="topic", durable=True), routing_key="#",
                  durable=False)(channel)
    queue.declare()
    try:
        recorded = store.append("case-1", 0, [NewEvent(t, {}) for t in (
            "MediationOpened", "SessionHeld", "MediatorAssigned", "AgreementReached")])
        relay = OutboxRelay(store, amqp_uri)
        try:
            assert relay.publish_pending() == 4
        finally:
            relay.close()
        got = []
        wait_until(lambda: (got.append(queue.get(no_ack=True)) or len(
            [m for m in got if m is not None]) == 3), what="three messages")
        messages = [m for m in got if m is not None]
        assert [m.delivery_info["routing_key"] for m in messages] == [
            "MediationOpened", "SessionHeld", EVENT_BATCH]
        assert [e["id"] for e in json.loads(messages[2].body)] == [e.id for e in recorded[2:]]
    finally:
        queue.delete()
        conn.release()
        store.close()
