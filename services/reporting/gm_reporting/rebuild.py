"""Rebuilding projections from the source services' logs, switching over in one step.

    with rpc_logs(amqp_uri, ("intake", "assignment", "mediation")) as logs:
        Rebuilder(store, [CASES], logs, progress=bar).run()

For each projection: a new generation is created (empty tables beside the live ones),
every source's log is read from position 0 over RPC (`read_log`, never the broker) and
applied page by page, and then the generation is activated — which succeeds only if it
has applied at least as much of every source as the live generation has meanwhile
(store.activate raises Behind otherwise: read the logs again, try again). Queries see
the old generation until that single switch, then the new one: never a half-built
projection. A failure abandons the new generation and leaves the live one as it was.
"""
from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from gm_kernel import EventStore, RecordedEvent

from .store.port import Behind, Bulk, ProjectionSpec, ProjectionStore

PAGE = 1000  # read_log serves at most 1000 events per call


class LocalLog:
    """A service's log read straight from its event store (tests, benchmarks, tools
    running beside the store)."""

    def __init__(self, store: EventStore):
        self.store = store

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        return self.store.read_log(after_position, limit)

    def last_position(self) -> int:
        return self.store.last_position()


class RpcLog:
    """A service's log over its `read_log` / `last_position` RPCs, on a shared proxy."""

    def __init__(self, cluster, source: str):
        self.cluster, self.source = cluster, source

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        rows = getattr(self.cluster, self.source).read_log(after_position, limit)
        return [RecordedEvent.from_dict(r) for r in rows]

    def last_position(self) -> int:
        return int(getattr(self.cluster, self.source).last_position())


@contextmanager
def rpc_logs(amqp_uri: str, sources: Sequence[str], timeout: float = 30.0
             ) -> Iterator[Dict[str, RpcLog]]:
    """One RPC proxy for the whole rebuild (needs eventlet's monkey patching)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
        yield {s: RpcLog(cluster, s) for s in sources}


class _HeldDocuments:
    """While a store's bulk application holds a rebuild's documents in memory (tens of
    thousands of small dicts and lists, none in a reference cycle), each of Python's
    full garbage collections would walk them all again: a third of a rebuild's time.
    So what each page leaves behind is frozen (gc.freeze: never walked by the collector,
    still freed by its reference count as soon as it is replaced or written out) and
    thawed at the end, when cycles made meanwhile are collected as usual. Not done if
    something else in the process froze objects (thawing them is its business)."""

    def __enter__(self) -> "_HeldDocuments":
        self.freezing = gc.isenabled() and not gc.get_freeze_count()
        return self

    def page_applied(self) -> None:
        if self.freezing:
            gc.freeze()

    def __exit__(self, *exc) -> None:
        if self.freezing:
            gc.unfreeze()


@dataclass
class Rebuilt:
    name: str
    generation: int
    events: int
    seconds: float
    positions: Dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


class Progress:
    """What a rebuild reports; the CLI draws it as a rich progress bar."""

    def start(self, name: str, total: int) -> None: ...

    def advance(self, name: str, events: int) -> None: ...

    def done(self, result: Rebuilt) -> None: ...


class Rebuilder:
    def __init__(self, store: ProjectionStore, specs: Sequence[ProjectionSpec],
                 logs: Mapping[str, object], *, page_size: int = PAGE,
                 progress: Optional[Progress] = None, force: bool = False,
                 max_rounds: int = 20, clock: Callable[[], float] = time.perf_counter):
        self.store, self.specs, self.logs = store, list(specs), logs
        self.page_size, self.force, self.max_rounds = page_size, force, max_rounds
        self.progress = progress or Progress()
        self.clock = clock

    def totals(self) -> Dict[str, int]:
        """Events each projection will read (for a progress bar; 0 if not known)."""
        last = {}
        for spec in self.specs:
            for source in spec.sources:
                if source not in last:
                    reader = getattr(self.logs[source], "last_position", None)
                    last[source] = int(reader()) if reader else 0
        return {spec.name: sum(last[s] for s in spec.sources) for spec in self.specs}

    def run(self) -> List[Rebuilt]:
        totals = self.totals()
        return [self.rebuild(spec, totals.get(spec.name, 0)) for spec in self.specs]

    def rebuild(self, spec: ProjectionSpec, total: int = 0) -> Rebuilt:
        started = self.clock()
        generation = self.store.create_generation(spec, force=self.force)
        self.progress.start(spec.name, total)
        events = 0
        try:
            for _ in range(self.max_rounds):
                with _HeldDocuments() as held, \
                        self.store.bulk(spec, generation.number) as bulk:
                    for source in spec.sources:
                        events += self._catch_up(spec, bulk, source, held)
                try:
                    self.store.activate(spec, generation.number)
                    break
                except Behind:
                    continue  # the live generation moved on meanwhile: read on
            else:
                raise RuntimeError(f"projection {spec.name}: could not catch up with the live "
                                   f"generation in {self.max_rounds} rounds")
        except BaseException:
            self.store.abandon(spec, generation.number)
            raise
        result = Rebuilt(spec.name, generation.number, events, self.clock() - started,
                         {s: self.store.position(spec.name, s, generation.number)
                          for s in spec.sources})
        self.progress.done(result)
        return result

    def _catch_up(self, spec: ProjectionSpec, bulk: Bulk, source: str,
                  held: _HeldDocuments) -> int:
        applied = 0
        log = self.logs[source]
        while True:
            after = bulk.position(source)
            page = log.read(after, self.page_size)
            if not page:  # a page may be short before the end (read_log's byte budget)
                return applied
            fresh = [e for e in page if e.position > after]
            if fresh:
                result = bulk.apply(source, fresh)
                held.page_applied()
                applied += result.applied
                self.progress.advance(spec.name, result.applied)
