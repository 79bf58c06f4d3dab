"""What every service serves: health (readiness) and metrics over HTTP without a token,
over RPC its event log, the verification of its hash chain and its dead-letter store; and the entrypoints every service has
in the same shape, written once: a consumer per followed service's events
(`<service>.from.<source>`, topology.SUBSCRIPTIONS) feeding `app.feeds`, the periodic
catch-up from the sources' logs, and, for a service agencies write to, the consumer of
`gm.inbound.<service>` answering through `app` (gm_platform.answers.handle_inbound)."""
from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Optional

from kombu import Connection
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from gm_contracts import streams
from gm_kernel import utcnow
from werkzeug.wrappers import Response

from . import answers, deadletters, metrics, openapi, topology
from .consumer import Delivery, QueueConsumer, consume
from .logs import LogContext
from .http import api, json_response
from .periodic import every
from .store_provider import EventStoreProvider

log = logging.getLogger(__name__)

#: A page that `read_log` or `list_dead_letters` answers over RPC stops once it holds this
#: many bytes of JSON (and at least one item), so that no reply outgrows the broker's
#: max_message_size (deploy/rabbitmq/rabbitmq.conf): a caller reads on until an empty page.
RPC_PAGE_BYTES = 512 * 1024


def fill_page(items, budget: int = RPC_PAGE_BYTES) -> list:
    """The first of `items` (dicts) whose JSON, as Nameko's serializer writes it (ASCII,
    escaped), fits in `budget` bytes; at least the first."""
    page, size = [], 0
    for item in items:
        size += len(json.dumps(item, default=str))
        if page and size > budget:
            break
        page.append(item)
    return page


class SettingsProvider(DependencyProvider):
    """Gives workers the service's Settings (gm_platform.config)."""

    def get_dependency(self, worker_ctx):
        return self.container.config["GM_SETTINGS"]


class ConsumersProvider(DependencyProvider):
    """Which of the service's queue consumers are not consuming (for readiness)."""

    def get_dependency(self, worker_ctx):
        return lambda: sorted(e.queue.name for e in self.container.entrypoints
                              if isinstance(e, QueueConsumer) and not e.connected)


class ReadinessProvider(DependencyProvider):
    """What /health answers from: the last readiness check (`check_readiness`, every
    GM_HEALTH_INTERVAL seconds). A probe never opens a broker connection nor waits on the
    store, so a flood of probes costs the broker one connection per interval, and a
    slow broker never makes /health slow."""

    now = staticmethod(time.monotonic)

    def setup(self):
        self.checks: Optional[dict] = None
        self.checked_at = 0.0
        # A check older than this is not trusted: the checker itself is stuck.
        self.max_age = max(3 * self.container.config["GM_SETTINGS"].health_interval, 15.0)

    def get_dependency(self, worker_ctx):
        return self

    def record(self, checks: dict) -> None:
        self.checks = checks
        self.checked_at = self.now()

    def last(self) -> dict:
        if self.checks is None:
            return {"store": "not checked yet", "broker": "not checked yet"}
        age = self.now() - self.checked_at
        if age > self.max_age:
            return {name: f"last checked {age:.0f} s ago" for name in self.checks}
        return dict(self.checks)


def broker_reachable(amqp_uri: str, timeout: float = 2.0) -> bool:
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False


def _feed_consumer(source: str):
    # A feed knows each event by its position, so handling one again is harmless:
    # acknowledged ten at a time (gm_platform.consumer, ack_every).
    @consume(queue=lambda service: topology.events_queue(service, source), prefetch=40,
             ack_every=10)
    def consume_events(self, delivery: Delivery):
        return self.app.feeds.deliver(source, delivery.body)

    consume_events.__name__ = consume_events.__qualname__ = f"on_{source}_event"
    consume_events.__doc__ = f"{source}'s domain events, to the feed that follows them."
    return consume_events


def _catch_up():
    @every("catchup_interval")
    def catch_up(self):
        """Whatever the broker did not bring, read from the sources' logs."""
        return self.app.feeds.catch_up()

    return catch_up


def _inbound_consumer():
    @consume(queue=topology.inbound_queue)
    def on_inbound(self, delivery: Delivery):
        """An agency's message on gm.inbound, answered as CONTRACT.md §2–4 say."""
        outcome = answers.handle_inbound(self.app, delivery)
        log.info("inbound %s: %s", delivery.routing_key, outcome,
                 extra={"correlation_id": delivery.message_id})
        return outcome

    return on_inbound


class PlatformService:
    """Base of every Nameko service class: `class IntakeService(PlatformService)`.

    A subclass names itself (`name`) and gives `app`, the application its bootstrap
    builds (gm_platform.bootstrap.Bootstrapped); the event and inbound consumers its
    place in the topology calls for are added to it here."""

    #: What the @api decorators cannot say about the routes (gm_platform.openapi.Api).
    http_api: Optional[openapi.Api] = None

    store = EventStoreProvider()
    settings = SettingsProvider()
    idle_consumers = ConsumersProvider()
    readiness = ReadinessProvider()
    log_context = LogContext()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is None:
            return
        made = {}
        sources = topology.SUBSCRIPTIONS.get(name, ())
        for source in sources:
            made[f"on_{source}_event"] = _feed_consumer(source)
        if topology.followed_logs(name):
            made["catch_up"] = _catch_up()
        if topology.inbound_queue(name) is not None:
            made["on_inbound"] = _inbound_consumer()
        for attr, method in made.items():
            if attr not in cls.__dict__:  # a service may still write its own
                setattr(cls, attr, method)

    @staticmethod
    def check_config(settings) -> None:
        """Load the service's configuration files before starting, so a malformed one
        stops start-up with `file:line: field: problem` (gm_directory.ConfigError)."""
        from gm_directory import load_directory

        load_directory(settings.directory_file)

    @every("prune_interval", at_start=False)
    def prune(self):
        """Forget what is past the retention window (GM_RETENTION_DAYS): sent messages,
        idempotency keys, superseded tracking records. Events and dead letters stay."""
        removed = self.store.prune(utcnow() - timedelta(days=self.settings.retention_days))
        for kind, count in removed.items():
            metrics.PRUNED.labels(self.settings.service, kind).inc(count)
        if any(removed.values()):
            log.info("pruned past the retention window: %s", removed)
        return removed

    @consume(queue=topology.parking_queue)
    def on_parked(self, delivery: Delivery):
        """What the broker gave up delivering from this service's queues (their delivery
        limit) goes into the dead-letter store, where `gm dlq` shows it."""
        return answers.park_from_broker(self.store, delivery)

    @every("health_interval")
    def check_readiness(self):
        """Whether the store and the broker answer, kept for /health."""
        checks = self.readiness_checks()
        self.readiness.record(checks)
        return checks

    def readiness_checks(self) -> dict:
        """name -> "ok" or what is wrong; a service adds its own (reporting: projections)."""
        checks = {}
        try:
            self.store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # any failure means not ready
            checks["store"] = f"unreachable: {type(exc).__name__}"
        checks["broker"] = "ok" if broker_reachable(self.settings.amqp_uri) else "unreachable"
        return checks

    @api("GET", "/health", public=True)
    def health(self, request):
        checks = self.readiness.last()
        idle = self.idle_consumers()
        # Not ready until every queue is declared and consumed: before that, a message an
        # agency publishes could find no queue bound to take it.
        checks["consumers"] = "ok" if not idle else f"not consuming: {', '.join(idle)}"
        healthy = all(v == "ok" for v in checks.values())
        return json_response(
            {"service": self.settings.service, "status": "ok" if healthy else "unavailable",
             "checks": checks},
            200 if healthy else 503)

    @api("GET", "/live", public=True)
    def live(self, request):
        """Liveness: the process answers HTTP. Unlike /health it ignores the broker and
        the store, so an outage of theirs makes instances unready, never restarted."""
        return json_response({"service": self.settings.service, "status": "alive"}, 200)

    @api("GET", "/metrics", public=True)
    def metrics(self, request):
        service = self.settings.service
        metrics.OUTBOX_BACKLOG.labels(service).set(self.store.outbox_backlog())
        metrics.DEAD_LETTERS.labels(service).set(self.store.count_dead_letters())
        body, content_type = metrics.render()
        return Response(body, status=200, content_type=content_type)

    @api("GET", "/openapi.json", roles=())
    def openapi_json(self, request, principal):
        """The service's OpenAPI document: any known token may read it."""
        return openapi.document(type(self))

    @rpc
    def read_log(self, after_position: int = 0, limit: int = 500) -> list:
        """This service's event log after a position, paged (at most `limit` events and
        RPC_PAGE_BYTES; an empty page at the end): how other services catch up from the
        source even when the broker lost or never held the messages."""
        limit = max(1, min(int(limit), 1000))
        return fill_page(e.to_dict() for e in self.store.read_log(int(after_position), limit))

    @rpc
    def last_position(self) -> int:
        return self.store.last_position()

    @rpc
    def verify_chain(self) -> dict:
        """Walk this service's hash chain (gm audit verify): OK with the counts and the
        head, or the first broken link, named."""
        report = self.store.verify_chain()
        if not report.ok:
            log.warning("the event log's hash chain is broken: %s", report.broken.describe())
        return {"service": self.settings.service, **report.to_dict()}

    @rpc
    def verify_case(self, case_id: str, handoff_ids=()) -> dict:
        """Whether this service's streams of a case (and its hand-offs) verify: the
        commits holding their events, each against its hash and its neighbours' links
        (reporting's GET /cases/{id}?verify=true)."""
        audits = [self.store.verify_stream(s) for s in streams.case_streams(
            self.settings.service, str(case_id), [str(h) for h in handoff_ids])]
        return {"service": self.settings.service, "ok": all(a.ok for a in audits),
                "streams": [a.to_dict() for a in audits]}

    @rpc
    def erase_person(self, id_number: str) -> dict:
        """Erase a person here (`gm privacy erase`): destroy the data keys of their
        resident id number and the keys erased with them (their cases' id-less parties,
        dead letters naming them). Their personal data reads `[erased]` from then on, in
        events, the log served to others, dead letters and what is built from them; the
        events themselves, their count and the audit chain are untouched. Idempotent:
        again, it destroys nothing and reports what was erased before."""
        return {"service": self.settings.service, **self.erase_here(str(id_number))}

    def erase_here(self, id_number: str) -> dict:
        """What erasing a person does in this service (a service keeping more adds it)."""
        return self.store.erase_person(id_number)

    @rpc
    def list_dead_letters(self, limit: int = 100, offset: int = 0) -> dict:
        """Parked messages, oldest first (gm dlq list); a page holds at most RPC_PAGE_BYTES."""
        letters = self.store.dead_letters(max(1, min(int(limit), 1000)), max(0, int(offset)))
        return {"total": self.store.count_dead_letters(),
                "items": fill_page(deadletters.describe(letter) for letter in letters)}

    @rpc
    def replay_dead_letter(self, letter_id: str) -> Optional[dict]:
        """Publish a parked message again where it arrived (gm dlq replay); None if unknown."""
        return deadletters.replay(self.store, self.settings.amqp_uri, letter_id)
