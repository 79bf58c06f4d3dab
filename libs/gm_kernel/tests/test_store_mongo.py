"""MongoDB adapter on mongomock: the shared contract, the races its unique indexes settle
(simulated: mongomock's inserts are not thread-safe), and mongomock's own limits."""
from __future__ import annotations

import mongomock
import pytest
from pymongo.errors import DuplicateKeyError

from gm_kernel import (
    NO_STREAM,
    ConcurrencyError,
    DuplicateMessage,
    NewEvent,
    OutboxMessage,
    Processed,
    StoreError,
    Tracking,
)
from gm_kernel.store.mongo import MongoEventStore
from gm_kernel.testing import StoreContract
from gm_kernel.testing.tampering import MongoTampering

pytestmark = pytest.mark.timeout(60)


def ev(**data) -> NewEvent:
    return NewEvent("Tick", data)


class TestMongoStore(MongoTampering, StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self):
        self.client = mongomock.MongoClient()  # one in-memory server per test

    def make_store(self, service="svc", upcasters=None):
        return MongoEventStore(self.client.get_database(f"gm_{service}"), service, upcasters)


@pytest.fixture
def db():
    return mongomock.MongoClient().get_database("gm_svc")


def test_commit_documents(db):
    store = MongoEventStore(db, "svc")
    store.append("s", NO_STREAM, [ev(i=0), ev(i=1)], processed=[Processed("k", {"r": 1})],
                 tracking=Tracking("c:src", 4))
    store.append(None, None, outbox=[OutboxMessage("gm.outbound", "ack", {})])
    first, second = db.commits.find().sort("committed_at", 1)
    assert first["_id"] == 1 and first["position_end"] == 2
    assert (first["stream_id"], first["version_start"], first["version_end"]) == ("s", 1, 2)
    assert [e["position"] for e in first["events"]] == [1, 2]
    assert first["processed_keys"] == ["k"] and first["tracking"] == {"name": "c:src", "position": 4}
    assert first["pending"] is True and first["outbox_count"] == 2
    assert second["_id"].startswith("m:")
    for field in ("stream_id", "version_start", "position_end", "events", "processed_keys",
                  "tracking"):
        assert field not in second  # so the partial unique indexes skip it
    store.append(None, None, outbox=[OutboxMessage("gm.outbound", "ack", {})])  # no clash


def test_unique_indexes(db):
    MongoEventStore(db, "svc")
    info = db.commits.index_information()
    for name in ("stream_version", "processed_keys", "tracking", "event_ids"):
        assert info[name]["unique"] and info[name]["partialFilterExpression"], name
    MongoEventStore(db, "svc")  # reopening does not fail on existing indexes


def test_commit_is_marked_sent_when_all_its_messages_are(db):
    store = MongoEventStore(db, "svc")
    store.append("s", NO_STREAM, [ev(i=0), ev(i=1)])
    ids = [m.outbox_id for m in store.pending_outbox()]
    assert ids == ["1:0", "1:1"]
    store.mark_sent(ids[:1])
    assert db.commits.find_one({"_id": 1})["pending"] is True
    store.mark_sent(ids[1:])
    assert db.commits.find_one({"_id": 1})["pending"] is False
    with pytest.raises(ValueError):
        store.mark_sent(["not-an-id"])


# -- races, forced: the other writer commits between our checks and our insert ---------
def test_taken_position_is_retried(db, monkeypatch):
    a, b = MongoEventStore(db, "svc"), MongoEventStore(db, "svc")
    a.append("a", NO_STREAM, [ev(i=0)])
    real = MongoEventStore._write_head
    calls = []

    def stale_once(self):
        head = real(self)
        if not calls:  # b writes after we read the end of the log (and its hash)
            calls.append(head)
            b.append("b", NO_STREAM, [ev(i=1), ev(i=2)])
        return head

    monkeypatch.setattr(MongoEventStore, "_write_head", stale_once)
    [recorded] = a.append("a", 1, [ev(i=3)])
    assert recorded.position == 4
    assert [e.position for e in a.read_log()] == [1, 2, 3, 4]
    # The retry linked to b's commit, not to the stale head it first read.
    assert db.commits.find_one({"_id": 4})["prev_hash"] == db.commits.find_one({"_id": 2})["hash"]
    report = a.verify_chain()
    assert report.ok and (report.commits, report.events) == (3, 4)


def test_position_retries_are_bounded(db, monkeypatch):
    store = MongoEventStore(db, "svc")
    store.append("a", NO_STREAM, [ev()])
    monkeypatch.setattr(MongoEventStore, "_write_head", lambda self: (0, "0" * 64))
    monkeypatch.setattr(MongoEventStore, "max_position_attempts", 3)
    with pytest.raises(StoreError, match="3 attempts"):
        store.append("b", NO_STREAM, [ev()])
    assert store.last_position() == 1


def test_version_race_is_a_concurrency_error(db, monkeypatch):
    store = MongoEventStore(db, "svc")
    store.append("s", NO_STREAM, [ev()])
    real = MongoEventStore._stream_version_for_write
    reads = []

    def stale_once(self, stream_id):  # the other writer committed v1 after we looked
        reads.append(stream_id)
        return 0 if len(reads) == 1 else real(self, stream_id)

    monkeypatch.setattr(MongoEventStore, "_stream_version_for_write", stale_once)
    with pytest.raises(ConcurrencyError) as info:  # the (stream_id, version_start) index
        store.append("s", NO_STREAM, [ev()])
    assert (info.value.expected, info.value.actual) == (0, 1)
    assert store.last_position() == 1


def test_processed_race_is_a_duplicate(db, monkeypatch):
    store = MongoEventStore(db, "svc")
    store.append("s", NO_STREAM, [ev()], processed=[Processed("k", {"first": True})])
    checks = []
    real = MongoEventStore._refuse_duplicates

    def skip_first_check(self, commit):
        checks.append(commit)
        if len(checks) > 1:  # the re-check after the duplicate-key error is real
            real(self, commit)

    monkeypatch.setattr(MongoEventStore, "_refuse_duplicates", skip_first_check)
    with pytest.raises(DuplicateMessage) as info:
        store.append("t", NO_STREAM, [ev()], processed=[Processed("k")])
    assert info.value.result == {"first": True}
    assert store.last_position() == 1


def test_tracking_race_is_a_duplicate(db, monkeypatch):
    store = MongoEventStore(db, "svc")
    store.append(None, None, tracking=Tracking("c:src", 1))
    real = MongoEventStore._refuse_duplicates
    checks = []

    def skip_first_check(self, commit):
        checks.append(commit)
        if len(checks) > 1:
            real(self, commit)

    monkeypatch.setattr(MongoEventStore, "_refuse_duplicates", skip_first_check)
    with pytest.raises(DuplicateMessage):
        store.append("s", NO_STREAM, [ev()], tracking=Tracking("c:src", 1))
    assert store.last_position() == 0


def test_read_log_never_skips_a_gap(db):
    """Belt and braces: should a read ever miss a commit, stop before the gap."""
    store = MongoEventStore(db, "svc")
    store.append("a", NO_STREAM, [ev()])
    store.append("b", NO_STREAM, [ev(), ev()])
    store.append("c", NO_STREAM, [ev()])
    db.commits.delete_one({"_id": 2})  # as if positions 2-3 were not visible yet
    assert [e.position for e in store.read_log()] == [1]
    assert store.read_log(3) == store.read_log(3, 10)
    assert [e.position for e in store.read_log(3)] == [4]


# -- what mongomock does not do (if these start failing, mongomock got better) ----------
def test_mongomock_does_not_enforce_unique_values_inside_arrays():
    col = mongomock.MongoClient().db.c
    col.create_index([("keys", 1)], unique=True,
                     partialFilterExpression={"keys": {"$exists": True}})
    col.insert_one({"_id": 1, "keys": ["a", "b"]})
    col.insert_one({"_id": 2, "keys": ["c", "b"]})  # the server refuses this one
    with pytest.raises(DuplicateKeyError):
        col.insert_one({"_id": 3, "keys": ["a", "b"]})  # only whole arrays are compared


def test_duplicate_inside_key_lists_is_caught_without_the_index(db):
    """So the adapter's checks, not the index, catch it on mongomock."""
    store = MongoEventStore(db, "svc")
    store.append(None, None, processed=[Processed("a"), Processed("b", {"r": "b"})])
    with pytest.raises(DuplicateMessage) as info:
        store.append(None, None, processed=[Processed("c"), Processed("b")])
    assert info.value.key == "b"


def test_letters_of_the_older_collection_move_into_commits(db):
    """Before letters lived in their commits they had a collection: opening the store
    moves each into a commit once, in its place in the list."""
    db.dead_letters.insert_many([
        {"_id": "old-1", "source": "gm.inbound", "reason": "bad", "body": b"{",
         "routing_key": "court.referral", "properties": {"message_id": "m"},
         "parked_at": "2026-11-30T03:00:00.000000Z", "attempts": 3},
        {"_id": "old-2", "source": "q", "reason": "boom", "body": b"x", "routing_key": None,
         "properties": {}, "parked_at": "2026-11-30T04:00:00.000000Z", "attempts": 1}])
    store = MongoEventStore(db, "svc")
    assert db.dead_letters.count_documents({}) == 0
    assert [d.id for d in store.dead_letters()] == ["old-1", "old-2"]
    first = store.dead_letter("old-1")
    assert (first.reason, first.attempts, first.body, first.properties) == (
        "bad", 3, b"{", {"message_id": "m"})
    MongoEventStore(db, "svc")  # opening again moves nothing twice
    assert store.count_dead_letters() == 2
    assert store.remove_dead_letter("old-1") and store.count_dead_letters() == 1


def test_readers_see_only_majority_commits_and_writes_wait_a_bounded_time(db, monkeypatch):
    """A reader can never see n+1 before n nor read what a fail-over could take back
    (read concern majority); a write waits at most `write_timeout` for the majority, and
    one that times out is StoreUnavailable, never a hang."""
    from pymongo.errors import WTimeoutError

    from gm_kernel import StoreUnavailable

    store = MongoEventStore(db, "svc")
    assert store._commits.read_concern.level == "majority"
    concern = store._commits_w.write_concern.document
    assert concern["w"] == "majority" and concern["j"] is True
    assert concern["wtimeout"] == int(store.write_timeout * 1000)

    def times_out(*args, **kwargs):
        raise WTimeoutError("waiting for replication timed out")

    monkeypatch.setattr(store._commits_w, "insert_one", times_out)
    with pytest.raises(StoreUnavailable, match="timed out"):
        store.append("s", NO_STREAM, [ev(n=1)])


def test_commits_from_before_the_chain_are_linked_once_at_start(db):
    """A database written before the chain (or by an older replica during an upgrade):
    its commits at the end of the log get links when a store opens or appends, the same
    links whoever makes them; `meta` records how far the migration went."""
    old = MongoEventStore(db, "svc")
    old.append("a", NO_STREAM, [ev(i=0), ev(i=1)])
    old.append("b", NO_STREAM, [ev(i=2)])
    expected = old.verify_chain()
    db.commits.update_many({}, {"$unset": {"hash": "", "prev_hash": ""}})
    assert not old.verify_chain().ok
    store = MongoEventStore(db, "svc")
    report = store.verify_chain()
    assert (report.ok, report.commits, report.head_hash, report.migrated_through) == (
        True, 2, expected.head_hash, 3)
    db.commits.update_one({"_id": 3}, {"$unset": {"hash": "", "prev_hash": ""}})  # the head
    old.append("c", NO_STREAM, [ev(i=3)])  # links it first, then itself
    report = store.verify_chain()
    assert report.ok and (report.commits, report.events) == (3, 4)
