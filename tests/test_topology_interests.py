"""A queue bound to some event types only (topology.BROKER_INTERESTS) must be bound to
every type its service acts on: a type left out would wait for the periodic catch-up
(GM_CATCHUP_INTERVAL) instead of arriving at once. And every other events queue takes all."""
from __future__ import annotations

import pytest

from gm_assignment import handlers as assignment
from gm_contracts import mediation_events
from gm_kernel.aggregate import type_name
from gm_mediation import handlers as mediation
from gm_platform import topology

HANDLERS = {"assignment": assignment.EVENTS, "mediation": mediation.EVENTS}
SOURCES = {"mediation": mediation_events}


@pytest.mark.parametrize("consumer, source", sorted(topology.BROKER_INTERESTS))
def test_a_filtered_queue_is_bound_to_exactly_the_types_its_service_handles(consumer, source):
    handled = {type_name(t) for t in HANDLERS[consumer]
               if t.__module__ == SOURCES[source].__name__}
    assert handled and set(topology.BROKER_INTERESTS[consumer, source]) == handled
    keys = topology.event_binding_keys(consumer, source)
    assert set(keys) == handled
    # never in a batch (a batch goes only where every event goes), the others may be
    assert not any(topology.batched(source, t) for t in handled)
    assert topology.batched(source, "MediationOpened")
    queue = topology.events_queue(consumer, source)
    assert {b.routing_key for b in queue.bindings if b.exchange.name == f"{source}.events"} \
        == set(keys)


def test_every_other_events_queue_takes_every_event():
    for consumer, sources in topology.SUBSCRIPTIONS.items():
        for source in sources:
            if (consumer, source) not in topology.BROKER_INTERESTS:
                assert topology.event_binding_keys(consumer, source) == ("#",)
