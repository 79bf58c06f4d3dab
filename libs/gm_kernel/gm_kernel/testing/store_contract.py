"""The event store contract: one test suite every adapter must pass.

Like the `eventsourcing` library's recorder test cases: subclass `StoreContract` in a
`Test...` class and implement `make_store`; pytest runs every inherited test against
your adapter.

    class TestSQLiteStore(StoreContract):
        def make_store(self, service="svc", upcasters=None):
            return SQLiteEventStore(self.tmp_path / f"{service}.db", service, upcasters)

`make_store(service)` must open (another handle on) THE store of `service` in this
test's sandbox: calling it twice with the same service gives two store objects over the
same data (the tests use this for reopening and for two writers). `self.tmp_path` is the
test's temporary directory. Stores are closed after each test (see `open`).

The hash chain's tests also need the adapter to tamper with what it stored, behind the
store's back as someone editing the database would: `alter_event_data`, `delete_event`,
`swap_events`, `alter_link_hash`, `delete_commit`, `unlink_commit`.
"""
from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional

import pytest

from ..events import (
    MAX_LETTER_BODY, DeadLetter, NewEvent, OutboxMessage, Processed, RecordedEvent, Tracking,
    utcnow,
)
from ..store.chain import (
    ALTERED, COMMIT_MISSING, EVENTS_ALTERED, EVENTS_MISSING, GENESIS, HASH_ALTERED, UNCHAINED,
    link_hash, stored_event,
)
from ..store.port import (
    NO_STREAM,
    ConcurrencyError,
    DuplicateMessage,
    EventStore,
    StoreError,
    StoreUnavailable,
)
from ..upcasting import Upcasters


def ev(type_: str = "Happened", **data) -> NewEvent:
    return NewEvent(type=type_, data=data)


@pytest.mark.timeout(60)
def run_in_threads(target: Callable[[int], None], count: int,
                   timeout: float) -> List[BaseException]:
    """Run target(0..count-1) in concurrent threads; return what they raised."""
    errors: List[BaseException] = []

    def guarded(w: int) -> None:
        try:
            target(w)
        except BaseException as exc:  # pragma: no cover - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


class StoreContract:
    """Inherit, implement make_store; do not name a subclass without the Test prefix."""

    # -- the adapter's part ----------------------------------------------------------------
    def make_store(self, service: str = "svc", upcasters: Optional[Upcasters] = None
                   ) -> EventStore:
        raise NotImplementedError

    # -- the adapter's part for the chain tests: edit the database directly -------------------
    def alter_event_data(self, store: EventStore, position: int, data: dict) -> None:
        """Overwrite the stored data of the event at `position`."""
        raise NotImplementedError

    def delete_event(self, store: EventStore, position: int) -> None:
        """Remove the event at `position` (its commit's link stays)."""
        raise NotImplementedError

    def swap_events(self, store: EventStore, a: int, b: int) -> None:
        """The events at positions a and b trade places (each takes the other's position)."""
        raise NotImplementedError

    def alter_link_hash(self, store: EventStore, first_position: int, new_hash: str) -> None:
        """Overwrite the recorded hash of the commit starting at `first_position`."""
        raise NotImplementedError

    def delete_commit(self, store: EventStore, first_position: int) -> None:
        """Remove the commit starting at `first_position`: its link and its events."""
        raise NotImplementedError

    def unlink_commit(self, store: EventStore, first_position: int) -> None:
        """Remove the link of the commit starting at `first_position`, keep its events."""
        raise NotImplementedError

    # -- sandbox ---------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _contract_sandbox(self, tmp_path):
        self.tmp_path = tmp_path
        self._opened: List[EventStore] = []
        yield
        for store in reversed(self._opened):
            try:
                store.close()
            except Exception:  # a test may have closed it already
                pass

    def open(self, service: str = "svc", upcasters: Optional[Upcasters] = None) -> EventStore:
        """make_store, closed after the test."""
        store = self.make_store(service, upcasters)
        self._opened.append(store)
        return store

    @staticmethod
    def all_events(store: EventStore) -> List[RecordedEvent]:
        return store.read_log(0, 100_000)

    @staticmethod
    def unsent(store: EventStore):
        return store.pending_outbox(100_000)

    # -- appending and reading streams ----------------------------------------------------
    def test_empty_store(self):
        store = self.open()
        assert store.last_position() == 0
        assert store.read_log() == []
        assert store.read_stream("case-1") == []
        assert store.stream_version("case-1") == 0
        assert store.outbox_backlog() == 0
        assert store.pending_outbox() == []
        assert store.events_exchange == "svc.events"

    def test_append_and_read_stream(self):
        store = self.open()
        a, b = ev("Registered", n=1), ev("Assigned", n=2)
        recorded = store.append("case-1", NO_STREAM, [a, b])
        assert [(e.id, e.stream_id, e.version, e.position, e.type) for e in recorded] == [
            (a.id, "case-1", 1, 1, "Registered"), (b.id, "case-1", 2, 2, "Assigned")]
        assert store.read_stream("case-1") == recorded
        assert store.stream_version("case-1") == 2
        assert store.last_position() == 2
        more = store.append("case-1", 2, [ev("Closed")])
        assert [(e.version, e.position) for e in more] == [(3, 3)]
        assert [e.version for e in store.read_stream("case-1")] == [1, 2, 3]

    def test_read_stream_after_version(self):
        store = self.open()
        store.append("s", NO_STREAM, [ev(n=1), ev(n=2)])
        store.append("s", 2, [ev(n=3)])
        assert [e.data["n"] for e in store.read_stream("s", after_version=1)] == [2, 3]
        assert [e.data["n"] for e in store.read_stream("s", after_version=2)] == [3]
        assert store.read_stream("s", after_version=3) == []

    def test_streams_are_separate(self):
        store = self.open()
        store.append("a", NO_STREAM, [ev(n=1)])
        store.append("b", NO_STREAM, [ev(n=2), ev(n=3)])
        store.append("a", 1, [ev(n=4)])
        assert [(e.version, e.position) for e in store.read_stream("a")] == [(1, 1), (2, 4)]
        assert [(e.version, e.position) for e in store.read_stream("b")] == [(1, 2), (2, 3)]

    def test_returned_events_are_what_is_read(self):
        store = self.open()
        recorded = store.append("s", NO_STREAM, [ev(x=[1, 2], y={"z": None})])
        assert store.read_log() == recorded
        assert store.read_stream("s") == recorded

    # -- optimistic concurrency ----------------------------------------------------------
    def test_stale_expected_version(self):
        store = self.open()
        store.append("s", NO_STREAM, [ev(), ev()])
        with pytest.raises(ConcurrencyError) as info:
            store.append("s", 1, [ev()], outbox=[OutboxMessage("x", "y", {})],
                         processed=[Processed("m-1")], tracking=Tracking("c:src", 1))
        assert (info.value.stream_id, info.value.expected, info.value.actual) == ("s", 1, 2)
        self._assert_nothing_after(store, position=2, backlog=2)
        assert store.processed_result("m-1") is None
        assert store.tracked_position("c:src") == 0

    def test_no_stream_but_stream_exists(self):
        store = self.open()
        store.append("s", NO_STREAM, [ev()])
        with pytest.raises(ConcurrencyError) as info:
            store.append("s", NO_STREAM, [ev()])
        assert (info.value.expected, info.value.actual) == (0, 1)
        self._assert_nothing_after(store, position=1, backlog=1)

    def test_expected_version_ahead_of_stream(self):
        store = self.open()
        with pytest.raises(ConcurrencyError) as info:
            store.append("s", 3, [ev()])
        assert (info.value.expected, info.value.actual) == (3, 0)
        self._assert_nothing_after(store, position=0, backlog=0)

    def test_two_writers_same_version(self):
        first, second = self.open(), self.open()
        assert first.stream_version("s") == second.stream_version("s") == 0
        first.append("s", NO_STREAM, [ev(by="first")])
        with pytest.raises(ConcurrencyError):
            second.append("s", NO_STREAM, [ev(by="second")])
        assert [e.data["by"] for e in second.read_stream("s")] == ["first"]

    def test_events_need_stream_and_expected_version(self):
        store = self.open()
        with pytest.raises(ValueError):
            store.append(None, NO_STREAM, [ev()])
        with pytest.raises(ValueError):
            store.append("s", None, [ev()])
        with pytest.raises(ValueError):
            store.append("s", -1, [ev()])
        assert store.last_position() == 0

    def _assert_nothing_after(self, store: EventStore, position: int, backlog: int) -> None:
        assert store.last_position() == position
        assert len(self.all_events(store)) == position
        assert store.outbox_backlog() == backlog

    # -- commits without events ------------------------------------------------------------
    def test_commit_without_events(self):
        store = self.open()
        reply = OutboxMessage("gm.outbound", "court.accepted", {"case": "C-1"})
        assert store.append(None, None, outbox=[reply],
                            processed=[Processed("msg-1", {"case": "C-1"})]) == []
        assert store.last_position() == 0
        assert store.read_log() == []
        assert store.processed_result("msg-1") == Processed("msg-1", {"case": "C-1"})
        [pending] = self.unsent(store)
        assert (pending.exchange, pending.routing_key, dict(pending.body),
                pending.message_id) == ("gm.outbound", "court.accepted", {"case": "C-1"},
                                        reply.message_id)
        # Another one: commits without events must not collide with each other.
        store.append(None, None, processed=[Processed("msg-2")], tracking=Tracking("c:x", 7))
        assert store.processed_result("msg-2") == Processed("msg-2", None)
        assert store.tracked_position("c:x") == 7
        store.append("s", NO_STREAM, [ev()])
        assert [e.position for e in store.read_log()] == [1]

    def test_commit_without_events_checks_given_version(self):
        store = self.open()
        store.append("s", NO_STREAM, [ev()])
        with pytest.raises(ConcurrencyError):
            store.append("s", 0, processed=[Processed("k")])
        assert store.processed_result("k") is None
        store.append("s", 1, processed=[Processed("k")])
        assert store.processed_result("k") is not None
        assert store.stream_version("s") == 1
        store.append("s", 1, [ev()])  # the stream itself did not move

    def test_nothing_to_write(self):
        store = self.open()
        assert store.append(None, None) == []
        assert store.append("s", None) == []
        assert store.last_position() == 0 and store.outbox_backlog() == 0

    # -- the service log -------------------------------------------------------------------
    def test_positions_gap_free_across_streams(self):
        store = self.open()
        versions = {}
        for i in range(30):
            stream = f"s{i % 4}"
            n = i % 3 + 1
            store.append(stream, versions.get(stream, 0), [ev(i=i, k=k) for k in range(n)])
            versions[stream] = versions.get(stream, 0) + n
        log = self.all_events(store)
        assert [e.position for e in log] == list(range(1, len(log) + 1))
        assert len(log) == sum(versions.values()) == store.last_position()
        for stream, version in versions.items():
            assert [e.version for e in store.read_stream(stream)] == list(range(1, version + 1))

    def test_read_log_paging(self):
        store = self.open()
        for i in range(5):
            store.append(f"s{i}", NO_STREAM, [ev(i=i, k=0), ev(i=i, k=1)])
        assert [e.position for e in store.read_log(0, 3)] == [1, 2, 3]
        assert [e.position for e in store.read_log(3, 3)] == [4, 5, 6]
        assert [e.position for e in store.read_log(8, 500)] == [9, 10]
        assert store.read_log(10) == []
        assert store.read_log(99) == []
        pages, after = [], 0
        while True:
            page = store.read_log(after, 3)
            if not page:
                break
            pages.append([e.position for e in page])
            after = page[-1].position
        assert pages == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
        with pytest.raises(ValueError):
            store.read_log(0, 0)

    def test_read_log_from_inside_a_commit(self):
        store = self.open()
        store.append("a", NO_STREAM, [ev(k=0), ev(k=1), ev(k=2)])
        store.append("b", NO_STREAM, [ev(k=3)])
        assert [e.position for e in store.read_log(1, 2)] == [2, 3]
        assert [e.position for e in store.read_log(2)] == [3, 4]

    def test_two_handles_share_one_log(self):
        a, b = self.open(), self.open()
        for i in range(6):
            writer = a if i % 2 == 0 else b
            writer.append(f"s{i}", NO_STREAM, [ev(i=i) for _ in range(2 if i % 3 == 0 else 1)])
        assert [e.position for e in self.all_events(a)] == list(range(1, 9))
        assert self.all_events(a) == self.all_events(b)
        assert a.last_position() == b.last_position() == 8

    def test_reopened_store_keeps_everything(self):
        store = self.open()
        recorded = store.append("s", NO_STREAM, [ev(n=1)], processed=[Processed("k", {"r": 1})],
                                tracking=Tracking("c:src", 3))
        store.park(DeadLetter(id="d1", source="q", reason="boom", body=b"x"))
        store.close()
        again = self.open()
        assert again.read_stream("s") == recorded
        assert again.processed_result("k") == Processed("k", {"r": 1})
        assert again.tracked_position("c:src") == 3
        assert again.outbox_backlog() == 1
        assert again.count_dead_letters() == 1

    def test_services_are_separate(self):
        a, b = self.open("alpha"), self.open("beta")
        a.append("s", NO_STREAM, [ev()])
        assert b.last_position() == 0
        b.append("s", NO_STREAM, [ev()])
        assert [m.exchange for m in self.unsent(b)] == ["beta.events"]

    def test_concurrent_appends_from_threads_share_one_store(self):
        store = self.open()

        def writer(w: int) -> None:
            for i in range(25):
                store.append(f"w{w}", i * 2, [ev(w=w, i=i), ev(w=w, i=i)])

        assert run_in_threads(writer, 4, timeout=30) == []
        log = self.all_events(store)
        assert [e.position for e in log] == list(range(1, 201))
        for w in range(4):
            assert [e.version for e in store.read_stream(f"w{w}")] == list(range(1, 51))

    # -- idempotency -------------------------------------------------------------------------
    def test_processed_duplicate_returns_first_result_and_writes_nothing(self):
        store = self.open()
        store.append("case-1", NO_STREAM, [ev("Registered")],
                     outbox=[OutboxMessage("gm.outbound", "ack", {"n": 1})],
                     processed=[Processed("msg-1", {"case_no": "A-1"})])
        before = (store.last_position(), store.outbox_backlog())
        with pytest.raises(DuplicateMessage) as info:
            store.append("case-2", NO_STREAM, [ev("Registered")],
                         outbox=[OutboxMessage("gm.outbound", "ack", {"n": 2})],
                         processed=[Processed("msg-1", {"case_no": "A-2"})])
        assert info.value.key == "msg-1"
        assert info.value.result == {"case_no": "A-1"}
        assert (store.last_position(), store.outbox_backlog()) == before
        assert store.stream_version("case-2") == 0
        assert store.processed_result("msg-1") == Processed("msg-1", {"case_no": "A-1"})
        assert [m.body for m in self.unsent(store) if m.routing_key == "ack"] == [{"n": 1}]

    def test_duplicate_wins_over_stale_version(self):
        store = self.open()
        store.append("s", NO_STREAM, [ev()], processed=[Processed("msg-1", {"ok": True})])
        with pytest.raises(DuplicateMessage) as info:
            store.append("s", NO_STREAM, [ev()], processed=[Processed("msg-1")])
        assert info.value.result == {"ok": True}

    def test_duplicate_among_several_keys(self):
        store = self.open()
        store.append(None, None, processed=[Processed("a", {"r": "a"}), Processed("b", {"r": "b"})])
        with pytest.raises(DuplicateMessage) as info:
            store.append("s", NO_STREAM, [ev()], processed=[Processed("c"), Processed("b")])
        assert (info.value.key, info.value.result) == ("b", {"r": "b"})
        assert store.processed_result("c") is None
        assert store.last_position() == 0
        with pytest.raises(DuplicateMessage) as info:  # the commit's first recorded key
            store.append(None, None, processed=[Processed("b"), Processed("a")])
        assert info.value.key == "b"

    def test_processed_without_result(self):
        store = self.open()
        store.append(None, None, processed=[Processed("k")])
        assert store.processed_result("k") == Processed("k", None)
        with pytest.raises(DuplicateMessage) as info:
            store.append(None, None, processed=[Processed("k", {"x": 1})])
        assert info.value.result is None
        assert store.processed_result("unknown") is None

    def test_same_key_twice_in_one_commit(self):
        store = self.open()
        with pytest.raises(ValueError):
            store.append(None, None, processed=[Processed("k"), Processed("k")])
        assert store.processed_result("k") is None

    def test_tracking(self):
        store = self.open()
        assert store.tracked_position("proj:intake") == 0
        store.append("s", NO_STREAM, [ev()], tracking=Tracking("proj:intake", 1))
        store.append(None, None, tracking=Tracking("proj:intake", 2))
        store.append(None, None, tracking=Tracking("other:intake", 9))
        assert store.tracked_position("proj:intake") == 2
        assert store.tracked_position("other:intake") == 9
        with pytest.raises(DuplicateMessage) as info:
            store.append("s", 1, [ev()], outbox=[OutboxMessage("x", "y", {})],
                         processed=[Processed("new-key")], tracking=Tracking("proj:intake", 1))
        assert info.value.result is None
        self._assert_nothing_after(store, position=1, backlog=1)
        assert store.processed_result("new-key") is None
        store.append(None, None, tracking=Tracking("proj:intake", 5))
        assert store.tracked_position("proj:intake") == 5

    def test_event_id_recorded_twice_is_refused(self):
        store = self.open()
        e = ev()
        store.append("a", NO_STREAM, [e])
        with pytest.raises(StoreError) as info:
            store.append("b", NO_STREAM, [ev(), e], processed=[Processed("k")])
        assert not isinstance(info.value, (ConcurrencyError, DuplicateMessage))
        self._assert_nothing_after(store, position=1, backlog=1)
        assert store.processed_result("k") is None
        with pytest.raises(ValueError):
            store.append("c", NO_STREAM, [e, e])

    # -- outbox ------------------------------------------------------------------------------
    def test_events_are_queued_in_the_outbox(self):
        store = self.open()
        extra = OutboxMessage("gm.outbound", "court.reply", {"ok": True},
                              headers={"agency": "court"})
        recorded = store.append("case-1", NO_STREAM, [ev("Registered", n=1), ev("Assigned")],
                                outbox=[extra])
        pending = self.unsent(store)
        assert [(m.exchange, m.routing_key, dict(m.body), m.message_id, dict(m.headers))
                for m in pending] == [
            ("svc.events", "Registered", recorded[0].to_dict(), recorded[0].id, {}),
            ("svc.events", "Assigned", recorded[1].to_dict(), recorded[1].id, {}),
            ("gm.outbound", "court.reply", {"ok": True}, extra.message_id, {"agency": "court"}),
        ]
        assert len({m.outbox_id for m in pending}) == 3
        assert store.outbox_backlog() == 3

    def test_pending_oldest_commit_first_and_limit(self):
        store = self.open()
        store.append("a", NO_STREAM, [ev("A1"), ev("A2")])
        store.append(None, None, outbox=[OutboxMessage("x", "B", {})])
        store.append("c", NO_STREAM, [ev("C1")])
        assert [m.routing_key for m in self.unsent(store)] == ["A1", "A2", "B", "C1"]
        assert [m.routing_key for m in store.pending_outbox(3)] == ["A1", "A2", "B"]
        assert [m.routing_key for m in store.pending_outbox(1)] == ["A1"]

    def test_mark_sent(self):
        store = self.open()
        store.append("a", NO_STREAM, [ev("A1"), ev("A2"), ev("A3")])
        store.append("b", NO_STREAM, [ev("B1")])
        pending = self.unsent(store)
        store.mark_sent([pending[0].outbox_id, pending[2].outbox_id])
        assert [m.routing_key for m in self.unsent(store)] == ["A2", "B1"]
        assert store.outbox_backlog() == 2
        store.mark_sent([pending[0].outbox_id])  # idempotent
        store.mark_sent([])
        assert store.outbox_backlog() == 2
        store.mark_sent([pending[1].outbox_id, pending[3].outbox_id])
        assert self.unsent(store) == [] and store.outbox_backlog() == 0
        store.mark_sent([m.outbox_id for m in pending])  # all again: still nothing
        assert store.outbox_backlog() == 0
        store.append("b", 1, [ev("B2")])
        assert [m.routing_key for m in self.unsent(store)] == ["B2"]

    def test_mark_sent_from_another_handle(self):
        writer, relay = self.open(), self.open()
        writer.append("a", NO_STREAM, [ev("A1")])
        relay.mark_sent([m.outbox_id for m in relay.pending_outbox()])
        assert writer.outbox_backlog() == 0

    # -- replicas and retention --------------------------------------------------------------
    def test_a_lease_has_one_holder_until_released_or_expired(self):
        a, b = self.open(), self.open()  # two replicas on one store
        assert a.acquire_lease("outbox-relay", "A", 30)
        assert not b.acquire_lease("outbox-relay", "B", 30)
        assert a.acquire_lease("outbox-relay", "A", 30)  # renewed
        assert b.acquire_lease("other-job", "B", 30)  # leases are by name
        b.release_lease("outbox-relay", "B")  # not B's to give up
        assert not b.acquire_lease("outbox-relay", "B", 30)
        a.release_lease("outbox-relay", "A")
        assert b.acquire_lease("outbox-relay", "B", 30)
        assert not a.acquire_lease("outbox-relay", "A", 30)
        assert b.acquire_lease("short", "B", 0.05)
        time.sleep(0.15)  # B stopped renewing (it died): the lease is free again
        assert a.acquire_lease("short", "A", 30)
        assert not b.acquire_lease("short", "B", 30)

    def test_pruning_keeps_idempotency_inside_the_window_and_events_for_ever(self):
        store = self.open()
        store.append("case-1", NO_STREAM, [ev("Registered")], processed=[Processed("msg-1", {"n": 1})],
                     outbox=[OutboxMessage("gm.outbound", "court.referral_accepted", {"n": 1})],
                     tracking=Tracking("feed:intake", 1))
        for position in (2, 3):
            store.append(None, None, tracking=Tracking("feed:intake", position))
        store.append(None, None, processed=[Processed("msg-2")])
        store.mark_sent([m.outbox_id for m in store.pending_outbox()])
        store.append("case-2", NO_STREAM, [ev("Registered")])  # its message stays unsent
        store.park(DeadLetter(id="l-1", source="q", reason="bad", body=b"x"))
        # inside the window: nothing changes
        assert not any(store.prune(utcnow() - timedelta(hours=1)).values())
        assert store.processed_result("msg-1").result == {"n": 1}
        # past it: keys, sent messages and superseded positions go
        removed = store.prune(utcnow() + timedelta(seconds=1))
        assert removed["processed"] > 0 and removed["outbox"] > 0 and removed["tracking"] > 0
        assert store.processed_result("msg-1") is None
        assert store.processed_result("msg-2") is None
        assert store.tracked_position("feed:intake") == 3
        with pytest.raises(DuplicateMessage):  # the position is still the feed's
            store.append(None, None, tracking=Tracking("feed:intake", 3))
        assert [e.type for e in self.all_events(store)] == ["Registered", "Registered"]
        assert [m.routing_key for m in self.unsent(store)] == ["Registered"]
        assert store.count_dead_letters() == 1 and store.dead_letter("l-1") is not None
        store.append("case-1", 1, [ev("Closed")])
        assert store.last_position() == 3

    # -- dead letters ------------------------------------------------------------------------
    def test_dead_letters(self):
        store = self.open()
        t0 = datetime(2026, 11, 30, 3, 0, 0, 123456, tzinfo=timezone.utc)
        first = DeadLetter(id="d1", source="gm.inbound", reason="bad json", body=b"\x00{",
                           routing_key="court.referral", properties={"message_id": "m1"},
                           parked_at=t0, attempts=3)
        second = DeadLetter(id="d2", source="assignment:intake", reason="boom",
                            body="案件".encode(), parked_at=t0 + timedelta(seconds=1))
        assert store.count_dead_letters() == 0 and store.dead_letters() == []
        store.park(second)
        store.park(first)
        assert [d.id for d in store.dead_letters()] == ["d1", "d2"]  # oldest first
        assert store.dead_letter("d1") == first
        assert store.dead_letter("d2") == second
        assert store.dead_letter("nope") is None
        assert store.count_dead_letters() == 2
        assert [d.id for d in store.dead_letters(limit=1)] == ["d1"]
        assert [d.id for d in store.dead_letters(limit=5, offset=1)] == ["d2"]
        store.park(DeadLetter(id="d1", source="gm.inbound", reason="still bad", body=b"\x00{",
                              attempts=4))  # idempotent on id, keeps its place
        assert store.count_dead_letters() == 2
        again = store.dead_letter("d1")
        assert (again.reason, again.attempts, again.parked_at) == ("still bad", 4, t0)
        assert store.remove_dead_letter("d1") is True
        assert store.remove_dead_letter("d1") is False
        assert [d.id for d in store.dead_letters()] == ["d2"]
        assert store.count_dead_letters() == 1

    def test_answer_and_dead_letter_in_one_commit(self):
        """An agency's rejected answer and the letter keeping its message land together,
        and a commit refused as a duplicate parks nothing."""
        store = self.open()
        answer = OutboxMessage("gm.outbound", "court.rejected", {"errors": {"body": ["x"]}})
        letter = DeadLetter(id="gm.inbound:m1:1", source="gm.inbound", reason="rejected",
                            body=b"{", routing_key="court.referral")
        assert store.append(None, None, outbox=[answer], processed=[Processed("inbound:m1")],
                            dead_letter=letter) == []
        assert [m.routing_key for m in self.unsent(store)] == ["court.rejected"]
        assert store.dead_letter(letter.id) == letter
        again = DeadLetter(id="gm.inbound:m1:2", source="gm.inbound", reason="rejected",
                           body=b"{")
        with pytest.raises(DuplicateMessage):
            store.append(None, None, outbox=[answer], processed=[Processed("inbound:m1")],
                         dead_letter=again)
        assert store.dead_letter(again.id) is None and store.count_dead_letters() == 1
        assert len(self.unsent(store)) == 1

    def test_parking_cannot_fail_on_what_arrived(self):
        """Whatever a broker hands over is parked: lone surrogates and escaped bytes in
        ids and properties, bytes where text belongs, a body over the limit."""
        store = self.open()
        huge = b"[" * (MAX_LETTER_BODY + 1000)
        letter = DeadLetter(
            id="gm.inbound:\ud800\udcff:1", source="gm.inbound", reason="bad \udcfe input",
            body=huge, routing_key="court.\udcff",
            properties={"message_id": "\ud800", "headers": {b"k\xff": b"\xff", "n": [1, b"\xfe"]},
                        "content_type": "text/\udcff", "priority": 3, "other": object()})
        store.append(None, None, dead_letter=letter)
        [kept] = store.dead_letters()
        assert kept.id == "gm.inbound:\\ud800\\udcff:1"  # escaped, not dropped
        assert store.dead_letter(kept.id) == kept
        assert kept.reason == "bad \\udcfe input" and kept.routing_key == "court.\\udcff"
        assert kept.properties["message_id"] == "\\ud800"
        assert kept.properties["headers"] == {"k\\xff": "\\xff", "n": [1, "\\xfe"]}
        assert kept.properties["priority"] == 3 and kept.properties["content_type"] == "text/\\udcff"
        assert kept.body == huge[:MAX_LETTER_BODY] and kept.truncated
        assert kept.body_size == len(huge)
        assert kept.body_sha256 == hashlib.sha256(huge).hexdigest()
        small = DeadLetter(id="d-small", source="q", reason="r", body=b"{}")
        store.park(small)
        assert not store.dead_letter("d-small").truncated
        assert store.dead_letter("d-small").body_sha256 == hashlib.sha256(b"{}").hexdigest()

    # -- upcasting and metadata ------------------------------------------------------------
    def test_upcasting_on_read(self):
        writer = self.open()
        writer.append("case-1", NO_STREAM, [
            NewEvent("Registered", {"name": "Li Lei"}, schema_version=1),
            NewEvent("Noted", {"text": "t"}, schema_version=1)])
        writer.append("case-1", 2, [
            NewEvent("Registered", {"names": ["Han"], "channel": "visit"}, schema_version=3)])
        upcasters = Upcasters()

        @upcasters.register("Registered", 1)
        def _v1(data):
            return {"names": [data["name"]]}

        @upcasters.register("Registered", 2)
        def _v2(data):
            return {**data, "channel": "unknown"}

        reader = self.open(upcasters=upcasters)
        for events in (reader.read_stream("case-1"), reader.read_log()):
            assert [(e.type, e.schema_version, dict(e.data)) for e in events] == [
                ("Registered", 3, {"names": ["Li Lei"], "channel": "unknown"}),
                ("Noted", 1, {"text": "t"}),
                ("Registered", 3, {"names": ["Han"], "channel": "visit"}),
            ]
        # The stored event is never rewritten: a reader without upcasters sees v1.
        assert writer.read_stream("case-1")[0].schema_version == 1
        assert writer.read_stream("case-1")[0].data == {"name": "Li Lei"}

    def test_metadata_round_trip(self):
        store = self.open()
        when = datetime(2026, 11, 30, 11, 48, 17, 123456, tzinfo=timezone(timedelta(hours=8)))
        event = NewEvent(
            type="Registered", schema_version=2, occurred_at=when, actor="clerk-7",
            agency="court", correlation_id="case-42", causation_id="msg-9",
            data={"title": "邻里纠纷", "n": 3, "ratio": 0.5, "flags": [True, False, None],
                  "nested": {"a": {"b": [1, "二"]}}})
        [recorded] = store.append("case-42", NO_STREAM, [event])
        for read in (store.read_stream("case-42")[0], store.read_log()[0],
                     self.open().read_log()[0]):
            assert read == recorded
            assert read.occurred_at == when
            assert read.occurred_at.utcoffset() == timedelta(0)
            assert read.occurred_at.microsecond == 123456
            assert (read.id, read.actor, read.agency, read.correlation_id, read.causation_id,
                    read.schema_version) == (event.id, "clerk-7", "court", "case-42", "msg-9", 2)
            assert dict(read.data) == dict(event.data)
        [message] = self.unsent(store)
        assert RecordedEvent.from_dict(message.body) == recorded

    def test_naive_time_is_refused(self):
        store = self.open()
        with pytest.raises(ValueError):
            store.append("s", NO_STREAM, [NewEvent("T", {}, occurred_at=datetime(2026, 1, 1))])
        assert store.last_position() == 0

    # -- the tamper-evident record ----------------------------------------------------------
    def test_a_link_hashes_prev_hash_and_its_events_as_stored(self):
        """The format, pinned: SHA-256 over the previous hash (hex) and the canonical JSON
        of the stored events (sorted keys, no whitespace, ASCII) — the same on every adapter."""
        store = self.open()
        when = datetime(2026, 11, 30, 3, 48, 17, 123456, tzinfo=timezone.utc)
        event = NewEvent(type="CaseRegistered", id="e-1", occurred_at=when, actor="clerk-7",
                         correlation_id="case-42",
                         data={"summary": "邻里纠纷", "n": 3,  # personal fields come encrypted
                               "parties": [{"role": "applicant", "name": {"enc": "v1:AbC="}}]})
        store.append("case-42", NO_STREAM, [event])
        stored = (b'[{"actor":"clerk-7","agency":null,"causation_id":null,'
                  b'"correlation_id":"case-42","data":{"n":3,"parties":[{"name":{"enc":'
                  b'"v1:AbC="},"role":"applicant"}],"summary":"\\u90bb\\u91cc\\u7ea0\\u7eb7"},'
                  b'"id":"e-1","occurred_at":"2026-11-30T03:48:17.123456Z","position":1,'
                  b'"schema_version":1,"stream_id":"case-42","type":"CaseRegistered",'
                  b'"version":1}]')
        first = hashlib.sha256(b"0" * 64 + stored).hexdigest()
        assert first == "367d9c8c7671b1ae41bff4871294f84073fcc36ab57fa38a6fb4410d3af2367f"
        report = store.verify_chain()
        assert (report.ok, report.commits, report.events, report.head_position,
                report.head_hash) == (True, 1, 1, 1, first)
        [more] = store.append("case-42", 1, [ev("Closed")])
        assert store.verify_chain().head_hash == link_hash(first, [stored_event(more)])

    def _logged(self, store: EventStore) -> List[str]:
        """Four commits: a 1..2, b 3, a 4..5, c 6, with commits without events between
        them; the links' hashes as the chain defines them, from what a read gives back."""
        store.append("a", NO_STREAM, [ev(n=1), ev(n=2)], processed=[Processed("m-1")])
        store.append(None, None, outbox=[OutboxMessage("gm.outbound", "ack", {})])
        store.append("b", NO_STREAM, [ev(n=3)], tracking=Tracking("feed:x", 1))
        store.park(DeadLetter(id="d-1", source="q", reason="bad", body=b"x"))
        store.append("a", 2, [ev(n=4), ev(n=5)])
        store.append("c", NO_STREAM, [ev(n=6)])
        log = self.all_events(store)
        hashes, prev = [], GENESIS
        for span in ((0, 2), (2, 3), (3, 5), (5, 6)):
            prev = link_hash(prev, [stored_event(e) for e in log[span[0]:span[1]]])
            hashes.append(prev)
        return hashes

    def test_an_untouched_log_verifies_whatever_is_pruned_or_sent(self):
        store = self.open()
        empty = store.verify_chain()
        assert (empty.ok, empty.commits, empty.events, empty.head_hash) == (True, 0, 0, GENESIS)
        hashes = self._logged(store)
        store.mark_sent([m.outbox_id for m in store.pending_outbox()])
        store.remove_dead_letter("d-1")
        store.prune(utcnow() + timedelta(seconds=1))  # outbox, keys, tracking: not chained
        for handle in (store, self.open()):
            report = handle.verify_chain()
            assert report.to_dict() == {
                "ok": True, "commits": 4, "events": 6, "head_position": 6,
                "head_hash": hashes[-1], "migrated_through": 0, "broken": None}
        audit = store.verify_stream("a")
        assert audit.ok and [(c.first_position, c.last_position) for c in audit.commits] == [
            (1, 2), (4, 5)]
        assert store.verify_stream("nobody").commits == []

    def test_writers_on_two_handles_and_threads_make_one_chain(self):
        a, b = self.open(), self.open()
        for i in range(6):
            (a if i % 2 == 0 else b).append(f"s{i}", NO_STREAM, [ev(i=i)])

        def writer(w: int) -> None:
            for i in range(10):
                a.append(f"w{w}", i, [ev(w=w, i=i)])

        assert run_in_threads(writer, 3, timeout=30) == []
        report = b.verify_chain()
        assert report.ok and (report.commits, report.events) == (36, 36)

    def test_changed_event_data_is_named(self):
        store = self.open()
        hashes = self._logged(store)
        self.alter_event_data(store, 4, {"n": 40})
        broken = store.verify_chain()
        assert not broken.ok and (broken.commits, broken.events) == (2, 3)
        log = self.all_events(store)
        found = link_hash(hashes[1], [stored_event(e) for e in log[3:5]])
        assert broken.broken.to_dict() == {
            "position": 4, "last_position": 5, "stream_id": "a", "problem": EVENTS_ALTERED,
            "expected": hashes[2], "found": found,
            "description": f"commit at positions 4..5 (stream a): events altered: "
                           f"expected {hashes[2]}, found {found}"}
        audit = store.verify_stream("a")
        assert [(c.first_position, c.ok) for c in audit.commits] == [(1, True), (4, False)]
        assert audit.commits[1].broken.problem == EVENTS_ALTERED
        assert store.verify_stream("b").ok and store.verify_stream("c").ok

    def test_a_deleted_event_is_named(self):
        store = self.open()
        self._logged(store)
        self.delete_event(store, 5)
        broken = store.verify_chain().broken
        assert (broken.position, broken.last_position, broken.problem, broken.expected,
                broken.found) == (4, 5, EVENTS_MISSING, "positions 4..5", "positions 4")
        self.delete_event(store, 3)  # the only event of its commit
        broken = store.verify_chain().broken
        assert (broken.position, broken.problem, broken.found) == (3, EVENTS_MISSING, "no event")
        assert not store.verify_stream("b").ok

    def test_a_deleted_commit_is_named(self):
        store = self.open()
        self._logged(store)
        self.delete_commit(store, 3)
        broken = store.verify_chain().broken
        assert (broken.position, broken.last_position, broken.problem, broken.expected,
                broken.found) == (3, 3, COMMIT_MISSING, "a commit from position 3",
                                  "the next commit from position 4")
        [a1, a2] = store.verify_stream("a").commits
        assert a1.ok and a2.broken.problem == COMMIT_MISSING

    def test_reordered_events_are_named(self):
        store = self.open()
        hashes = self._logged(store)
        self.swap_events(store, 2, 3)
        broken = store.verify_chain().broken
        assert (broken.position, broken.last_position, broken.problem, broken.expected) == (
            1, 2, EVENTS_ALTERED, hashes[0])
        # a's second event and b's traded commits: both streams show it
        assert (1, False) in [(c.first_position, c.ok) for c in store.verify_stream("a").commits]
        assert (3, False) in [(c.first_position, c.ok) for c in store.verify_stream("b").commits]

    def test_an_altered_hash_is_named(self):
        store = self.open()
        hashes = self._logged(store)
        self.alter_link_hash(store, 3, "f" * 64)
        broken = store.verify_chain().broken
        assert (broken.position, broken.problem, broken.expected, broken.found) == (
            3, HASH_ALTERED, hashes[1], "f" * 64)
        self.alter_link_hash(store, 3, hashes[1])
        assert store.verify_chain().ok
        self.alter_link_hash(store, 6, "e" * 64)  # the head: nothing after it to tell which
        broken = store.verify_chain().broken
        assert (broken.position, broken.problem, broken.expected, broken.found) == (
            6, ALTERED, "e" * 64, hashes[3])

    def test_events_without_a_link_are_named(self):
        store = self.open()
        self._logged(store)
        self.unlink_commit(store, 3)
        broken = store.verify_chain().broken
        assert (broken.position, broken.last_position, broken.problem) == (3, 3, UNCHAINED)
        # Nothing links it again: not a handle opened later, not the next append.
        again = self.open()
        again.append("c", 1, [ev(n=7)])
        assert again.verify_chain().broken.position == 3
        assert [c.ok for c in again.verify_stream("b").commits] == [False]

    def test_a_tail_cut_off_is_what_the_head_noted_elsewhere_shows(self):
        """SHA-256 has no key: removing the last commits leaves a shorter chain that
        verifies. Only a head noted outside the store (gm audit verify prints it) shows."""
        store = self.open()
        hashes = self._logged(store)
        self.delete_commit(store, 6)
        report = store.verify_chain()
        assert report.ok and (report.head_position, report.head_hash) == (5, hashes[2])
        store.append("c", NO_STREAM, [ev(n=7)])  # the log goes on from the shorter chain
        assert store.verify_chain().ok

    # -- lifecycle ---------------------------------------------------------------------------
    def test_ping(self):
        store = self.open()
        store.ping()
        store.close()
        with pytest.raises(StoreUnavailable):
            store.ping()
        store.close()  # closing twice is harmless
