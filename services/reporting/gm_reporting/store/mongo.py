"""MongoDB projection store (pymongo 4.15), without multi-document transactions.

Collections in the reporting database (the same one as its event store):

    projection_meta          {_id: name, active, building, building_since, last_number,
                              frozen}                  one per projection
    projection_generations   {_id: "name:n", name, number, version, created_at, activated_at}
    projection_positions     {_id: "name:n:source", position}
    projection_<name>_<table>_g<n>
                             {_id: key, rev, state, <indexed columns>}   the documents

Without transactions, `apply` writes each changed document with a conditional update
guarded by its revision (insert for a new one: the unique _id settles a race), then the
position with an update guarded by the previous position. Every document records the
last position of each source applied to it, and the projector ignores an event at or
below it; so after a crash between the writes, or a lost race, the event is applied
again and the documents already written are left as they are: nothing counts twice.
A revision conflict (another writer changed the document) reloads and re-applies.

Switching generations (`activate`) cannot be one transaction either: it first sets
`frozen`, which makes appliers wait, waits `switch_grace` seconds for those already past
the check, compares positions, and then moves the active pointer and unfreezes in one
single-document update. An applier that still wrote into the old generation afterwards
fails its position check in the new one (PositionGap) and the feed fills from the log.
A switch interrupted half way (its process killed while `frozen` is set) cannot freeze
the projection for good: a freeze older than `stale_freeze` seconds (`frozen_at`) is
lifted by the next applier, and the active generation stays the one it was.

mongomock caveat: its bulk_write does not work with pymongo 4.15 (ReplaceOne passes a
`sort` argument it does not know), so documents are written one by one.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import pymongo
from pymongo import ReturnDocument, WriteConcern
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from gm_kernel import (
    DuplicateMessage, RecordedEvent, StoreError, StoreUnavailable, format_time, parse_time,
    utcnow,
)
from gm_kernel.store.mongo import translated

from .port import (
    ALL,
    And,
    ApplyResult,
    Behind,
    DocKey,
    Eq,
    Filter,
    Generation,
    In,
    NoActiveGeneration,
    Or,
    Order,
    PositionGap,
    Prefix,
    ProjectionSpec,
    ProjectionStore,
    Range,
    Reader,
    RebuildInProgress,
    TableSpec,
    Tally,
    check_name,
    prefix_bounds,
)
from .sqlite import _fresh


def collection_name(projection: str, table: str, number: int) -> str:
    return f"projection_{check_name(projection)}_{check_name(table)}_g{int(number)}"


def _field(col: str) -> str:
    return "_id" if col == "key" else col


class MongoProjectionStore(ProjectionStore):
    max_conflicts = 20  # revision conflicts retried before giving up
    switch_grace = 2.0  # seconds `activate` waits after freezing for in-flight appliers
    frozen_wait = 15.0  # seconds an applier waits for a switch to finish
    stale_freeze = 60.0  # a freeze this old was left by a switch that died half way

    def __init__(self, db, *, switch_grace: Optional[float] = None):
        self._db = db
        self._client = None
        if switch_grace is not None:
            self.switch_grace = switch_grace
        durable = WriteConcern(w="majority", j=True)
        self._meta = db.get_collection("projection_meta", write_concern=durable)
        self._gens = db.get_collection("projection_generations", write_concern=durable)
        self._positions = db.get_collection("projection_positions", write_concern=durable)

    @classmethod
    def from_uri(cls, uri: str, database: str, **client_options: Any) -> "MongoProjectionStore":
        if "serverselectiontimeoutms" not in uri.lower():
            client_options.setdefault("serverSelectionTimeoutMS", 10_000)
        client = pymongo.MongoClient(uri, **client_options)
        store = cls(client.get_database(database))
        store._client = client
        return store

    # -- plumbing ------------------------------------------------------------------------
    def _coll(self, projection: str, table: str, number: int):
        return self._db.get_collection(collection_name(projection, table, number),
                                       write_concern=WriteConcern(w="majority", j=True))

    def _meta_doc(self, name: str) -> dict:
        return self._meta.find_one({"_id": name}) or {}

    def _generation(self, name: str, number: int, active: Optional[int]) -> Optional[Generation]:
        doc = self._gens.find_one({"_id": f"{name}:{number}"})
        if doc is None:
            return None
        return Generation(name, number, doc["version"], doc["created_at"],
                          doc.get("activated_at"), active == number)

    def _active_number(self, name: str, wait: bool = False) -> int:
        deadline = time.monotonic() + self.frozen_wait
        while True:
            meta = self._meta_doc(name)
            if meta.get("active") is None:
                raise NoActiveGeneration(f"projection {name} has no active generation")
            if not wait or meta.get("frozen") is None:
                return meta["active"]
            if self._lift_stale_freeze(name, meta):
                continue
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"projection {name}: switching generations for too long")
            time.sleep(0.05)

    def _lift_stale_freeze(self, name: str, meta: Mapping[str, Any]) -> bool:
        """Unfreeze a projection whose switch died half way; True if this call did."""
        since = meta.get("frozen_at")
        if since is not None and (utcnow() - parse_time(since)).total_seconds() < self.stale_freeze:
            return False
        lifted = self._meta.update_one(
            {"_id": name, "frozen": meta.get("frozen"), "frozen_at": since},
            {"$set": {"frozen": None, "frozen_at": None}})
        return lifted.modified_count > 0

    def _position_of(self, name: str, number: int, source: str) -> int:
        doc = self._positions.find_one({"_id": f"{name}:{number}:{source}"})
        return doc["position"] if doc else 0

    def _build_indexes(self, spec: ProjectionSpec, number: int) -> None:
        for t in spec.tables:
            coll = self._coll(spec.name, t.name, number)
            existing = set(coll.index_information())
            for i, index in enumerate(t.indexes):
                if f"i{i}" not in existing:
                    coll.create_index([(_field(c), 1) for c in index], name=f"i{i}")

    def _new_generation(self, spec: ProjectionSpec, indexed: bool = True) -> int:
        meta = self._meta.find_one_and_update(
            {"_id": spec.name}, {"$inc": {"last_number": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER)
        number = meta["last_number"]
        if indexed:
            self._build_indexes(spec, number)
        self._gens.insert_one({"_id": f"{spec.name}:{number}", "name": spec.name,
                               "number": number, "version": spec.version,
                               "created_at": format_time(utcnow()), "activated_at": None})
        return number

    def _drop(self, spec: ProjectionSpec, number: int) -> None:
        for t in spec.tables:
            self._coll(spec.name, t.name, number).drop()
        self._gens.delete_one({"_id": f"{spec.name}:{number}"})
        self._positions.delete_many({"_id": {"$regex": f"^{spec.name}:{number}:"}})

    # -- generations ---------------------------------------------------------------------
    @translated
    def ensure(self, spec: ProjectionSpec) -> Generation:
        meta = self._meta_doc(spec.name)
        if meta.get("active") is None:
            number = self._new_generation(spec)
            won = self._meta.update_one({"_id": spec.name, "active": None},
                                        {"$set": {"active": number}}).matched_count
            if won:
                self._gens.update_one({"_id": f"{spec.name}:{number}"},
                                      {"$set": {"activated_at": format_time(utcnow())}})
            else:  # another process ensured it first
                self._drop(spec, number)
            meta = self._meta_doc(spec.name)
        return self._generation(spec.name, meta["active"], meta["active"])

    @translated
    def active(self, name: str) -> Optional[Generation]:
        meta = self._meta_doc(name)
        if meta.get("active") is None:
            return None
        return self._generation(name, meta["active"], meta["active"])

    @translated
    def generations(self, name: str) -> List[Generation]:
        active = self._meta_doc(name).get("active")
        return [self._generation(name, d["number"], active)
                for d in self._gens.find({"name": name}).sort("number", 1)]

    @translated
    def create_generation(self, spec: ProjectionSpec, *, force: bool = False) -> Generation:
        meta = self._meta_doc(spec.name)
        if meta.get("building") is not None and not force:
            raise RebuildInProgress(
                f"projection {spec.name}: generation {meta['building']} is being rebuilt "
                f"(since {meta.get('building_since')}); use --force if that rebuild is dead")
        number = self._new_generation(spec, indexed=False)
        claim = {"_id": spec.name} if force else {"_id": spec.name, "building": None}
        if not self._meta.update_one(claim, {"$set": {
                "building": number, "building_since": format_time(utcnow())}}).matched_count:
            self._drop(spec, number)
            raise RebuildInProgress(f"projection {spec.name}: another rebuild started")
        active = meta.get("active")
        activated = [d["number"] for d in self._gens.find(
            {"name": spec.name, "activated_at": {"$ne": None}, "number": {"$ne": active}})]
        keep = {active, number, max(activated) if activated else None}
        for d in list(self._gens.find({"name": spec.name})):
            if d["number"] not in keep:
                self._drop(spec, d["number"])
        return self._generation(spec.name, number, active)

    @translated
    def activate(self, spec: ProjectionSpec, number: int) -> Generation:
        gen = self._generation(spec.name, number, None)
        if gen is None:
            raise StoreError(f"projection {spec.name} has no generation {number}")
        if gen.version != spec.version:
            raise StoreError(f"projection {spec.name} generation {number} has version "
                             f"{gen.version}, the code {spec.version}")
        self._build_indexes(spec, number)
        active = self._meta_doc(spec.name).get("active")
        if active is not None and active != number:
            self._meta.update_one({"_id": spec.name}, {"$set": {
                "frozen": number, "frozen_at": format_time(utcnow())}})
            try:
                time.sleep(self.switch_grace)
                lags = {}
                for source in spec.sources:
                    new = self._position_of(spec.name, number, source)
                    old = self._position_of(spec.name, active, source)
                    if new < old:
                        lags[source] = (new, old)
                if lags:
                    raise Behind(spec.name, lags)
            except BaseException:
                self._meta.update_one({"_id": spec.name}, {"$set": {"frozen": None}})
                raise
        meta = self._meta_doc(spec.name)
        update = {"active": number, "frozen": None}
        if meta.get("building") == number:
            update["building"] = None
        self._meta.update_one({"_id": spec.name}, {"$set": update}, upsert=True)
        self._gens.update_one({"_id": f"{spec.name}:{number}"},
                              {"$set": {"activated_at": format_time(utcnow())}})
        return self._generation(spec.name, number, number)

    @translated
    def abandon(self, spec: ProjectionSpec, number: int) -> None:
        if self._meta_doc(spec.name).get("active") == number:
            raise StoreError(f"projection {spec.name}: generation {number} is active")
        self._drop(spec, number)
        self._meta.update_one({"_id": spec.name, "building": number},
                              {"$set": {"building": None}})

    # -- feeding -------------------------------------------------------------------------
    @translated
    def position(self, name: str, source: str, generation: Optional[int] = None) -> int:
        number = generation if generation is not None else self._active_number(name)
        return self._position_of(name, number, source)

    @translated
    def apply(self, spec: ProjectionSpec, source: str, events: Sequence[RecordedEvent],
              generation: Optional[int] = None) -> ApplyResult:
        if not events:
            return ApplyResult()
        tables = {t.name: t for t in spec.tables}
        for _ in range(self.max_conflicts):
            number = (generation if generation is not None
                      else self._active_number(spec.name, wait=True))
            tracked = self._position_of(spec.name, number, source)
            fresh = _fresh(spec.name, source, tracked, events)
            touched = {e.position: spec.touches(source, e) for e in fresh}
            docs, revs = self._load(spec.name, number,
                                    {k for keys in touched.values() for k in keys})
            dirty = set()
            for event in fresh:
                keys = touched[event.position]
                changed = spec.apply(source, event, {k: docs.get(k) for k in keys})
                for key, state in changed.items():
                    docs[key] = state
                    dirty.add(key)
            if not all(self._write_doc(spec.name, tables[k[0]], number, k[1], docs[k],
                                       revs.get(k)) for k in sorted(dirty)):
                continue  # another writer changed a document: reload and apply again
            last = fresh[-1].position
            if self._move_position(spec.name, number, source, tracked, last):
                return ApplyResult(applied=len(fresh), changed=len(dirty), position=last)
            now = self._position_of(spec.name, number, source)
            if now >= last:
                raise DuplicateMessage(f"{spec.name}:{source}:{last}")
        raise StoreError(f"projection {spec.name}: {self.max_conflicts} write conflicts in a row")

    def _load(self, projection: str, number: int, keys) -> Tuple[Dict[DocKey, dict],
                                                                 Dict[DocKey, int]]:
        by_table: Dict[str, List[str]] = {}
        for table, key in keys:
            by_table.setdefault(table, []).append(key)
        docs, revs = {}, {}
        for table, ids in by_table.items():
            for doc in self._coll(projection, table, number).find(
                    {"_id": {"$in": ids}}, {"state": 1, "rev": 1}):
                docs[(table, doc["_id"])] = doc["state"]
                revs[(table, doc["_id"])] = doc["rev"]
        return docs, revs

    def _write_doc(self, projection: str, t: TableSpec, number: int, key: str, state: dict,
                   rev: Optional[int]) -> bool:
        coll = self._coll(projection, t.name, number)
        body = {"rev": (rev or 0) + 1, "state": state, **t.values(state)}
        if rev is None:
            try:
                coll.insert_one({"_id": key, **body})
                return True
            except DuplicateKeyError:
                return False
        return coll.replace_one({"_id": key, "rev": rev}, body).matched_count == 1

    def _move_position(self, name: str, number: int, source: str, tracked: int,
                       position: int) -> bool:
        try:
            result = self._positions.update_one(
                {"_id": f"{name}:{number}:{source}", "position": tracked},
                {"$set": {"position": position}}, upsert=tracked == 0)
        except DuplicateKeyError:  # the document exists: someone moved it from 0
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    @translated
    def advance(self, name: str, source: str, position: int,
                generation: Optional[int] = None) -> None:
        number = generation if generation is not None else self._active_number(name, wait=True)
        tracked = self._position_of(name, number, source)
        if position <= tracked:
            raise DuplicateMessage(f"{name}:{source}:{position}")
        if position != tracked + 1:
            raise PositionGap(name, source, tracked, position)
        if not self._move_position(name, number, source, tracked, position):
            raise DuplicateMessage(f"{name}:{source}:{position}")

    @translated
    def put(self, spec: ProjectionSpec, table: str, states: Mapping[str, dict],
            generation: int) -> None:
        if self._meta_doc(spec.name).get("active") == generation:
            raise StoreError("put writes only into a generation that is not active")
        t = spec.table(table)
        coll = self._coll(spec.name, t.name, generation)
        keys = list(states)
        for i in range(0, len(keys), 1000):
            part = keys[i:i + 1000]
            coll.delete_many({"_id": {"$in": part}})
            coll.insert_many([{"_id": k, "rev": 1, "state": states[k], **t.values(states[k])}
                              for k in part])

    # -- reading -------------------------------------------------------------------------
    @contextmanager
    def reader(self, spec: ProjectionSpec, generation: Optional[int] = None
               ) -> Iterator[Reader]:
        try:
            number = generation if generation is not None else self._active_number(spec.name)
        except ConnectionFailure as exc:
            raise StoreUnavailable(f"mongodb {self._db.name}: {exc}") from exc
        yield _MongoReader(self, spec, number)

    # -- lifecycle -----------------------------------------------------------------------
    def ping(self) -> None:
        try:
            self._db.command("ping")
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb {self._db.name}: {exc}") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"MongoProjectionStore(db={self._db.name!r})"


class _MongoReader(Reader):
    def __init__(self, store: MongoProjectionStore, spec: ProjectionSpec, number: int):
        self.store, self.spec, self.number = store, spec, number

    def _table(self, table: str):
        t = self.spec.table(table)
        return t, self.store._coll(self.spec.name, t.name, self.number)

    def get(self, table: str, key: str) -> Optional[dict]:
        _, coll = self._table(table)
        doc = coll.find_one({"_id": key}, {"state": 1})
        return doc["state"] if doc else None

    def find(self, table: str, where: Filter = ALL, order: Order = (), offset: int = 0,
             limit: Optional[int] = None, with_state: bool = False) -> List[dict]:
        t, coll = self._table(table)
        projection = None if with_state else {"state": 0}
        sort, last = [], 1
        for col, direction in order:
            if not t.has(col) or direction not in ("asc", "desc"):
                raise ValueError(f"cannot order {t.name} by {col} {direction}")
            last = 1 if direction == "asc" else -1
            sort.append((_field(col), last))
        if not any(c == "key" for c, _ in order):
            sort.append(("_id", last))
        cursor = coll.find(_query(t, where), projection).sort(sort).skip(int(offset))
        if limit is not None:
            cursor = cursor.limit(int(limit))
        out = []
        for doc in cursor:
            row = {"key": doc["_id"], **{c: doc.get(c) for c in t.columns}}
            if with_state:
                row["state"] = doc["state"]
            out.append(row)
        return out

    def count(self, table: str, where: Filter = ALL, distinct: Optional[str] = None) -> int:
        t, coll = self._table(table)
        if distinct is None:
            return coll.count_documents(_query(t, where))
        if not t.has(distinct):
            raise ValueError(f"table {t.name} has no column {distinct}")
        groups = coll.aggregate([{"$match": _query(t, where)},
                                 {"$group": {"_id": f"${_field(distinct)}"}}])
        return sum(1 for g in groups if g["_id"] is not None)

    def tally(self, table: str, where: Filter = ALL, by: Sequence[str] = (),
              sums: Sequence[str] = ()) -> List[Tally]:
        t, coll = self._table(table)
        for c in (*by, *sums):
            if not t.has(c):
                raise ValueError(f"table {t.name} has no column {c}")
        for c in sums:
            if t.columns.get(c) != "int":
                raise ValueError(f"can only sum int columns, not {c}")
        group: Dict[str, Any] = {"_id": {f"g{i}": f"${_field(c)}" for i, c in enumerate(by)}
                                 if by else None, "n": {"$sum": 1}}
        for i, c in enumerate(sums):
            group[f"s{i}"] = {"$sum": f"${c}"}
        rows = list(coll.aggregate([{"$match": _query(t, where)}, {"$group": group}]))
        out = []
        for r in rows:
            values = {c: (r["_id"] or {}).get(f"g{i}") for i, c in enumerate(by)}
            out.append(Tally(values, int(r["n"]),
                             {c: int(r.get(f"s{i}") or 0) for i, c in enumerate(sums)}))
        if not by:
            return out or [Tally({}, 0, {c: 0 for c in sums})]
        out.sort(key=lambda tl: [(tl.group[c] is not None, tl.group[c]) for c in by])
        return out


def _query(t: TableSpec, f: Filter) -> dict:
    if isinstance(f, And):
        parts = [_query(t, p) for p in f.parts]
        return {} if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
    if isinstance(f, Or):
        parts = [_query(t, p) for p in f.parts]
        return {"_id": {"$in": []}} if not parts else {"$or": parts}
    if not t.has(f.col):
        raise ValueError(f"table {t.name} has no column {f.col}")
    col = _field(f.col)
    if isinstance(f, Eq):
        value = int(f.value) if isinstance(f.value, bool) else f.value
        return {col: value}
    if isinstance(f, In):
        return {col: {"$in": [int(v) if isinstance(v, bool) else v
                              for v in f.values if v is not None]}}
    if isinstance(f, Range):
        cond = {op: (int(v) if isinstance(v, bool) else v)
                for op, v in (("$gte", f.gte), ("$lt", f.lt), ("$gt", f.gt), ("$lte", f.lte))
                if v is not None}
        return {col: cond} if cond else {}
    if isinstance(f, Prefix):
        lo, hi = prefix_bounds(f.prefix)
        return {col: {"$gte": lo, "$lt": hi}} if hi is not None else {col: {"$ne": None}}
    raise TypeError(f"not a filter: {f!r}")
