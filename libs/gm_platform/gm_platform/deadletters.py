"""Operating the dead-letter store: list parked messages and replay them."""
from __future__ import annotations

from typing import Optional

from kombu import Connection, Producer

from gm_kernel import DeadLetter, EventStore
from gm_kernel.privacy import ERASED, UNREADABLE

from . import topology
from .answers import REPLAY_HEADER


def describe(letter: DeadLetter) -> dict:
    return {
        "id": letter.id, "source": letter.source, "reason": letter.reason,
        "routing_key": letter.routing_key, "parked_at": letter.parked_at.isoformat(),
        "attempts": letter.attempts, "properties": dict(letter.properties),
        "body_size": letter.body_size, "body_sha256": letter.body_sha256,
        "truncated": letter.truncated,
        # bodies may be anything an agency sent: shown as text, never interpreted
        "body": letter.body.decode("utf-8", "replace")[:4000],
    }


def replay(store: EventStore, amqp_uri: str, letter_id: str) -> Optional[dict]:
    """Publish a parked message again where it first arrived, then forget it.

    `gm.inbound` letters go back to the exchange with their routing key; letters parked by
    a queue consumer go straight back to that queue, through gm.replay (bound to each
    consumed queue under its name: topology.REPLAY). The replay is marked (REPLAY_HEADER)
    so that a message rejected before is judged again, not taken for a copy. Handling is
    idempotent, so a crash between publishing and forgetting at most repeats an answer.
    A letter whose body was erased is not published (`refused` says why) and is kept.
    """
    letter = store.dead_letter(letter_id)
    if letter is None:
        return None
    if letter.body in (ERASED.encode(), UNREADABLE.encode()):
        # Its body was erased with a person (gm privacy erase): publishing the marker
        # would only be rejected and parked again.
        return {**describe(letter), "refused": "its body was erased: nothing to publish"}
    if letter.source == topology.INBOUND.name:
        exchange, routing_key = topology.INBOUND, letter.routing_key or ""
    else:
        exchange, routing_key = topology.REPLAY, letter.source
    props = dict(letter.properties)
    with Connection(amqp_uri, transport_options={"confirm_publish": True},
                    connect_timeout=5) as conn:
        Producer(conn.channel()).publish(
            letter.body, exchange=exchange, routing_key=routing_key,
            content_type=props.get("content_type") or "application/octet-stream",
            content_encoding=props.get("content_encoding") or "binary",
            message_id=props.get("message_id"), delivery_mode=2, retry=False,
            headers={REPLAY_HEADER: letter_id})
    store.remove_dead_letter(letter_id)
    return describe(letter)
