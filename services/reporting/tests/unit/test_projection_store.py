"""The projection store port: one contract suite, passed by both adapters (SQLite file,
MongoDB on mongomock), plus what only one adapter can show."""
from __future__ import annotations

import mongomock
import pytest

from gm_kernel import DuplicateMessage, StoreError
from gm_reporting.store import open_projection_store, projection_path
from gm_reporting.store.layout import CASES
from gm_reporting.store.mongo import MongoProjectionStore
from gm_reporting.store.port import Eq, Range, all_of
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.store_contract import TALLY, ProjectionStoreContract, ev, run

pytestmark = pytest.mark.timeout(60)


class TestSQLiteProjections(ProjectionStoreContract):
    def make_store(self):
        return SQLiteProjectionStore(self.tmp_path / "reporting-projections.db")


class TestMongoProjections(ProjectionStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self):
        self.client = mongomock.MongoClient()  # one in-memory server per test

    def make_store(self):
        return MongoProjectionStore(self.client.get_database("gm_reporting"), switch_grace=0)


# -- MongoDB without transactions: conditional, revision-guarded writes ---------------------
@pytest.fixture
def mongo():
    db = mongomock.MongoClient().get_database("gm_reporting")
    store = MongoProjectionStore(db, switch_grace=0)
    store.ensure(TALLY)
    return store


def test_crash_between_documents_and_position_counts_nothing_twice(mongo, monkeypatch):
    real = MongoProjectionStore._move_position
    calls = []

    def crash_once(self, *args):
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("process killed after the documents were written")
        return real(self, *args)

    monkeypatch.setattr(MongoProjectionStore, "_move_position", crash_once)
    events = run(("k1", "x", 5), ("k2", "x", 1))
    with pytest.raises(ConnectionError):
        mongo.apply(TALLY, "a", events)
    assert mongo.position("tally", "a") == 0  # the documents were written, not the position
    mongo.apply(TALLY, "a", events)  # the feed applies the events again
    with mongo.reader(TALLY) as r:
        assert r.get("items", "k1")["total"] == 5 and r.get("kinds", "x")["n"] == 2
    assert mongo.position("tally", "a") == 2


def test_revision_conflict_reloads_and_applies_again(mongo, monkeypatch):
    """Another writer changed a document between our read and our write."""
    mongo.apply(TALLY, "b", [ev(1, key="k1", amount=10)])
    real = MongoProjectionStore._load
    raced = []

    def load_then_race(self, *args):
        docs = real(self, *args)
        if not raced:
            raced.append(True)
            other = MongoProjectionStore(self._db, switch_grace=0)
            other.apply(TALLY, "b", [ev(2, key="k1", amount=100)])
        return docs

    monkeypatch.setattr(MongoProjectionStore, "_load", load_then_race)
    mongo.apply(TALLY, "a", [ev(1, key="k1", amount=1)])
    with mongo.reader(TALLY) as r:
        assert r.get("items", "k1")["total"] == 111  # no update lost
        assert r.get("items", "k1")["n"] == 3


def test_racing_replicas_apply_an_event_once(mongo, monkeypatch):
    """Both read position 0; the first writes documents and position; the second's
    conditional writes fail and it finds the position moved: a duplicate."""
    real = MongoProjectionStore._position_of
    raced = []

    def stale_then_race(self, name, number, source):
        position = real(self, name, number, source)
        if not raced and source == "a":
            raced.append(True)
            MongoProjectionStore(self._db, switch_grace=0).apply(TALLY, "a", [ev(1, amount=7)])
        return position

    monkeypatch.setattr(MongoProjectionStore, "_position_of", stale_then_race)
    with pytest.raises(DuplicateMessage):
        mongo.apply(TALLY, "a", [ev(1, amount=7)])
    monkeypatch.undo()
    with mongo.reader(TALLY) as r:
        assert r.get("items", "k1")["total"] == 7
    assert mongo.position("tally", "a") == 1


def test_indexes_follow_the_table_specs(mongo):
    gen = mongo.active("tally").number
    info = mongo._db.get_collection(f"projection_tally_items_g{gen}").index_information()
    assert {tuple(k for k, _ in v["key"]) for v in info.values()} >= {
        ("kind", "at"), ("region",), ("at",)}


# -- where the store lives ------------------------------------------------------------------
def test_projection_store_uri_follows_the_event_store(tmp_path):
    assert projection_path(None, data_dir=str(tmp_path)) == \
        str(tmp_path / "reporting-projections.db")
    assert projection_path("sqlite:////srv/gm/reporting.db") == \
        "/srv/gm/reporting-projections.db"
    assert projection_path("sqlite:///:memory:") == ":memory:"
    store = open_projection_store(None, data_dir=str(tmp_path / "var"))
    try:
        assert isinstance(store, SQLiteProjectionStore)
        assert (tmp_path / "var" / "reporting-projections.db").exists()
    finally:
        store.close()
    mock = open_projection_store("mongomock://localhost/gm_reporting_test")
    try:
        assert isinstance(mock, MongoProjectionStore) and mock._db.name == "gm_reporting_test"
        mock.ensure(TALLY)
    finally:
        mock.close()
    with pytest.raises(ValueError):
        open_projection_store("postgres://x/y")


def test_sqlite_tables_and_indexes(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    try:
        gen = store.ensure(TALLY).number
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
            (f"p_tally_items_g{gen}",))}
        assert {f"p_tally_items_g{gen}_i0", f"p_tally_items_g{gen}_i1"} <= indexes
        plan = " ".join(str(r) for r in db.execute(
            f"EXPLAIN QUERY PLAN SELECT key FROM p_tally_items_g{gen} WHERE kind = 'x' "
            "ORDER BY at DESC"))
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan
    finally:
        store.close()


def test_a_switch_that_died_half_way_does_not_freeze_the_projection(mongo):
    """`gm projections rebuild` killed after freezing the projection for its switch: the
    next applier waits at most for a freeze that could still be live, then lifts it; the
    active generation is the one it was."""
    from datetime import timedelta

    from gm_kernel import StoreUnavailable, format_time, utcnow

    active = mongo.active("tally").number
    mongo.apply(TALLY, "a", [ev(1, amount=2)])
    new = mongo.create_generation(TALLY)
    mongo.frozen_wait = 0.2
    mongo._meta.update_one({"_id": "tally"}, {"$set": {  # what the dead switch left
        "frozen": new.number, "frozen_at": format_time(utcnow())}})
    with pytest.raises(StoreUnavailable, match="switching"):  # a live switch: wait for it
        mongo.apply(TALLY, "a", [ev(2, amount=3)])
    mongo._meta.update_one({"_id": "tally"}, {"$set": {
        "frozen_at": format_time(utcnow() - timedelta(seconds=mongo.stale_freeze + 1))}})
    mongo.apply(TALLY, "a", [ev(2, amount=3)])  # stale: lifted, and the event applied
    assert mongo.active("tally").number == active
    assert mongo.position("tally", "a") == 2
    with mongo.reader(TALLY) as r:
        assert r.get("items", "k1")["total"] == 5


# -- SQLite's bulk application: documents held between pages -------------------------------
def test_sqlite_bulk_writes_nothing_until_it_flushes(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    try:
        store.ensure(TALLY)
        new = store.create_generation(TALLY).number
        with store.bulk(TALLY, new) as bulk:
            bulk.apply("a", run(("k1", "x", 5), ("k2", "x", 1)))
            assert store.position("tally", "a", new) == 0
            with store.reader(TALLY, new) as r:
                assert r.count("items") == 0
            bulk.flush()
            assert store.position("tally", "a", new) == 2
            bulk.apply("a", [ev(3, key="k1", amount=2)])
        with store.reader(TALLY, new) as r:
            assert r.get("items", "k1")["total"] == 7
        assert store.position("tally", "a", new) == 3
    finally:
        store.close()


def test_sqlite_bulk_lets_documents_go_and_reads_them_back(tmp_path):
    """Past its memory budget a bulk flushes and lets go of what it held; the documents
    it meets again are read back from the generation (and one that was never written
    is known absent only while the generation is new)."""
    events = [ev(i + 1, key=f"k{i % 7}", kind="xyz"[i % 3], amount=i) for i in range(60)]
    one = SQLiteProjectionStore(tmp_path / "one.db")
    few = SQLiteProjectionStore(tmp_path / "few.db", bulk_documents=4)
    try:
        one.ensure(TALLY)
        for i in range(0, 60, 9):
            one.apply(TALLY, "a", events[i:i + 9])
        few.ensure(TALLY)
        new = few.create_generation(TALLY).number
        with few.bulk(TALLY, new) as bulk:
            for i in range(0, 60, 9):
                bulk.apply("a", events[i:i + 9])
        with few.bulk(TALLY, new) as bulk:  # a second round starts from what is stored
            assert bulk.position("a") == 60
            bulk.apply("b", [ev(1, key="k3", amount=100)])
        one.apply(TALLY, "b", [ev(1, key="k3", amount=100)])
        few.activate(TALLY, new)
        assert few.dump(TALLY) == one.dump(TALLY)
    finally:
        one.close()
        few.close()


def test_sqlite_bulk_refuses_to_flush_over_another_writer(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    try:
        store.ensure(TALLY)
        new = store.create_generation(TALLY).number
        with pytest.raises(StoreError, match="another writer"):
            with store.bulk(TALLY, new) as bulk:
                bulk.apply("a", run(("k1", "x", 5)))
                store.apply(TALLY, "a", run(("k1", "x", 5)), generation=new)  # a misuse
        with store.reader(TALLY, new) as r:
            assert r.get("items", "k1")["n"] == 1  # counted once
    finally:
        store.close()


def test_sqlite_counts_and_tallies_read_a_covering_index(tmp_path):
    """A month's review requests within a county, and a county's overdue cases, are
    answered from an index alone (SQLite's planner, left alone, walked the county's rows
    through an index led by county); a generation not yet indexed still answers."""
    store = SQLiteProjectionStore(tmp_path / "p.db")
    try:
        store.ensure(CASES)
        db = store._db
        month = Range("review_requested_on", gte="2026-10-01", lt="2026-11-01")
        overdue = all_of(Range("registered_at", gte=""), Eq("county", "410611"),
                         Eq("open", 1), Range("late_from", lt="2026-11-30T04:00:00Z"))
        seen = []
        db.set_trace_callback(seen.append)
        with store.reader(CASES) as r:
            assert r.count("cases", all_of(month, Eq("county", "410611"))) == 0
            decided = Range("review_decided_on", gte="2026-10-01", lt="2026-11-01")
            assert r.tally("cases", all_of(decided, Eq("township", "410611100")),
                           sums=("review_on_time",))[0].n == 0
            assert r.count("cases", overdue) == 0
        db.set_trace_callback(None)
        queries = [s for s in seen if s.startswith("SELECT COUNT")]
        assert len(queries) == 3
        for sql in queries:
            plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
            assert "COVERING INDEX" in plan, (sql, plan)
        building = store.create_generation(CASES).number  # no secondary indexes yet
        with store.reader(CASES, building) as r:
            assert r.count("cases", all_of(month, Eq("county", "410611"))) == 0
    finally:
        store.close()
