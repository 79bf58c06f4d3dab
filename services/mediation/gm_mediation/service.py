"""Nameko entrypoints of the mediation service: thin translations to handler calls."""
from __future__ import annotations

import logging

from gm_contracts.inbound import InboundRejected, parse_inbound
from gm_platform import answers, topology
from gm_platform.base import PlatformService
from gm_platform.consumer import Delivery, consume

log = logging.getLogger(__name__)


class MediationService(PlatformService):
    name = "mediation"

    @consume(queue=topology.mediation_inbound_queue)
    def on_inbound(self, delivery: Delivery):
        """Hand-off replies and confirmation rulings. Until mediation issues hand-offs
        (issue 5), none can match one, and CONTRACT.md §4 says to answer `rejected`."""
        try:
            message = parse_inbound(delivery.routing_key, delivery.body, delivery.message_id,
                                    delivery.properties.get("content_type"))
        except InboundRejected as rejected:
            outcome = answers.reject(self.store, delivery, rejected)
        else:
            outcome = answers.reject(self.store, delivery, InboundRejected(
                "unknown hand-off", {"handoff_id": ["No hand-off with this id."]},
                agency=message.agency, message_id=message.message_id, type=message.type,
                referral_id=None, routing_key=delivery.routing_key))
        log.info("inbound %s: %s", delivery.routing_key, outcome,
                 extra={"correlation_id": delivery.message_id})
