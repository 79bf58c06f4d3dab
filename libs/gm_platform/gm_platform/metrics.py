"""Prometheus metrics shared by every service (one process per service, so one registry)."""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_APPENDED = Counter("gm_events_appended_total", "Events appended to the store",
                          ["service"])
OUTBOX_PUBLISHED = Counter("gm_outbox_published_total", "Outbox messages confirmed by the broker",
                           ["service"])
OUTBOX_BACKLOG = Gauge("gm_outbox_backlog", "Outbox messages waiting to be published",
                       ["service"])
MESSAGES_CONSUMED = Counter("gm_messages_consumed_total", "Broker messages handled",
                            ["service", "queue", "outcome"])
HANDLER_SECONDS = Histogram("gm_handler_seconds", "Time spent handling one message or request",
                            ["service", "entrypoint"])
DEAD_LETTERS = Gauge("gm_dead_letters", "Messages parked in the dead-letter store", ["service"])
FEED_EVENTS = Counter("gm_feed_events_total", "Events of another service applied or skipped",
                      ["service", "source", "outcome"])
FEED_POSITION = Gauge("gm_feed_position", "Source log position a feed has applied up to",
                      ["service", "source"])
RELAY_LEADING = Gauge("gm_relay_leading", "1 while this replica's relay publishes the outbox",
                      ["service"])
PRUNED = Counter("gm_pruned_total", "Records forgotten after the retention window",
                 ["service", "kind"])
HTTP_REQUESTS = Counter("gm_http_requests_total", "HTTP requests answered",
                        ["service", "method", "route", "status"])


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
