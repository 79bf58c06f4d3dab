"""The queue consumer against the real RabbitMQ: nothing blocks a queue, nothing vanishes.

A test service consumes one queue declared like every queue the suite consumes (quorum,
delivery limit, dead-lettering to gm.parked); what its handler saw, and what was parked,
is read back from the service.
"""
from __future__ import annotations

import logging
import uuid

import amqp
import pytest
from kombu import Connection, Exchange, Queue

from gm_kernel import StoreUnavailable
from gm_platform import topology
from gm_platform.base import PlatformService
from gm_platform.consumer import Delivery, consume
from gm_platform.store_provider import find_store
from gm_platform.testing.services import service_settings, start_service
from gm_platform.testing.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

EXCHANGE = Exchange("consumertest", type="topic", durable=True)
QUEUE_NAME = "intake.from.consumertest"
SEEN: list = []
FAILURES: dict = {}


def consumed_queue() -> Queue:
    return Queue(QUEUE_NAME, EXCHANGE, routing_key="#", durable=True,
                 queue_arguments=topology.consumed_queue_arguments("intake"))


class ConsumingService(PlatformService):
    name = "intake"  # any service name the settings know

    @consume(queue=consumed_queue)
    def on_message(self, delivery: Delivery):
        SEEN.append(delivery)
        failure = FAILURES.get(delivery.body)
        if failure is not None and failure["times"] > 0:
            failure["times"] -= 1
            raise failure["error"]


@pytest.fixture
def service(tmp_path, amqp_uri):
    SEEN.clear()
    FAILURES.clear()
    svc = start_service("intake", service_settings("intake", amqp_uri, tmp_path),
                        service_cls=ConsumingService)
    yield svc
    svc.stop()


def publish_raw(amqp_uri: str, body: bytes, **properties) -> None:
    """Publish with py-amqp itself, so properties can be bytes that are not UTF-8."""
    with Connection(amqp_uri) as conn:
        channel = conn.connection.channel()  # py-amqp's own channel
        channel.basic_publish(amqp.Message(body, **properties), exchange=EXCHANGE.name,
                              routing_key="x.y")


def bodies() -> list:
    return [d.body for d in SEEN]


def test_properties_that_are_not_utf8_reach_the_handler_and_block_nothing(service, amqp_uri):
    publish_raw(amqp_uri, b"first", message_id=b"\xff\xfe", correlation_id=b"\xc3",
                content_type=b"text/\xff", application_headers={"h": b"\xff", b"k\xfe": "v"})
    publish_raw(amqp_uri, b"second", message_id="\ud800")  # a lone surrogate, CESU-8 encoded
    publish_raw(amqp_uri, b"third", message_id="ok")
    wait_until(lambda: len(SEEN) >= 3, 15, "three messages handled")
    assert bodies() == [b"first", b"second", b"third"]
    first = SEEN[0]
    assert first.message_id == "\udcff\udcfe"  # every byte kept, escaped
    assert first.properties["content_type"] == "text/\udcff"
    assert first.headers["h"] == b"\xff"
    assert SEEN[1].message_id == "\ud800"
    assert find_store(service.container).count_dead_letters() == 0


def test_a_failing_message_is_parked_storably_and_the_next_one_handled(service, amqp_uri):
    FAILURES[b"bad"] = {"times": 99, "error": ValueError("cannot handle")}
    publish_raw(amqp_uri, b"bad", message_id=b"id-\xff")
    publish_raw(amqp_uri, b"good", message_id="good")
    wait_until(lambda: b"good" in bodies(), 15, "the message behind handled")
    assert bodies().count(b"bad") == 3  # the consumer's own retries, then parked
    store = find_store(service.container)
    [letter] = store.dead_letters()
    assert letter.body == b"bad" and letter.source == QUEUE_NAME
    assert letter.reason == "handler failed 3 times: ValueError: cannot handle"
    assert letter.properties["message_id"] == "id-\\udcff"


def test_a_store_outage_returns_the_message_and_parks_nothing(service, amqp_uri):
    FAILURES[b"later"] = {"times": 2, "error": StoreUnavailable("database is locked")}
    publish_raw(amqp_uri, b"later", message_id="m1")
    try:
        wait_until(lambda: bodies().count(b"later") == 3, 30, "handled once the store answered")
    except AssertionError as exc:  # say where the message is, for the next reader
        with Connection(amqp_uri) as conn:
            _, ready, consumers = conn.default_channel.queue_declare(QUEUE_NAME, passive=True)
        raise AssertionError(f"{exc}: seen {len(SEEN)} deliveries; the queue holds {ready} "
                             f"ready message(s) and has {consumers} consumer(s)") from None
    store = find_store(service.container)
    assert store.count_dead_letters() == 0
    # the broker delivered it again (nothing was acknowledged while the store was out)
    assert [d.redelivered for d in SEEN] == [False, True, True]


def test_what_the_broker_gives_up_on_is_kept_in_the_dead_letter_store(service, amqp_uri):
    """The last line of defence: a message returned more often than the delivery limit
    (here by a client that takes it and drops its connection) is dead-lettered to
    gm.parked.<service>, and the service keeps it in its dead-letter store."""
    service.stop()  # only our client takes messages from the queue now
    publish_raw(amqp_uri, b"unlucky", message_id="m-unlucky")
    for _ in range(topology.DELIVERY_LIMIT + 1):
        with Connection(amqp_uri) as conn:
            message = wait_until(lambda: conn.default_channel.basic_get(QUEUE_NAME), 10,
                                 "the message")
            assert message.body == b"unlucky"  # taken, never acknowledged
    with Connection(amqp_uri) as conn:
        assert conn.default_channel.basic_get(QUEUE_NAME) is None  # not blocking any more
    svc = start_service("intake", service.settings, service_cls=ConsumingService)
    try:
        store = find_store(svc.container)
        wait_until(store.count_dead_letters, 15, "the parked message kept")
        [letter] = store.dead_letters()
        assert letter.body == b"unlucky" and letter.source == QUEUE_NAME
        assert letter.routing_key == "x.y"
        assert f"after more than {topology.DELIVERY_LIMIT} deliveries" in letter.reason
        assert "delivery_limit" in letter.reason
    finally:
        svc.stop()
    assert b"unlucky" not in bodies()


def test_a_queue_of_an_older_version_is_used_as_it_is(tmp_path, amqp_uri, caplog):
    """A classic queue left by a version before the delivery limit: declaring ours fails
    (other arguments), so the consumer uses the existing one and says so."""
    SEEN.clear()
    with Connection(amqp_uri) as conn:
        Queue(QUEUE_NAME, EXCHANGE, routing_key="#", durable=True)(conn.channel()).declare()
    caplog.set_level(logging.WARNING, logger="gm_platform.topology")
    svc = start_service("intake", service_settings("intake", amqp_uri, tmp_path),
                        service_cls=ConsumingService)
    try:
        publish_raw(amqp_uri, b"still handled", message_id=str(uuid.uuid4()))
        wait_until(lambda: b"still handled" in bodies(), 15, "the message handled")
        assert any("exists with other arguments" in r.getMessage() for r in caplog.records)
    finally:
        svc.stop()


class BatchAckingService(PlatformService):
    name = "intake"

    @consume(queue=consumed_queue, prefetch=40, ack_every=10)
    def on_message(self, delivery: Delivery):
        SEEN.append(delivery)


def test_a_feed_like_consumer_acknowledges_ten_at_a_time_and_when_the_queue_falls_quiet(
        tmp_path, amqp_uri, monkeypatch):
    """ack_every (the feeds' consumers): one `multiple` acknowledgement per ten handled
    messages, and the rest once nothing more comes; none is left to be delivered again."""
    from kombu.message import Message

    SEEN.clear()
    acks = []
    real_ack = Message.ack
    monkeypatch.setattr(Message, "ack", lambda self, multiple=False: (
        acks.append(multiple), real_ack(self, multiple=multiple)))
    with Connection(amqp_uri) as conn:
        consumed_queue()(conn.default_channel).declare()
        producer = conn.Producer()
        for i in range(25):  # waiting before the consumer starts: delivered back to back
            producer.publish(f"m{i}".encode(), exchange=EXCHANGE, routing_key="x.y")
    svc = start_service("intake", service_settings("intake", amqp_uri, tmp_path),
                        service_cls=BatchAckingService)
    try:
        wait_until(lambda: len(SEEN) == 25 and len(acks) == 3, 15,
                   "25 handled and acknowledged in three frames")
        assert acks == [True, True, True]  # 10, 20, and the last 5 once the queue was quiet
    finally:
        svc.stop()
    with Connection(amqp_uri) as conn:
        _, ready, _ = conn.default_channel.queue_declare(QUEUE_NAME, passive=True)
    assert ready == 0 and len(SEEN) == 25  # nothing returned to the queue
