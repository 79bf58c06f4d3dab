"""Answering agencies (CONTRACT.md §2–4): every inbound message gets exactly one kind of
answer, recorded with its idempotency key so a re-sent message gets the same answer."""
from __future__ import annotations

from typing import Optional

from gm_contracts.envelope import make_envelope
from gm_contracts.inbound import InboundRejected
from gm_kernel import DeadLetter, DuplicateMessage, EventStore, OutboxMessage, Processed, new_id

from . import topology
from .consumer import Delivery


def outbound(agency: str, answer_type: str, data: dict) -> OutboxMessage:
    """An outbox entry for `gm.outbound` with routing key `<agency>.<type>`."""
    envelope = make_envelope(answer_type, agency, data)
    return OutboxMessage(exchange=topology.OUTBOUND.name,
                         routing_key=f"{agency}.{answer_type}", body=envelope,
                         message_id=envelope["id"])


def message_key(agency: str, message_id: str) -> str:
    """Idempotency key of an inbound message (per agency: ids are the agency's own)."""
    return f"inbound:{agency}:{message_id}"


def answer_again(store: EventStore, result: Optional[dict]) -> None:
    """Publish a recorded answer once more, in a new envelope (CONTRACT.md §2)."""
    if not result:
        return
    agency, _, answer_type = result["routing_key"].partition(".")
    store.append(None, None, [], outbox=[outbound(agency, answer_type, result["data"])])


def park(store: EventStore, delivery: Delivery, source: str, letter_id: str,
         reason: str) -> None:
    store.park(DeadLetter(
        id=letter_id, source=source, reason=reason[:2000], body=delivery.body,
        routing_key=delivery.routing_key,
        properties={k: v for k, v in delivery.properties.items()
                    if isinstance(v, (str, int, float, bool, type(None)))}))


def reject(store: EventStore, delivery: Delivery, rejected: InboundRejected) -> str:
    """Answer `<agency>.rejected` (or dead-letter when no agency can be told); keep it."""
    # A fresh id per parking: a replayed message that fails again is a new letter, so the
    # replay's removal of the old one can never remove the new one.
    letter_id = f"gm.inbound:{rejected.message_id or delivery.message_id}:{new_id()}"
    if rejected.agency is None:
        # Nobody to answer: keep it for an operator, never drop it silently.
        park(store, delivery, "gm.inbound", letter_id, f"unanswerable: {rejected.reason}")
        return "dead-lettered"
    body = {"message_id": rejected.message_id, "type": rejected.type,
            "referral_id": rejected.referral_id, "errors": rejected.errors}
    result = {"routing_key": f"{rejected.agency}.rejected", "data": body}
    processed = []
    if rejected.message_id:
        processed.append(Processed(message_key(rejected.agency, rejected.message_id), result))
    try:
        store.append(None, None, [], outbox=[outbound(rejected.agency, "rejected", body)],
                     processed=processed)
    except DuplicateMessage as dup:
        answer_again(store, dup.result)
    # CONTRACT.md §4: every rejected message is kept in the dead-letter store too.
    park(store, delivery, "gm.inbound", letter_id, f"rejected: {rejected.errors}")
    return "rejected"
