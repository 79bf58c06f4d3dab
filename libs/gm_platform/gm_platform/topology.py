"""The public broker topology of CONTRACT.md §1, and the suite's own queues on it.

Queues the suite consumes (`gm.inbound.<service>`, `<consumer>.from.<source>`) are quorum
queues with a delivery limit: a message the broker has handed out DELIVERY_LIMIT + 1
times without an outcome (a consumer that keeps dying on it, a frame no client can read)
is dead-lettered to `gm.parked` and lands in its owner's parking queue
`gm.parked.<service>`, which that service moves into its dead-letter store. So no message
can block a queue, and none vanishes (at-least-once dead-lettering). The consumers park a
bad message themselves long before that: this is the last line of defence.
`deploy/rabbitmq/definitions.json` declares the same queues with the same arguments.

The agencies' inboxes `gm.outbound.<agency>` take the virtual host's default queue type
(quorum in deploy/, classic on a bare broker), so an agency client that declares its
inbox the plain way (as kombu does by default) agrees with ours.
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple

from amqp.exceptions import PreconditionFailed
from kombu import Exchange, Queue, binding

log = logging.getLogger(__name__)

from gm_contracts.vocabulary import AGENCIES  # noqa: E402

INBOUND = Exchange("gm.inbound", type="topic", durable=True)
OUTBOUND = Exchange("gm.outbound", type="topic", durable=True)
#: Where the broker dead-letters what a consumed queue could not deliver; routing key =
#: the service that owns the queue.
PARKED = Exchange("gm.parked", type="direct", durable=True)

#: Deliveries a consumed queue allows a message beyond the first before parking it. Every
#: consumer crash, lost connection or store outage returns what it held (+1 each), so
#: this is high enough that a valid message never reaches it by bad luck.
DELIVERY_LIMIT = 20

#: Whose domain events each service consumes (`<consumer>.from.<source>`); mediation
#: also follows its own, as the process manager of its two-stream steps.
SUBSCRIPTIONS = {
    "assignment": ("intake", "mediation"),
    "mediation": ("intake", "assignment", "mediation"),
    "reporting": ("intake", "assignment", "mediation"),
}

#: Logs a service follows by its periodic catch-up only, without a queue: intake's own,
#: for its process manager (a high risk assessment → its preventive case, also made when
#: the process stopped between the two), which has nothing to hurry — and a queue would
#: carry every registration back to it.
CATCH_UP_ONLY = {
    "intake": ("intake",),
}


def followed_logs(service: str) -> Tuple[str, ...]:
    """Every log `service` follows (its feeds): by queue and by catch-up only."""
    return (*SUBSCRIPTIONS.get(service, ()), *CATCH_UP_ONLY.get(service, ()))


# Replies about hand-offs go to mediation; everything else on gm.inbound to intake.
# Topic '*' is exactly one word, so these match two-word keys only; intake skips the same.
MEDIATION_INBOUND_TYPES = ("handoff_reply", "confirmation_ruling")


def consumed_queue_arguments(owner: str) -> dict:
    """Arguments of every queue a service consumes (see the module docstring)."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": PARKED.name,
        "x-dead-letter-routing-key": owner,
        # at-least-once: the broker keeps a message until the parking queue confirms it
        # (needs reject-publish overflow; no length limit is set, so it never rejects).
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def agency_inbox(agency: str) -> Queue:
    """`gm.outbound.<agency>`: holds the suite's messages while the agency is offline."""
    return Queue(f"gm.outbound.{agency}", OUTBOUND, routing_key=f"{agency}.#", durable=True)


def events_exchange(service: str) -> Exchange:
    """Same declaration as Nameko's event dispatcher, so Nameko handlers can listen too."""
    return Exchange(f"{service}.events", type="topic", durable=True)


def intake_inbound_queue() -> Queue:
    return Queue("gm.inbound.intake", INBOUND, routing_key="#", durable=True,
                 queue_arguments=consumed_queue_arguments("intake"))


def mediation_inbound_queue() -> Queue:
    return Queue(
        "gm.inbound.mediation",
        bindings=[binding(INBOUND, routing_key=f"*.{t}") for t in MEDIATION_INBOUND_TYPES],
        durable=True,
        queue_arguments=consumed_queue_arguments("mediation"),
    )


def is_for_mediation(routing_key: str) -> bool:
    words = routing_key.split(".")
    return len(words) == 2 and words[1] in MEDIATION_INBOUND_TYPES


def inbound_owner(routing_key: str) -> str:
    """The service that answers an agency message with this routing key."""
    return "mediation" if is_for_mediation(routing_key) else "intake"


def inbound_queue(service: str) -> Optional[Queue]:
    """`gm.inbound.<service>` for the services agencies write to; None for the others."""
    queue = {"intake": intake_inbound_queue, "mediation": mediation_inbound_queue}.get(service)
    return queue() if queue else None


def events_queue(consumer: str, source: str) -> Queue:
    """One durable queue per (consuming service, source service), bound to all its events."""
    return Queue(f"{consumer}.from.{source}", events_exchange(source), routing_key="#",
                 durable=True, queue_arguments=consumed_queue_arguments(consumer))


def parking_queue(service: str) -> Queue:
    """`gm.parked.<service>`: what the broker gave up delivering from `service`'s queues.
    No delivery limit: it is the end of the line, drained into the dead-letter store."""
    return Queue(f"gm.parked.{service}", PARKED, routing_key=service, durable=True,
                 queue_arguments={"x-queue-type": "quorum"})


def consumed_queues(service: str) -> list:
    """Every queue `service` consumes, as it declares them."""
    inbound = inbound_queue(service)
    return (([inbound] if inbound else [])
            + [events_queue(service, source) for source in SUBSCRIPTIONS.get(service, ())]
            + [parking_queue(service)])


def suite_queues() -> list:
    """Every queue the suite declares: the agencies' inboxes and what each service consumes
    (deploy/rabbitmq/definitions.json declares the same; tests/deploy compares them)."""
    from .config import SERVICES

    return [agency_inbox(a) for a in AGENCIES] + [
        q for service in SERVICES for q in consumed_queues(service)]


def declare_public(channel) -> None:
    """Declare gm.inbound, gm.outbound and every agency inbox (idempotent)."""
    INBOUND(channel).declare()
    OUTBOUND(channel).declare()
    for agency in AGENCIES:
        agency_inbox(agency)(channel).declare()


def declare_consumed(connection, queue: Queue) -> Tuple[object, bool]:
    """Declare a queue this service consumes, with its bindings; return (channel, True).

    A queue that already exists with other arguments (a classic queue made by an older
    version, before the delivery limit) is used as it is: (channel, False), with a
    warning naming the migration. The broker closes a channel that declared a queue with
    different arguments, so the channel returned may be a new one.
    """
    channel = connection.channel()
    declared = queue(channel)
    try:
        declared.declare()
        return channel, True
    except PreconditionFailed as exc:
        log.warning("queue %s exists with other arguments (%s); using it as it is, without "
                    "the delivery limit: see docs/operations.md, 'Queues from an older "
                    "version'", queue.name, exc)
    channel = connection.channel()
    declared = queue(channel)
    declared.queue_declare(passive=True)  # as it is: only its bindings are (re)made
    if declared.exchange and declared.exchange.name:
        declared.exchange.declare()
        declared.queue_bind()
    for b in declared.bindings:
        b.declare(channel)
        b.bind(declared)
    return channel, False
