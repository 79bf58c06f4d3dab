"""The projection store contract: one test suite every adapter must pass.

Like the `eventsourcing` library's recorder test cases (and gm_kernel's StoreContract):
subclass `ProjectionStoreContract` in a `Test...` class and implement `make_store`;
pytest runs every inherited test against your adapter.

    class TestSQLiteProjections(ProjectionStoreContract):
        def make_store(self):
            return SQLiteProjectionStore(self.tmp_path / "p.db")

`make_store()` must open (another handle on) THE projection store of this test's
sandbox: calling it twice gives two store objects over the same data.

The suite uses its own small projection (`TALLY`), so it proves the port, not
reporting's projections; tests/unit/test_delivery.py runs those on both adapters.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import List, Optional

import pytest

from gm_kernel import DuplicateMessage, RecordedEvent, StoreError

from ..store.port import (
    ALL,
    And,
    Behind,
    Eq,
    In,
    Or,
    PositionGap,
    Prefix,
    ProjectionSpec,
    ProjectionStore,
    Range,
    RebuildInProgress,
    TableSpec,
)

T0 = datetime(2026, 1, 31, 16, 0, tzinfo=timezone.utc)


# -- a small projection: items counted per key, with an audit row per event kind --------
def _item_row(s):
    return {"kind": s["kind"], "region": s.get("region"), "n": s["n"], "total": s["total"],
            "at": s["at"], "flag": s["total"] % 2 == 0}


def _kind_row(s):
    return {"n": s["n"]}


def _touch(source, e):
    if e.type == "Ignored":
        return []
    return [("items", e.data["key"]), ("kinds", e.data["kind"])]


def _apply(source, e, docs):
    if e.type == "Boom":
        raise RuntimeError("projector failed")
    out = {}
    for (table, key) in _touch(source, e):
        state = docs.get((table, key))
        if state is not None and state["positions"].get(source, 0) >= e.position:
            continue
        positions = {**(state or {}).get("positions", {}), source: e.position}
        if table == "items":
            out[(table, key)] = {
                "kind": e.data["kind"], "region": e.data.get("region"),
                "n": (state or {}).get("n", 0) + 1,
                "total": (state or {}).get("total", 0) + e.data.get("amount", 0),
                "at": e.data.get("at") or (state or {}).get("at"), "positions": positions}
        else:
            out[(table, key)] = {"n": (state or {}).get("n", 0) + 1, "positions": positions}
    return out


TALLY = ProjectionSpec(
    name="tally", version=1, sources=("a", "b"),
    tables=(TableSpec("items", _item_row,
                      {"kind": "text", "region": "text", "n": "int", "total": "int",
                       "at": "text", "flag": "int"},
                      [("kind", "at"), ("region",), ("at",)]),
            TableSpec("kinds", _kind_row, {"n": "int"}, [])),
    touches=_touch, apply=_apply)
TALLY_V2 = ProjectionSpec(name="tally", version=2, sources=TALLY.sources, tables=TALLY.tables,
                          touches=_touch, apply=_apply)


def ev(position: int, key: str = "k1", kind: str = "x", amount: int = 1, type: str = "Added",
       region: Optional[str] = None, at: Optional[str] = None) -> RecordedEvent:
    return RecordedEvent(id=f"e{position}-{key}", stream_id=f"s-{key}", version=position,
                         position=position, type=type, schema_version=1,
                         occurred_at=T0 + timedelta(minutes=position),
                         data={"key": key, "kind": kind, "amount": amount, "region": region,
                               "at": at})


def run(*specs):
    """Consecutive events from position 1: run(("k1", "x", 5), ...)."""
    return [ev(i + 1, key=k, kind=kind, amount=amount)
            for i, (k, kind, amount) in enumerate(specs)]


class ProjectionStoreContract:
    """Inherit, implement make_store; do not name a subclass without the Test prefix."""

    def make_store(self) -> ProjectionStore:
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _contract_sandbox(self, tmp_path):
        self.tmp_path = tmp_path
        self._opened: List[ProjectionStore] = []
        yield
        for store in reversed(self._opened):
            try:
                store.close()
            except Exception:
                pass

    def open(self) -> ProjectionStore:
        store = self.make_store()
        self._opened.append(store)
        return store

    def ready(self) -> ProjectionStore:
        store = self.open()
        store.ensure(TALLY)
        return store

    @staticmethod
    def items(store, generation=None) -> dict:
        with store.reader(TALLY, generation) as r:
            return {row["key"]: (row["n"], row["total"])
                    for row in r.find("items")}

    # -- generations ---------------------------------------------------------------------
    def test_ensure_creates_one_active_generation(self):
        store = self.open()
        assert store.active("tally") is None
        first = store.ensure(TALLY)
        assert first.active and first.number >= 1 and first.version == 1
        assert store.ensure(TALLY) == first
        assert store.active("tally") == first
        assert [g.number for g in store.generations("tally")] == [first.number]
        assert store.position("tally", "a") == 0 and store.position("tally", "b") == 0

    def test_reopened_store_sees_the_same_data(self):
        store = self.ready()
        store.apply(TALLY, "a", run(("k1", "x", 5)))
        again = self.open()
        assert again.ensure(TALLY) == store.active("tally")
        assert self.items(again) == {"k1": (1, 5)}
        assert again.position("tally", "a") == 1

    # -- applying --------------------------------------------------------------------------
    def test_apply_writes_documents_and_position_together(self):
        store = self.ready()
        result = store.apply(TALLY, "a", run(("k1", "x", 5), ("k2", "y", 1), ("k1", "x", 2)))
        assert (result.applied, result.position) == (3, 3)
        assert self.items(store) == {"k1": (2, 7), "k2": (1, 1)}
        with store.reader(TALLY) as r:
            assert r.get("kinds", "x")["n"] == 2
            assert r.get("items", "k1")["positions"] == {"a": 3}
            assert r.get("items", "nope") is None
        assert store.position("tally", "a") == 3
        assert store.position("tally", "b") == 0

    def test_sources_are_tracked_separately(self):
        store = self.ready()
        store.apply(TALLY, "a", run(("k1", "x", 1), ("k1", "x", 1)))
        store.apply(TALLY, "b", run(("k1", "x", 10)))
        assert self.items(store) == {"k1": (3, 12)}
        assert (store.position("tally", "a"), store.position("tally", "b")) == (2, 1)

    def test_replayed_events_are_duplicates(self):
        store = self.ready()
        events = run(("k1", "x", 5), ("k1", "x", 5))
        store.apply(TALLY, "a", events)
        with pytest.raises(DuplicateMessage):
            store.apply(TALLY, "a", events)
        with pytest.raises(DuplicateMessage):
            store.apply(TALLY, "a", events[:1])
        assert self.items(store) == {"k1": (2, 10)}

    def test_overlapping_run_applies_only_what_is_new(self):
        store = self.ready()
        events = run(("k1", "x", 1), ("k1", "x", 2), ("k1", "x", 4))
        store.apply(TALLY, "a", events[:2])
        result = store.apply(TALLY, "a", events)
        assert (result.applied, result.position) == (1, 3)
        assert self.items(store) == {"k1": (3, 7)}

    def test_gap_is_refused_and_nothing_written(self):
        store = self.ready()
        store.apply(TALLY, "a", [ev(1)])
        with pytest.raises(PositionGap):
            store.apply(TALLY, "a", [ev(3)])
        with pytest.raises(PositionGap):  # a hole inside the run
            store.apply(TALLY, "a", [ev(2), ev(4)])
        assert store.position("tally", "a") == 1
        assert self.items(store) == {"k1": (1, 1)}

    def test_failing_projector_writes_nothing(self):
        store = self.ready()
        with pytest.raises(RuntimeError):
            store.apply(TALLY, "a", [ev(1, key="k1"), ev(2, key="k2"), ev(3, type="Boom")])
        assert store.position("tally", "a") == 0
        assert self.items(store) == {}

    def test_events_touching_nothing_still_advance(self):
        store = self.ready()
        store.apply(TALLY, "a", [ev(1, type="Ignored"), ev(2, type="Ignored")])
        assert store.position("tally", "a") == 2
        assert self.items(store) == {}

    def test_advance_records_a_position_alone(self):
        store = self.ready()
        store.advance("tally", "a", 1)
        assert store.position("tally", "a") == 1
        with pytest.raises(DuplicateMessage):
            store.advance("tally", "a", 1)
        with pytest.raises(PositionGap):
            store.advance("tally", "a", 5)
        store.apply(TALLY, "a", [ev(2)])
        assert store.position("tally", "a") == 2

    def test_two_handles_apply_an_event_once(self):
        one, two = self.ready(), self.open()
        one.apply(TALLY, "a", [ev(1, amount=3)])
        with pytest.raises(DuplicateMessage):
            two.apply(TALLY, "a", [ev(1, amount=3)])
        two.apply(TALLY, "a", [ev(2, amount=4)])
        assert self.items(one) == {"k1": (2, 7)}

    # -- queries ---------------------------------------------------------------------------
    def _sample(self):
        store = self.ready()
        rows = [("k1", "x", 1, "410611", "2026-01-01"), ("k2", "x", 2, "410611100", "2026-01-03"),
                ("k3", "y", 3, "410602", "2026-01-02"), ("k4", "y", 4, None, None),
                ("k5", "z", 6, "4106111002", "2026-01-05")]
        store.apply(TALLY, "a", [ev(i + 1, key=k, kind=kind, amount=amount, region=region, at=at)
                                 for i, (k, kind, amount, region, at) in enumerate(rows)])
        return store

    def test_find_filters(self):
        store = self._sample()
        with store.reader(TALLY) as r:
            def keys(where):
                return sorted(row["key"] for row in r.find("items", where))

            assert keys(ALL) == ["k1", "k2", "k3", "k4", "k5"]
            assert keys(Eq("kind", "x")) == ["k1", "k2"]
            assert keys(Eq("region", None)) == ["k4"]
            assert keys(In("kind", ("y", "z"))) == ["k3", "k4", "k5"]
            assert keys(In("kind", ())) == []
            assert keys(Range("total", gte=2, lt=4)) == ["k2", "k3"]
            assert keys(Range("total", gt=2, lte=4)) == ["k3", "k4"]
            assert keys(Range("at", lt="2026-01-03")) == ["k1", "k3"]  # NULL is not less
            assert keys(Range("at", gte="")) == ["k1", "k2", "k3", "k5"]
            assert keys(Prefix("region", "410611")) == ["k1", "k2", "k5"]
            assert keys(Prefix("region", "4106111")) == ["k2", "k5"]
            assert keys(And((Eq("kind", "y"), Range("total", gte=4)))) == ["k4"]
            assert keys(Or((Eq("kind", "z"), Eq("key", "k1")))) == ["k1", "k5"]
            assert keys(Or(())) == []
            assert keys(And(())) == keys(ALL)
            assert keys(Eq("flag", True)) == ["k2", "k4", "k5"]
            with pytest.raises(ValueError):
                r.find("items", Eq("nope", 1))

    def test_find_orders_pages_and_counts(self):
        store = self._sample()
        with store.reader(TALLY) as r:
            asc = [row["key"] for row in r.find("items", order=[("kind", "asc"), ("at", "asc")])]
            assert asc == ["k1", "k2", "k4", "k3", "k5"]  # NULL first within y
            desc = [row["key"] for row in r.find("items", order=[("total", "desc")])]
            assert desc == ["k5", "k4", "k3", "k2", "k1"]
            page = r.find("items", order=[("total", "desc")], offset=1, limit=2)
            assert [row["key"] for row in page] == ["k4", "k3"]
            assert r.find("items", offset=10) == []
            assert r.count("items") == 5 and r.count("items", Eq("kind", "x")) == 2
            [row] = r.find("items", Eq("key", "k2"), with_state=True)
            assert row["state"]["total"] == 2 and row["region"] == "410611100"
            assert set(row) >= {"key", "kind", "region", "n", "total", "at", "flag", "state"}
            assert "state" not in r.find("items", limit=1)[0]
            # ties broken by key, in the direction of the last ordered column
            same = [row["key"] for row in r.find("items", order=[("n", "desc")])]
            assert same == ["k5", "k4", "k3", "k2", "k1"]

    def test_tally(self):
        store = self._sample()
        with store.reader(TALLY) as r:
            groups = r.tally("items", by=("kind",), sums=("total", "n"))
            assert [(t.group["kind"], t.n, t.sums["total"], t.sums["n"]) for t in groups] == [
                ("x", 2, 3, 2), ("y", 2, 7, 2), ("z", 1, 6, 1)]
            by_region = r.tally("items", Range("total", gte=2), by=("region",))
            assert [(t.group["region"], t.n) for t in by_region] == [
                (None, 1), ("410602", 1), ("410611100", 1), ("4106111002", 1)]
            [whole] = r.tally("items", sums=("total",))
            assert (whole.group, whole.n, whole.sums) == ({}, 5, {"total": 16})
            [empty] = r.tally("items", Eq("kind", "none"), sums=("total",))
            assert (empty.n, empty.sums) == (0, {"total": 0})
            assert r.tally("items", Eq("kind", "none"), by=("kind",)) == []
            two = r.tally("items", by=("kind", "flag"))
            assert [(t.group["kind"], t.group["flag"], t.n) for t in two] == [
                ("x", 0, 1), ("x", 1, 1), ("y", 0, 1), ("y", 1, 1), ("z", 1, 1)]
            with pytest.raises(ValueError):
                r.tally("items", sums=("kind",))  # text cannot be summed
            assert r.count("items", distinct="kind") == 3
            assert r.count("items", Range("total", gte=2), distinct="region") == 3  # not None
            assert r.count("items", Eq("kind", "none"), distinct="kind") == 0

    # -- rebuilding into a new generation ------------------------------------------------
    def test_new_generation_is_separate_until_activated(self):
        store = self.ready()
        store.apply(TALLY, "a", run(("k1", "x", 5)))
        old = store.active("tally")
        new = store.create_generation(TALLY)
        assert new.number > old.number and not new.active
        assert self.items(store, new.number) == {}
        store.apply(TALLY, "a", run(("k1", "x", 5), ("k2", "x", 1)), generation=new.number)
        assert self.items(store) == {"k1": (1, 5)}  # queries still read the old one
        assert store.position("tally", "a", new.number) == 2
        switched = store.activate(TALLY, new.number)
        assert switched.active and store.active("tally").number == new.number
        assert self.items(store) == {"k1": (1, 5), "k2": (1, 1)}
        store.apply(TALLY, "a", [ev(3, key="k3")])  # the live feed goes on in the new one
        assert "k3" in self.items(store) and "k3" not in self.items(store, old.number)
        assert [g.number for g in store.generations("tally")] == [old.number, new.number]

    def test_activation_refused_while_behind_the_live_generation(self):
        store = self.ready()
        store.apply(TALLY, "b", run(("k1", "x", 1), ("k1", "x", 1)))
        new = store.create_generation(TALLY)
        store.apply(TALLY, "b", run(("k1", "x", 1)), generation=new.number)
        with pytest.raises(Behind) as info:
            store.activate(TALLY, new.number)
        assert info.value.lags == {"b": (1, 2)}
        assert not store.active("tally").number == new.number
        store.apply(TALLY, "b", run(("k1", "x", 1), ("k1", "x", 1)), generation=new.number)
        store.activate(TALLY, new.number)
        assert self.items(store) == {"k1": (2, 2)}

    def test_bulk_applies_as_apply_does(self):
        """Runs through `bulk` into a new generation, flushed at the end: the same
        documents and positions as the same runs applied one by one to the live one;
        positions known before the flush."""
        store = self.ready()
        a = run(("k1", "x", 5), ("k2", "y", 1), ("k1", "x", 2), ("k3", "y", 4))
        b = run(("k2", "x", 10), ("k1", "y", 3))
        for source, events in (("a", a[:2]), ("b", b), ("a", a[2:])):
            store.apply(TALLY, source, events)
        new = store.create_generation(TALLY).number
        with store.bulk(TALLY, new) as bulk:
            assert (bulk.position("a"), bulk.position("b")) == (0, 0)
            assert bulk.apply("a", a[:2]).applied == 2
            assert bulk.apply("b", b).position == 2
            result = bulk.apply("a", a)  # overlapping: only what is new
            assert (result.applied, result.position) == (2, 4)
            assert (bulk.position("a"), bulk.position("b")) == (4, 2)
        assert store.dump(TALLY, new) == store.dump(TALLY)
        assert (store.position("tally", "a", new), store.position("tally", "b", new)) == (4, 2)
        store.activate(TALLY, new)

    def test_bulk_refuses_duplicates_and_gaps_and_keeps_nothing_of_a_failed_call(self):
        store = self.ready()
        new = store.create_generation(TALLY).number
        with store.bulk(TALLY, new) as bulk:
            bulk.apply("a", [ev(1, amount=3)])
            with pytest.raises(DuplicateMessage):
                bulk.apply("a", [ev(1, amount=3)])
            with pytest.raises(PositionGap):
                bulk.apply("a", [ev(3)])
            with pytest.raises(RuntimeError):
                bulk.apply("a", [ev(2, key="k1", amount=4), ev(3, key="k9"),
                                 ev(4, type="Boom")])
            assert bulk.position("a") == 1
            bulk.apply("a", [ev(2, amount=4)])
        assert self.items(store, new) == {"k1": (2, 7)}
        assert store.position("tally", "a", new) == 2

    def test_bulk_flushes_nothing_after_an_error(self):
        """A rebuild that fails abandons its generation; what was held is not written
        half-way (the default Bulk writes every call at once: nothing is held)."""
        store = self.ready()
        new = store.create_generation(TALLY).number
        with pytest.raises(ConnectionError):
            with store.bulk(TALLY, new) as bulk:
                bulk.apply("a", run(("k1", "x", 5)))
                raise ConnectionError("a source went away")
        assert store.position("tally", "a", new) in (0, 1)
        assert self.items(store, new) in ({}, {"k1": (1, 5)})
        store.abandon(TALLY, new)

    def test_one_rebuild_at_a_time(self):
        store = self.ready()
        first = store.create_generation(TALLY)
        with pytest.raises(RebuildInProgress):
            store.create_generation(TALLY)
        taken = store.create_generation(TALLY, force=True)  # the first one died
        assert taken.number > first.number
        assert first.number not in [g.number for g in store.generations("tally")]
        store.activate(TALLY, taken.number)
        store.create_generation(TALLY)  # released by the activation

    def test_abandoned_generation_is_dropped_and_releases_the_rebuild(self):
        store = self.ready()
        active = store.active("tally")
        new = store.create_generation(TALLY)
        store.apply(TALLY, "a", run(("k1", "x", 1)), generation=new.number)
        store.abandon(TALLY, new.number)
        assert [g.number for g in store.generations("tally")] == [active.number]
        with pytest.raises(StoreError):
            store.abandon(TALLY, active.number)
        again = store.create_generation(TALLY)
        assert self.items(store, again.number) == {}

    def test_only_the_active_and_previous_generations_are_kept(self):
        store = self.ready()
        numbers = [store.active("tally").number]
        for _ in range(3):
            gen = store.create_generation(TALLY)
            store.activate(TALLY, gen.number)
            numbers.append(gen.number)
        building = store.create_generation(TALLY)
        kept = [g.number for g in store.generations("tally")]
        assert kept == [numbers[-2], numbers[-1], building.number]

    def test_activation_checks_the_version(self):
        store = self.ready()
        gen = store.create_generation(TALLY_V2)
        with pytest.raises(StoreError):
            store.activate(TALLY, gen.number)
        store.activate(TALLY_V2, gen.number)
        assert store.active("tally").version == 2

    def test_put_imports_into_a_generation_that_is_not_active(self):
        store = self.ready()
        gen = store.create_generation(TALLY)
        state = {"kind": "x", "region": "410611", "n": 3, "total": 9, "at": "2026",
                 "positions": {}}
        store.put(TALLY, "items", {"k1": state, "k2": dict(state, total=10)}, gen.number)
        store.put(TALLY, "items", {"k2": dict(state, total=11)}, gen.number)
        with store.reader(TALLY, gen.number) as r:
            assert r.count("items", Eq("kind", "x")) == 2
            assert r.get("items", "k2")["total"] == 11
            assert [t.sums["total"] for t in r.tally("items", sums=("total",))] == [20]
        with pytest.raises(StoreError):
            store.put(TALLY, "items", {"k3": state}, store.active("tally").number)

    def test_dump(self):
        store = self._sample()
        dump = store.dump(TALLY)
        assert set(dump) == {"items", "kinds"}
        assert set(dump["items"]) == {"k1", "k2", "k3", "k4", "k5"}
        assert dump["kinds"]["y"]["n"] == 2

    def test_ping_and_close(self):
        store = self.open()
        store.ping()
        store.close()
