"""The public broker topology of CONTRACT.md §1, and the suite's own queues on it."""
from __future__ import annotations

from kombu import Exchange, Queue, binding

AGENCIES = ("court", "procuratorate", "police", "petition")

INBOUND = Exchange("gm.inbound", type="topic", durable=True)
OUTBOUND = Exchange("gm.outbound", type="topic", durable=True)

# Replies about hand-offs go to mediation; everything else on gm.inbound to intake.
# Topic '*' is exactly one word, so these match two-word keys only; intake skips the same.
MEDIATION_INBOUND_TYPES = ("handoff_reply", "confirmation_ruling")


def agency_inbox(agency: str) -> Queue:
    """`gm.outbound.<agency>`: holds the suite's messages while the agency is offline."""
    return Queue(f"gm.outbound.{agency}", OUTBOUND, routing_key=f"{agency}.#", durable=True)


def events_exchange(service: str) -> Exchange:
    """Same declaration as Nameko's event dispatcher, so Nameko handlers can listen too."""
    return Exchange(f"{service}.events", type="topic", durable=True)


def intake_inbound_queue() -> Queue:
    return Queue("gm.inbound.intake", INBOUND, routing_key="#", durable=True)


def mediation_inbound_queue() -> Queue:
    return Queue(
        "gm.inbound.mediation",
        bindings=[binding(INBOUND, routing_key=f"*.{t}") for t in MEDIATION_INBOUND_TYPES],
        durable=True,
    )


def is_for_mediation(routing_key: str) -> bool:
    words = routing_key.split(".")
    return len(words) == 2 and words[1] in MEDIATION_INBOUND_TYPES


def events_queue(consumer: str, source: str) -> Queue:
    """One durable queue per (consuming service, source service), bound to all its events."""
    return Queue(f"{consumer}.from.{source}", events_exchange(source), routing_key="#",
                 durable=True)


def declare_public(channel) -> None:
    """Declare gm.inbound, gm.outbound and every agency inbox (idempotent)."""
    INBOUND(channel).declare()
    OUTBOUND(channel).declare()
    for agency in AGENCIES:
        agency_inbox(agency)(channel).declare()
