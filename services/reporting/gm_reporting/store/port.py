"""The projection store port: where reporting keeps its read models, whatever database.

A projection (gm_reporting.domain.projections) is a set of tables of documents. A document
is a JSON object (the projector's state) kept under a key, with a few indexed columns
derived from it by the table's pure `row` function; queries filter, sort, count and tally
those columns. The port knows nothing of cases: the vocabulary is tables, columns,
filters (`Eq`, `In`, `Range`, `Prefix`, `And`, `Or`) and tallies.

Generations. Every projection lives in numbered generations; one is ACTIVE (what queries
read and the live feeds write), and a rebuild fills a new one from the source logs, then
switches the active pointer in one step (`activate`), so no query ever sees a half-built
projection. The previous generation is kept until the next rebuild starts (readers that
resolved it just before a switch keep working); older ones are dropped.

Applying events. `apply(spec, source, events)` applies a run of one source's events, in
that source's log order, to the generation's documents and advances the generation's
position for that source — all or nothing per call, and exactly once:
- positions must continue the tracked one: events at or below it are skipped (all of
  them: DuplicateMessage); a first event beyond tracked + 1 is a gap (PositionGap, nothing
  written) — source logs are gap-free by the event store contract, so a gap means a
  racing writer or a switch, and the caller fills it from the source log;
- every document records, per source, the last position applied to it, and the
  projector ignores an event at or below it. So an adapter without multi-document
  transactions (MongoDB) writes each document with a conditional, revision-guarded
  update, then the position; a crash in between re-applies the event, and the documents
  already written ignore it: nothing is counted twice.

Rebuilding. A rebuild applies whole logs to a generation nobody else writes: `bulk(spec,
generation)` gives a Bulk whose `apply` has the same meaning as the store's, but an
adapter may keep the documents in memory across calls and write each one once per
`flush` (positions in the same write), instead of once per call. The default Bulk
applies every call at once.

Proved for every adapter by gm_reporting.testing.ProjectionStoreContract.
"""
from __future__ import annotations

import abc
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import (Any, ContextManager, Dict, Iterator, List, Mapping, Optional,
                    Sequence, Tuple, Union)

from gm_kernel import DuplicateMessage, RecordedEvent, StoreError, StoreUnavailable  # noqa: F401

# DocKey and Docs: the adapters take them from here.
from ..domain.projections import DocKey, Docs, Projection, Table, Tally  # noqa: F401

COLUMN_TYPES = ("text", "int")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class PositionGap(StoreError):
    """The events do not continue the tracked position; fill the gap from the source log."""

    def __init__(self, name: str, source: str, tracked: int, first: int):
        super().__init__(f"projection {name}: {source} positions {tracked + 1}..{first - 1} "
                         "not applied yet")
        self.tracked, self.first = tracked, first


class Behind(StoreError):
    """A new generation is behind the active one on some source: catch up, then switch."""

    def __init__(self, name: str, lags: Mapping[str, Tuple[int, int]]):
        text = ", ".join(f"{s} {new} < {old}" for s, (new, old) in sorted(lags.items()))
        super().__init__(f"projection {name}: new generation behind the active one ({text})")
        self.lags = dict(lags)


class RebuildInProgress(StoreError):
    """Another rebuild holds the projection (started at `since`)."""


class NoActiveGeneration(StoreError):
    """The projection has no active generation yet (call `ensure`)."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"not a valid projection, table or column name: {name!r}")
    return name


@dataclass(frozen=True)
class TableSpec(Table):
    """One table of a projection as the store keeps it: documents by key, with indexed
    columns (the fields `row` gives, each "text" or "int") and indexes over them."""

    columns: Mapping[str, str]  # column -> "text" | "int"
    indexes: Sequence[Tuple[str, ...]]

    def __post_init__(self):
        check_name(self.name)
        for col, kind in self.columns.items():
            check_name(col)
            if col in ("key", "rev", "state") or kind not in COLUMN_TYPES:
                raise ValueError(f"table {self.name}: bad column {col} ({kind})")
        for index in self.indexes:
            for col in index:
                if col != "key" and col not in self.columns:
                    raise ValueError(f"table {self.name}: index on unknown column {col}")

    def has(self, column: str) -> bool:
        return column == "key" or column in self.columns

    def values(self, state: Mapping[str, Any]) -> Dict[str, Any]:
        """The row's column values, every column present (None when the row has none)."""
        row = self.row(state)
        out = {}
        for col, kind in self.columns.items():
            value = row.get(col)
            if value is not None:
                if value is True or value is False:
                    value = int(value)
                elif type(value) is not (int if kind == "int" else str):
                    if not isinstance(value, int if kind == "int" else str):
                        raise TypeError(f"{self.name}.{col} must be {kind}, got {value!r}")
            out[col] = value
        return out


@dataclass(frozen=True)
class ProjectionSpec(Projection):
    """What the store needs to know of a projection: the projection (touches, apply,
    version: domain/projections.py) with its `tables` laid out as TableSpecs
    (store/layout.py). An active generation of another version needs a rebuild."""

    def __post_init__(self):
        check_name(self.name)

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"projection {self.name} has no table {name!r}")


@dataclass(frozen=True)
class Generation:
    name: str
    number: int
    version: int
    created_at: str
    activated_at: Optional[str] = None
    active: bool = False


# -- filters: a tiny query language both adapters translate ------------------------------
@dataclass(frozen=True)
class Eq:
    col: str
    value: Any


@dataclass(frozen=True)
class In:
    col: str
    values: Tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """gte <= col < lt (either bound optional); gt / lte for the other strictness."""

    col: str
    gte: Any = None
    lt: Any = None
    gt: Any = None
    lte: Any = None


@dataclass(frozen=True)
class Prefix:
    """A text column starting with `prefix` (a range: index-friendly on both adapters)."""

    col: str
    prefix: str


@dataclass(frozen=True)
class And:
    parts: Tuple["Filter", ...] = ()


@dataclass(frozen=True)
class Or:
    parts: Tuple["Filter", ...] = ()


Filter = Union[Eq, In, Range, Prefix, And, Or]
ALL = And()


def all_of(*parts: Optional[Filter]) -> Filter:
    kept = tuple(p for p in parts if p is not None and p != ALL)
    return kept[0] if len(kept) == 1 else And(kept)


def prefix_bounds(prefix: str) -> Tuple[str, Optional[str]]:
    """[prefix, next) such that a string starts with prefix iff it lies in the range."""
    if not prefix:
        return "", None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def filter_columns(f: Filter) -> List[str]:
    if isinstance(f, (And, Or)):
        return [c for p in f.parts for c in filter_columns(p)]
    return [f.col]


Order = Sequence[Tuple[str, str]]  # (column, "asc" | "desc")


@dataclass
class ApplyResult:
    applied: int = 0  # events applied (the rest were at or below the tracked position)
    changed: int = 0  # documents written
    position: int = 0


class Bulk:
    """Applying a generation's events many pages at a time (`ProjectionStore.bulk`).

    `apply` checks and applies a run of a source's events as the store's `apply` does
    (DuplicateMessage, PositionGap; nothing of a failing call is kept) and `position`
    answers what has been applied, flushed or not. What is not flushed yet is lost if
    the process dies — which a rebuild can afford: a generation that was never activated
    is dropped and built again from position 0. `flush` writes it all, with the
    positions, in one step; the context manager flushes at the end. This default keeps
    nothing back: every call is the store's own `apply`."""

    def __init__(self, store: "ProjectionStore", spec: ProjectionSpec, generation: int):
        self.store, self.spec, self.generation = store, spec, generation

    def position(self, source: str) -> int:
        return self.store.position(self.spec.name, source, self.generation)

    def apply(self, source: str, events: Sequence[RecordedEvent]) -> ApplyResult:
        return self.store.apply(self.spec, source, events, self.generation)

    def flush(self) -> None:
        """Write what was applied (documents and positions together)."""


class Reader(abc.ABC):
    """Queries over one generation of one projection (a consistent snapshot where the
    database gives one)."""

    @abc.abstractmethod
    def get(self, table: str, key: str) -> Optional[dict]:
        """The document's state, or None."""

    @abc.abstractmethod
    def find(self, table: str, where: Filter = ALL, order: Order = (), offset: int = 0,
             limit: Optional[int] = None, with_state: bool = False) -> List[dict]:
        """Rows (column values plus "key", and "state" if asked), ordered by `order`
        then key (ascending, or descending when the last order column is)."""

    @abc.abstractmethod
    def count(self, table: str, where: Filter = ALL, distinct: Optional[str] = None) -> int:
        """Rows matching `where`; with `distinct`, the distinct values of that column among
        them (NULL not counted)."""

    @abc.abstractmethod
    def tally(self, table: str, where: Filter = ALL, by: Sequence[str] = (),
              sums: Sequence[str] = ()) -> List[Tally]:
        """Count rows (and sum int columns, NULL as 0) per distinct `by` values; groups
        in ascending order of their values. No `by`: one group (n may be 0)."""


class ProjectionStore(abc.ABC):
    # -- generations ---------------------------------------------------------------------
    @abc.abstractmethod
    def ensure(self, spec: ProjectionSpec) -> Generation:
        """The active generation; a first, empty one is created and activated if none."""

    @abc.abstractmethod
    def active(self, name: str) -> Optional[Generation]: ...

    @abc.abstractmethod
    def generations(self, name: str) -> List[Generation]: ...

    @abc.abstractmethod
    def create_generation(self, spec: ProjectionSpec, *, force: bool = False) -> Generation:
        """A new, empty generation to rebuild into; marks the projection as being rebuilt
        (RebuildInProgress if another rebuild holds it, unless `force`) and drops every
        generation but the active one and the one before it."""

    @abc.abstractmethod
    def activate(self, spec: ProjectionSpec, number: int) -> Generation:
        """Make generation `number` the active one in one step. Behind (nothing changed)
        if it has applied less of some source than the active generation. A generation
        made by `create_generation` gets its secondary indexes here, before the switch
        (built once over all its rows: much faster than row by row during a rebuild)."""

    @abc.abstractmethod
    def abandon(self, spec: ProjectionSpec, number: int) -> None:
        """Drop a generation that is not active and release the rebuild mark."""

    # -- feeding -------------------------------------------------------------------------
    @abc.abstractmethod
    def position(self, name: str, source: str, generation: Optional[int] = None) -> int:
        """Last position of `source` applied (in the active generation by default)."""

    @abc.abstractmethod
    def apply(self, spec: ProjectionSpec, source: str, events: Sequence[RecordedEvent],
              generation: Optional[int] = None) -> ApplyResult:
        """Apply a run of `source`'s events in log order (see the module docstring)."""

    @abc.abstractmethod
    def advance(self, name: str, source: str, position: int,
                generation: Optional[int] = None) -> None:
        """Record `position` as applied with no effects (tracked + 1 only; else
        DuplicateMessage or PositionGap)."""

    @contextmanager
    def bulk(self, spec: ProjectionSpec, generation: int) -> Iterator[Bulk]:
        """`with store.bulk(spec, number) as b:` apply many runs to a generation being
        rebuilt (not the active one: the live feeds write that), flushed at the end; on
        an error nothing not yet flushed is written."""
        bulk = Bulk(self, spec, generation)
        yield bulk
        bulk.flush()

    @abc.abstractmethod
    def put(self, spec: ProjectionSpec, table: str, states: Mapping[str, dict],
            generation: int) -> None:
        """Bulk import documents into a generation that is not active (benchmarks, tools)."""

    # -- reading -------------------------------------------------------------------------
    @abc.abstractmethod
    def reader(self, spec: ProjectionSpec, generation: Optional[int] = None
               ) -> ContextManager[Reader]:
        """`with store.reader(spec) as r:` queries over the active generation (or the
        given one), resolved once: a switch meanwhile does not mix generations."""

    def dump(self, spec: ProjectionSpec, generation: Optional[int] = None
             ) -> Dict[str, Dict[str, dict]]:
        """Every document of every table: {table: {key: state}} (tests, verification)."""
        with self.reader(spec, generation) as r:
            return {t.name: {row["key"]: row["state"]
                             for row in r.find(t.name, with_state=True)}
                    for t in spec.tables}

    # -- lifecycle -----------------------------------------------------------------------
    @abc.abstractmethod
    def ping(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
