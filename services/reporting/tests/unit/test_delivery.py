"""Correct under real delivery: whatever the broker does — duplicates, losses (gaps the
feed fills from the source log), any interleaving of the three sources — the projections
come out identical; a rebuild from zero gives them again; both adapters agree."""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import mongomock
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gm_reporting.feeds import Feeds
from gm_reporting.rebuild import Progress, Rebuilder
from gm_reporting.store.layout import CASES, PROJECTIONS, SCREENING
from gm_reporting.store.mongo import MongoProjectionStore
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.scenario import ListLog, generate

pytestmark = pytest.mark.timeout(120)

NOW = datetime(2026, 5, 20, tzinfo=timezone.utc)
LOGS = generate(60, seed=7, start=datetime(2026, 1, 1, tzinfo=timezone.utc),
                end=datetime(2026, 5, 15, tzinfo=timezone.utc), now=NOW)
SPECS = list(PROJECTIONS.values())


def test_the_logs_hold_every_kind_of_event_reporting_reads():
    """So that what follows covers them: supervision and reminders (and the escalations
    of older streams), a petition matter's handling period, acceptance, decline, answer
    and reviews, a confirmation's ruling due date."""
    types = {e.type for _, e in LOGS.all_events()}
    assert {"SupervisionOrdered", "SupervisionReminded", "CaseEscalated",
            "HandlingPeriodStarted", "DeadlineExtended", "CaseReassigned", "PetitionAccepted",
            "PetitionDeclined", "PetitionAnswered", "ReviewRequested", "ReviewDecided",
            "ConfirmationRequested", "HandOffAccepted", "FollowUpRecorded"} <= types
    assert any(e.type == "HandOffAccepted" and e.data.get("due_at")
               for _, e in LOGS.all_events())


def source_logs(logs=LOGS):
    return {s: ListLog(events) for s, events in logs.sources.items()}


def canonical(store, logs=LOGS):
    """Each source's log applied in one go, sources one after the other."""
    for spec in SPECS:
        store.ensure(spec)
        for source in spec.sources:
            store.apply(spec, source, logs.sources[source])
    return {spec.name: store.dump(spec) for spec in SPECS}


@pytest.fixture(scope="module")
def expected():
    store = SQLiteProjectionStore(":memory:")
    try:
        yield canonical(store)
    finally:
        store.close()


def body(event) -> bytes:
    return json.dumps(event.to_dict(), ensure_ascii=False).encode()


def deliver_like_a_broker(store, rng: random.Random, logs=LOGS, page_size=None) -> Feeds:
    """Per source, the broker brings the events in order, but drops some (the feed meets
    a gap and reads the log), repeats some (late redeliveries of earlier ones) and
    interleaves the sources at random; the periodic catch-up runs now and then."""
    for spec in SPECS:
        store.ensure(spec)
    feeds = Feeds(store, SPECS, source_logs(logs), page_size=page_size or rng.choice((3, 50)))
    pending = {s: list(events) for s, events in logs.sources.items()}
    delivered = {s: [] for s in pending}
    while any(pending.values()):
        source = rng.choice([s for s, left in pending.items() if left])
        roll = rng.random()
        if roll < 0.15:
            pending[source].pop(0)  # lost by the broker
            continue
        if roll < 0.30 and delivered[source]:
            event = rng.choice(delivered[source])  # a duplicate, late
        else:
            event = pending[source].pop(0)
            delivered[source].append(event)
        feeds.deliver(source, body(event))
        if rng.random() < 0.02:
            feeds.catch_up()
    feeds.catch_up()  # the periodic catch-up brings what the broker lost at the end
    return feeds


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_any_delivery_gives_the_same_projections(expected, seed):
    store = SQLiteProjectionStore(":memory:")
    try:
        deliver_like_a_broker(store, random.Random(seed))
        for spec in SPECS:
            assert store.dump(spec) == expected[spec.name]
            for source in spec.sources:
                assert store.position(spec.name, source) == len(LOGS.sources[source])
    finally:
        store.close()


def test_delivery_on_mongodb_gives_the_same_projections(expected):
    store = MongoProjectionStore(mongomock.MongoClient().get_database("gm_reporting"),
                                 switch_grace=0)
    deliver_like_a_broker(store, random.Random(42), page_size=50)
    for spec in SPECS:
        assert store.dump(spec) == expected[spec.name]


def test_every_event_is_applied_exactly_once(expected):
    """Counting-style figures would double on a double application: the projections'
    positions say each document saw each source's last event once, and the sessions
    count (a plain increment) matches the log."""
    store = SQLiteProjectionStore(":memory:")
    try:
        deliver_like_a_broker(store, random.Random(7))
        sessions = {}
        for e in LOGS.sources["mediation"]:
            if e.type == "SessionHeld":
                sessions[e.correlation_id] = sessions.get(e.correlation_id, 0) + 1
        cases = store.dump(CASES)["cases"]
        for case_id, n in sessions.items():
            assert cases[case_id]["mediation"]["sessions"] == n
        assert len(expected["cases"]["cases"]) == len(LOGS.case_ids)
        # one supervision document per SupervisionOrdered and per old CaseEscalated
        assert len(expected["cases"]["supervisions"]) == sum(
            1 for e in LOGS.sources["assignment"]
            if e.type in ("SupervisionOrdered", "CaseEscalated"))
        assert store.dump(CASES)["supervisions"] == expected["cases"]["supervisions"]
    finally:
        store.close()


class Counted(Progress):
    def __init__(self):
        self.started, self.events, self.finished = {}, {}, []

    def start(self, name, total):
        self.started[name] = total

    def advance(self, name, events):
        self.events[name] = self.events.get(name, 0) + events

    def done(self, result):
        self.finished.append(result)


@pytest.mark.parametrize("adapter", ["sqlite", "mongomock"])
def test_rebuild_from_zero_gives_identical_projections(expected, adapter, tmp_path):
    store = (SQLiteProjectionStore(tmp_path / "p.db") if adapter == "sqlite" else
             MongoProjectionStore(mongomock.MongoClient().get_database("r"), switch_grace=0))
    deliver_like_a_broker(store, random.Random(3))
    live = {spec.name: store.active(spec.name).number for spec in SPECS}
    progress = Counted()
    results = Rebuilder(store, SPECS, source_logs(), page_size=97, progress=progress).run()
    for spec, result in zip(SPECS, results):
        assert result.generation != live[spec.name]
        assert store.active(spec.name).number == result.generation
        assert store.dump(spec) == expected[spec.name]
        total = sum(len(LOGS.sources[s]) for s in spec.sources)
        assert progress.started[spec.name] == total == progress.events[spec.name]
        assert result.events == total
        # the previous generation is still there, untouched, for readers that had it
        assert store.dump(spec, live[spec.name]) == expected[spec.name]
    store.close()


def test_rebuild_while_live_events_arrive_switches_without_going_back(tmp_path):
    """The live generation moves on during the rebuild; the switch waits until the new
    one has caught up (Behind), so a query never sees fewer events after the switch."""
    store = SQLiteProjectionStore(tmp_path / "p.db")
    half = {s: events[:len(events) // 2] for s, events in LOGS.sources.items()}
    for spec in SPECS:
        store.ensure(spec)
        for source in spec.sources:
            store.apply(spec, source, half[source])
    logs = source_logs()
    live_logs = {s: list(events) for s, events in LOGS.sources.items()}

    class Growing(Progress):
        """Each page the rebuild reads, the live feeds apply a few more events."""

        def advance(self, name, events):
            for spec in SPECS:
                for source in spec.sources:
                    at = store.position(spec.name, source)
                    more = live_logs[source][at:at + 5]
                    if more:
                        store.apply(spec, source, more)

    Rebuilder(store, SPECS, logs, page_size=40, progress=Growing()).run()
    for spec in SPECS:
        for source in spec.sources:
            # the live generation had moved past the half; the new one is at the end
            assert store.position(spec.name, source) == len(LOGS.sources[source])
    store.close()


def test_failed_rebuild_leaves_the_live_generation(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    before = canonical(store)

    class Broken:
        def read(self, after, limit):
            raise ConnectionError("intake is down")

    with pytest.raises(ConnectionError):
        Rebuilder(store, [SCREENING], {"intake": Broken()}).run()
    assert [g.number for g in store.generations("screening")] == [1]
    assert store.dump(SCREENING) == before["screening"]
    Rebuilder(store, [SCREENING], source_logs()).run()  # the mark was released
    store.close()
