"""Answering agencies (CONTRACT.md §2–4, §7): every inbound message gets exactly one kind
of answer, recorded with its idempotency key so that a re-sent message gets the same
answer (in a new envelope: every message the suite sends has a new `id`).

A message the broker delivers again (after a crash, or a retry of ours) finds its key
recorded and is not answered again: the answer is in the outbox of the commit that
recorded the key, and the relay publishes it whatever happens — if that happens twice
(a crash between publishing and marking it sent), with the same envelope `id`, so the
agency can drop the copy. Only an agency re-sending its message is answered once more.
"""
from __future__ import annotations

import hashlib
from typing import Optional, Tuple

from gm_contracts.envelope import make_envelope
from gm_contracts.inbound import InboundMessage, InboundRejected, parse_inbound
from gm_kernel import (
    DeadLetter, DomainError, DuplicateMessage, EventStore, NotRecorded, OutboxMessage,
    Processed, new_id,
)

from . import topology
from .consumer import Delivery

#: AMQP header set by `gm dlq replay`: a replayed message is a new arrival, not a copy.
REPLAY_HEADER = "x-gm-replay"


def answer(agency: str, answer_type: str, data: dict) -> Tuple[dict, OutboxMessage]:
    """A new answer: (the result to record with the message's keys, its outbox entry)."""
    return {"routing_key": f"{agency}.{answer_type}", "data": data}, \
        outbound(agency, answer_type, data)


def reply(uow, agency: str, answer_type: str, data: dict) -> None:
    """Answer the agency message a unit of work handles (gm_platform.messagebus): sent with
    the commit, and recorded with the message's keys for a re-sent copy."""
    uow.reply(*answer(agency, answer_type, data))


def outbound(agency: str, answer_type: str, data: dict) -> OutboxMessage:
    """An outbox entry for `gm.outbound` with routing key `<agency>.<type>`."""
    envelope = make_envelope(answer_type, agency, data)
    return OutboxMessage(exchange=topology.OUTBOUND.name,
                         routing_key=f"{agency}.{answer_type}", body=envelope,
                         message_id=envelope["id"])


def message_key(agency: str, message_id: str) -> str:
    """Idempotency key of an inbound message (per agency: ids are the agency's own)."""
    return f"inbound:{agency}:{message_id}"


def answer_again(store: EventStore, result: Optional[dict], redelivered: bool = False,
                 record: Optional[str] = None) -> bool:
    """Publish a recorded answer once more, in a new envelope (CONTRACT.md §2), unless
    this is a redelivery (the first commit's outbox sends it). True if sent.

    `record`: the key of the message being answered, when it is not the one the answer
    was recorded under (another message about the same referral), so that a redelivery
    of this message is recognised too."""
    if not result or redelivered:
        return False
    try:
        agency, _, answer_type = result["routing_key"].partition(".")
        store.append(None, None, [], outbox=[outbound(agency, answer_type, result["data"])],
                     processed=[Processed(record, result)] if record else [])
    except DuplicateMessage:  # this very message was answered before
        return False
    return True


def _rejection_key(delivery: Delivery, rejected: InboundRejected) -> str:
    """The key a rejection is recorded under: the message id, or for a message without a
    readable one, a digest of what arrived (the same bytes again are the same message)."""
    replay = delivery.headers.get(REPLAY_HEADER)
    # The key is stored as UTF-8: a header an agency forged with lone surrogates (which
    # py-amqp lets through) is escaped, else the rejection itself would fail.
    suffix = f":replay:{replay.encode('utf-8', 'backslashreplace').decode()}" \
        if isinstance(replay, str) else ""
    if rejected.agency is not None and rejected.message_id:
        return message_key(rejected.agency, rejected.message_id) + suffix
    digest = hashlib.sha256(delivery.routing_key.encode("utf-8", "surrogateescape")
                            + b"\0" + delivery.body).hexdigest()
    return f"inbound:{rejected.agency or '-'}:sha256:{digest}{suffix}"


def letter(delivery: Delivery, source: str, reason: str, attempts: int = 1) -> DeadLetter:
    """A dead letter keeping `delivery` as it arrived (the store makes it storable)."""
    # A fresh id per parking: a replayed message that fails again is a new letter, so the
    # replay's removal of the old one can never remove the new one.
    return DeadLetter(id=f"{source}:{delivery.message_id}:{new_id()}", source=source,
                      reason=reason, body=delivery.body, routing_key=delivery.routing_key,
                      properties=delivery.properties, attempts=attempts)


def reject(store: EventStore, delivery: Delivery, rejected: InboundRejected) -> str:
    """Answer `<agency>.rejected` and keep the message in the dead-letter store, in one
    commit (CONTRACT.md §4, §7); only the letter when no agency can be told. A message
    handled before is neither answered nor kept again (a re-sent one is answered again)."""
    key = _rejection_key(delivery, rejected)
    kept = letter(delivery, topology.INBOUND.name,
                  f"{'rejected' if rejected.answerable else 'unanswerable'} "
                  f"({rejected.reason}): {rejected.errors}")
    if not rejected.answerable:
        # Nobody to answer: keep it for an operator, never drop it silently.
        try:
            store.append(None, None, processed=[Processed(key, None)], dead_letter=kept)
        except DuplicateMessage:
            return "duplicate, kept before"
        return "dead-lettered"
    body = {"message_id": rejected.message_id, "type": rejected.type,
            "referral_id": rejected.referral_id, "errors": rejected.errors}
    result, message = answer(rejected.agency, "rejected", body)
    try:
        store.append(None, None, outbox=[message], processed=[Processed(key, result)],
                     dead_letter=kept)
    except DuplicateMessage as dup:
        if answer_again(store, dup.result, delivery.redelivered):
            return "duplicate answered again"
        return "duplicate"
    return "rejected"


def handle_inbound(app, delivery: Delivery) -> str:
    """One message from gm.inbound, answered as CONTRACT.md §2–4 say; returns what happened
    (for the log line and metrics).

    The message is parsed (any problem: `<agency>.rejected` and a dead letter); a type
    the service takes (`app.inbound`) becomes a command, run by the message bus under the
    message's idempotency key (and the command's own `keys`, e.g. a referral's id): the
    answer is committed with the effects. A message handled before is answered again
    (a redelivery is not: the first commit's outbox sends that answer). A command the
    domain refuses is answered `rejected` with its errors.
    """
    owner = topology.inbound_owner(delivery.routing_key)
    if owner != app.bus.store.service and topology.is_for_mediation(delivery.routing_key):
        # intake's queue takes every key (#) and leaves mediation's replies to mediation;
        # mediation's takes only its own, so whatever else reaches it is refused below
        return f"left to {owner}"
    try:
        message = parse_inbound(delivery.routing_key, delivery.body, delivery.message_id,
                                delivery.properties.get("content_type"),
                                properties=delivery.properties, headers=delivery.headers)
        make_command = app.inbound.get(message.type)
        if make_command is None:  # parse_inbound knows every inbound type
            raise _rejection(message, delivery, "not handled here",
                             {"type": [f"{message.type} is not handled here"]})
    except InboundRejected as rejected:
        return reject(app.bus.store, delivery, rejected)
    command = make_command(message)
    key = message_key(message.agency, message.message_id)
    try:
        return app.bus.handle(command, keys=[key, *getattr(command, "keys", ())]) or "handled"
    except DuplicateMessage as dup:
        if dup.key == key:  # this very message: answered again unless redelivered
            again = answer_again(app.bus.store, dup.result, delivery.redelivered)
        else:  # another message about the same thing (CONTRACT §2): its answer, recorded
            again = answer_again(app.bus.store, dup.result, record=key)
        return "duplicate answered again" if again else "duplicate"
    except (DomainError, NotRecorded) as refused:
        return reject(app.bus.store, delivery, _rejection(
            message, delivery, getattr(refused, "reason", "refused"),
            getattr(refused, "errors", None) or {"_body": [str(refused)]}))


def _rejection(message: InboundMessage, delivery: Delivery, reason: str,
               errors: dict) -> InboundRejected:
    return InboundRejected(reason, errors, agency=message.agency,
                           message_id=message.message_id, type=message.type,
                           referral_id=message.data.get("referral_id"),
                           routing_key=delivery.routing_key)


def park_from_broker(store: EventStore, delivery: Delivery) -> str:
    """Keep a message the broker gave up delivering (its delivery limit, topology.py) in
    the dead-letter store, where it came from and why, for an operator to replay.

    It is not answered: the broker cannot say whether the message or this suite was at
    fault, and a replay after a fix must still be able to give it its real answer.
    """
    deaths = delivery.headers.get("x-death")
    death = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) \
        else {}
    queue = _plain(death.get("queue")) or "?"
    exchange = _plain(death.get("exchange"))
    keys = death.get("routing-keys") or []
    routing_key = _plain(keys[0]) if keys else delivery.routing_key
    # A replay goes back where the message first arrived: the public exchange for agency
    # messages (so intake and mediation each take theirs), else straight to the queue.
    source = topology.INBOUND.name if exchange == topology.INBOUND.name else queue
    reason = (f"the broker gave up delivering it from {queue} after more than "
              f"{topology.DELIVERY_LIMIT} deliveries ({_plain(death.get('reason')) or '?'})")
    store.park(letter(Delivery(delivery.body, routing_key, exchange, delivery.properties,
                               delivery.headers), source, reason,
                      attempts=topology.DELIVERY_LIMIT + 1))
    return "parked from the broker"


def _plain(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)
