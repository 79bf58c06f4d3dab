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

Who declares what (so that each service's broker user may do only that, `service_access`
below): a service declares the exchanges it publishes to and the queues it consumes; an
exchange another service publishes to it only binds to, declaring it passively. Where it
is not there yet (a bare broker: the deploy definitions and `gm broker provision` make
it), the service declares it itself if its user may (guest under `make run`), or waits
until that service has started.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from amqp.exceptions import AccessRefused, NotFound, PreconditionFailed
from kombu import Exchange, Queue, binding

log = logging.getLogger(__name__)

from gm_contracts.vocabulary import AGENCIES  # noqa: E402

INBOUND = Exchange("gm.inbound", type="topic", durable=True)
OUTBOUND = Exchange("gm.outbound", type="topic", durable=True)
#: Where the broker dead-letters what a consumed queue could not deliver; routing key =
#: the service that owns the queue.
PARKED = Exchange("gm.parked", type="direct", durable=True)

#: Where `gm dlq replay` puts a parked message back into the queue it came from: every
#: queue a service consumes is bound to it under its own name. A topic exchange, so topic
#: permissions keep each service to its own queues (the default exchange would reach any
#: queue, an agency's inbox included).
REPLAY = Exchange("gm.replay", type="topic", durable=True)
#: Nameko's RPC exchange (its default name): `rpc-<service>` queues bound `<service>.*`,
#: replies routed to the caller's reply queue by a uuid.
RPC = Exchange("nameko-rpc", type="topic", durable=True)

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


def events_exchange(service: str, passive: bool = False) -> Exchange:
    """Same declaration as Nameko's event dispatcher, so Nameko handlers can listen too.
    `passive`: as a consumer of another service's events, which only checks it exists."""
    return Exchange(f"{service}.events", type="topic", durable=True, passive=passive)


def _consumed(name: str, owner: str, *bindings) -> Queue:
    """A queue `owner` consumes: its bindings, plus gm.replay under its own name."""
    return Queue(name, bindings=[*bindings, binding(REPLAY, routing_key=name)], durable=True,
                 queue_arguments=consumed_queue_arguments(owner))


def intake_inbound_queue() -> Queue:
    return _consumed("gm.inbound.intake", "intake", binding(INBOUND, routing_key="#"))


def mediation_inbound_queue() -> Queue:
    return _consumed("gm.inbound.mediation", "mediation",
                     *(binding(INBOUND, routing_key=f"*.{t}") for t in MEDIATION_INBOUND_TYPES))


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


#: Routing key of a message carrying several domain events (a JSON array in log order,
#: gm_platform.relay): only events no queue is bound to by type (`batched`).
EVENT_BATCH = "batch"

#: Where a consumer acts on only a few of a source's event types, its queue is bound to
#: those, not to every event: the broker rings for what matters here and the feed reads
#: everything between from the source's log — a gap, filled in the background
#: (gm_platform.feed), as the log is the truth and the broker only says "something new";
#: the periodic catch-up reads the rest. The same events are applied in the same order,
#: and the broker and the consumer handle far fewer messages (mediation's own events were
#: four in eleven of its deliveries). The relay sends these types alone, never in a
#: batch. Equal to the handlers' tables (tests/test_topology_interests.py).
BROKER_INTERESTS: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ("assignment", "mediation"): ("CaseClosed", "PetitionAccepted", "SessionHeld"),
    ("mediation", "mediation"): ("ConfirmationRequested", "ConfirmationRuled",
                                 "HandOffAccepted", "HandOffRejected", "MediationFailed"),
}


def event_binding_keys(consumer: str, source: str) -> Tuple[str, ...]:
    """The routing keys `<consumer>.from.<source>` is bound to on `<source>.events`."""
    return BROKER_INTERESTS.get((consumer, source), ("#",))


def batched(source: str, event_type: str) -> bool:
    """Whether the relay may send `source`'s events of this type in a batch: no queue is
    bound to the type by name (a batch goes only where every event goes)."""
    return not any(event_type in types for (_, s), types in BROKER_INTERESTS.items()
                   if s == source)


def events_queue(consumer: str, source: str) -> Queue:
    """One durable queue per (consuming service, source service), bound to the source's
    events: all of them, or those the consumer acts on (BROKER_INTERESTS)."""
    exchange = events_exchange(source, passive=source != consumer)
    return _consumed(f"{consumer}.from.{source}", consumer,
                     *(binding(exchange, routing_key=k)
                       for k in event_binding_keys(consumer, source)))


def unbind_stale(channel, queue: Queue) -> None:
    """Remove the every-event binding an older version made, from a queue now bound to
    some types only (BROKER_INTERESTS): bindings add up, redeclaring removes none."""
    for (consumer, source) in BROKER_INTERESTS:
        if queue.name == f"{consumer}.from.{source}":
            channel.queue_unbind(queue=queue.name, exchange=events_exchange(source).name,
                                 routing_key="#")


def parking_queue(service: str) -> Queue:
    """`gm.parked.<service>`: what the broker gave up delivering from `service`'s queues.
    No delivery limit: it is the end of the line, drained into the dead-letter store."""
    name = f"gm.parked.{service}"
    return Queue(name, bindings=[binding(PARKED, routing_key=service),
                                 binding(REPLAY, routing_key=name)],
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


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


def answers_agencies(service: str) -> bool:
    """Whether agencies write to `service` (gm.inbound) and it answers them (gm.outbound)."""
    return inbound_queue(service) is not None


def publishes_events(service: str) -> bool:
    """Whether other services (or itself) follow `service`'s events from the broker."""
    return any(service in sources for sources in SUBSCRIPTIONS.values())


def callees(service: str) -> Tuple[str, ...]:
    """The services whose logs `service` reads over RPC (its feeds' catch-up)."""
    return tuple(s for s in followed_logs(service) if s != service)


def declare_owned(channel, service: str) -> None:
    """At start (and on every reconnection): the exchanges `service` publishes to, and for
    a service agencies talk to, the public topology with the agencies' inboxes (CONTRACT.md
    §1: declared by the suite at start-up), so that another service binding to them
    passively, or an agency consuming its inbox, finds them."""
    if publishes_events(service):
        events_exchange(service)(channel).declare()
    if answers_agencies(service):
        declare_public(channel)


# -- broker users: what each one may do -----------------------------------------------------

#: Nameko's standalone RPC proxy (the feeds' catch-up, `gm`) replies to a queue of this
#: name, routed by the uuid that ends it.
RPC_REPLY_QUEUES = r"rpc\.reply-standalone_rpc_proxy-[0-9a-f-]{36}"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: What the operator's `gm` calls over RPC; services call each other's `read_log` and
#: `last_position` only (the feeds' catch-up, `gm projections`).
OPERATOR_RPC = ("list_dead_letters", "replay_dead_letter", "read_log", "last_position",
                "verify_chain", "verify_case", "erase_person")  # gm dlq, audit, privacy
LOG_RPC = ("read_log", "last_position", "verify_case")  # verify_case: ?verify=true
#: Calls a service makes from inside a worker (Nameko's RpcProxy, its own reply queue
#: `rpc.reply-<service>-<uuid>`): reporting forwards a petitioner's rating to mediation.
SERVICE_RPC = {"reporting": {"mediation": ("rate_case",)}}


def _service_reply_queues(service: str) -> str:
    return rf"rpc\.reply-{re.escape(service)}-[0-9a-f-]{{36}}"


@dataclass(frozen=True)
class Access:
    """What one broker user does on the virtual host, as regular expressions of resource
    names (RabbitMQ's configure / write / read permissions, CONTRACT.md §1) and of routing
    keys per topic exchange (topic permissions).

    configure: the exchanges and queues it declares; write: the exchanges it publishes to
    (and a queue's dead-letter exchange), the queues it binds; read: the queues it
    consumes, the exchanges it binds them to. topic_write: per topic exchange, the routing
    keys it publishes under; topic_read: the binding keys it binds its queues with (RabbitMQ
    checks those on queue.bind). A topic exchange named in neither is open to the user
    (RabbitMQ's default), so each one it writes to or binds from is named."""
    configure: Tuple[str, ...]
    write: Tuple[str, ...]
    read: Tuple[str, ...]
    topic_write: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    topic_read: Dict[str, Tuple[str, ...]] = field(default_factory=dict)

    def permissions(self) -> dict:
        return {"configure": _any_of(self.configure), "write": _any_of(self.write),
                "read": _any_of(self.read)}

    def topic_permissions(self) -> Dict[str, dict]:
        """Per topic exchange: {"write": regex, "read": regex} ('^$': none)."""
        return {exchange: {"write": _any_of(self.topic_write.get(exchange, ())),
                           "read": _any_of(self.topic_read.get(exchange, ()))}
                for exchange in sorted({*self.topic_write, *self.topic_read})}


def _any_of(patterns) -> str:
    """One anchored regular expression matching exactly the given ones ('^$': nothing);
    sorted, so that it reads the same whatever order they came in."""
    return f"^({'|'.join(sorted(set(patterns)))})$" if patterns else "^$"


def _names(*names: str) -> Tuple[str, ...]:
    return tuple(re.escape(n) for n in names)


def _agency_keys(*agencies: str) -> Tuple[str, ...]:
    """Routing keys `<agency>.<anything>` of the given agencies (all by default)."""
    return tuple(rf"{re.escape(a)}\..*" for a in agencies or AGENCIES)


def _rpc_keys(services, methods) -> Tuple[str, ...]:
    return tuple(rf"{re.escape(s)}\.{re.escape(m)}" for s in services for m in methods)


def service_access(service: str) -> Access:
    """The broker rights `service` needs, read off what it declares, publishes and consumes
    (gm_platform.consumer, relay, deadletters, Nameko's RPC): nothing more."""
    queues = [q.name for q in consumed_queues(service)]
    rpc_queue = f"rpc-{service}"
    calls = callees(service)
    facing = answers_agencies(service)
    inboxes = [agency_inbox(a).name for a in AGENCIES] if facing else []
    # exchanges it declares and publishes to: RPC replies (and requests), replays into its
    # own queues, gm.parked as its queues' dead-letter exchange, its events, the answers
    own_exchanges = [RPC.name, REPLAY.name, PARKED.name,
                     *([events_exchange(service).name] if publishes_events(service) else []),
                     *([INBOUND.name, OUTBOUND.name] if facing else [])]
    inner_calls = SERVICE_RPC.get(service, {})
    reply_queues = ((RPC_REPLY_QUEUES,) if calls else ()) + (
        (_service_reply_queues(service),) if inner_calls else ())
    declared_queues = _names(*queues, rpc_queue, *inboxes) + reply_queues
    # exchanges it binds its queues to; others' events exchanges only passively
    bound_from = [RPC.name, REPLAY.name, PARKED.name,
                  *(events_exchange(s).name for s in SUBSCRIPTIONS.get(service, ())),
                  *([INBOUND.name, OUTBOUND.name] if facing else [])]
    topic_write = {RPC.name: _rpc_keys(calls, LOG_RPC) + tuple(
                       k for callee, methods in inner_calls.items()
                       for k in _rpc_keys((callee,), methods)) + (_UUID,),
                   REPLAY.name: _names(*queues)}
    # binding keys: its RPC queue and reply queues, its queues' replay bindings, and for a
    # service agencies talk to its gm.inbound queue and the agencies' inboxes
    topic_read = {RPC.name: (rf"{re.escape(service)}\.\*",)
                  + ((_UUID,) if calls or inner_calls else ()),
                  REPLAY.name: _names(*queues)}
    if facing:  # answers to agencies; replays of agencies' messages, under their keys
        topic_write[OUTBOUND.name] = topic_write[INBOUND.name] = _agency_keys()
        topic_read[OUTBOUND.name] = _names(*(agency_inbox(a).routing_key for a in AGENCIES))
        topic_read[INBOUND.name] = _names(*dict.fromkeys(
            b.routing_key for b in inbound_queue(service).bindings if b.exchange == INBOUND))
    return Access(
        configure=_names(*own_exchanges) + declared_queues,
        write=_names(*own_exchanges) + declared_queues,
        read=_names(*dict.fromkeys(bound_from), *queues, rpc_queue) + reply_queues,
        topic_write=topic_write, topic_read=topic_read,
    )


def operator_access() -> Access:
    """The operator's `gm` (dlq list and replay, projections): RPC calls to the services,
    through a reply queue of its own. It declares, reads and publishes nothing else."""
    from .config import SERVICES

    return Access(configure=_names(RPC.name) + (RPC_REPLY_QUEUES,),
                  write=_names(RPC.name) + (RPC_REPLY_QUEUES,),
                  read=_names(RPC.name) + (RPC_REPLY_QUEUES,),
                  topic_write={RPC.name: _rpc_keys(SERVICES, OPERATOR_RPC)},
                  topic_read={RPC.name: (_UUID,)})


def agency_access(agency: str) -> Access:
    """CONTRACT.md §1: publish only to gm.inbound under `<agency>.`, consume only its inbox,
    configure nothing."""
    if agency not in AGENCIES:
        raise ValueError(f"unknown agency {agency!r}")
    return Access(configure=(), write=_names(INBOUND.name),
                  read=_names(agency_inbox(agency).name),
                  topic_write={INBOUND.name: _agency_keys(agency)})


class NotDeclaredYet(Exception):
    """An exchange another service declares (its events) is not there yet, and this user
    may not declare it: the consumer looks again until that service has started."""


def _declare_followed(connection, queue: Queue) -> None:
    for b in queue.bindings:
        if b.exchange.passive:
            exchange = Exchange(b.exchange.name, type=b.exchange.type, durable=True)
            try:
                exchange(connection.channel()).declare()
            except AccessRefused:
                raise NotDeclaredYet(f"exchange {b.exchange.name} is declared by its "
                                     f"service when it starts") from None


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
        unbind_stale(channel, queue)
        return channel, True
    except NotFound:
        # Another service's events exchange, bound passively, is not there yet: declared
        # here where this user may (guest under `make run`, as before), else awaited.
        _declare_followed(connection, queue)
        return declare_consumed(connection, queue)
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
    unbind_stale(channel, queue)
    return channel, False
