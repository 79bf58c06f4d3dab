"""Reporting's projections with the parties sealed at rest, around any projection store.

Reporting keeps a case file's parties (names, masked id numbers and phones) in its
documents. They are sealed the same way the services' events are (gm_kernel.privacy,
reporting's own key store), rather than redacted when an erasure comes: a rebuild, a
replica that missed the erasure or a document written a moment later can then never
bring a name back, and erasing is the same one operation in every service (destroying
keys).

Which key seals a party of a document: the projector keeps parties in the order of the
event that brought them (intake's CaseRegistered, mediation's MediationOpened), so the
party at index i of a new list is the event's party i — sealed under that person's key
when they gave an id number (the masked number in the document cannot name them), else
under the case's key, erased with the case's main parties. A party already in the
document before the event is written back exactly as it was sealed (no new key, and an
erased one stays erased). Queries read the documents opened: `[erased]` where a person
was erased. Indexed columns hold no personal data (store/layout.py), so counts, figures
and the ledger are the same before and after an erasure.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from gm_kernel import RecordedEvent
from gm_kernel.privacy import Vault
from gm_kernel.privacy import personal

from .port import ApplyResult, Bulk, Generation, ProjectionSpec, ProjectionStore, Reader


# Opened documents a bulk application remembers at most (store.bulk: about as many as
# the store holds in memory).
MEMO_DOCUMENTS = 60_000


class PrivateProjectionStore(ProjectionStore):
    def __init__(self, inner: ProjectionStore, vault: Vault):
        self.inner, self.vault = inner, vault
        self._specs: Dict[int, ProjectionSpec] = {}

    # -- sealing a projection's documents ------------------------------------------------------
    def _sealed(self, spec: ProjectionSpec) -> ProjectionSpec:
        """`spec` whose apply opens the documents it is given and seals what it returns."""
        sealed = self._specs.get(id(spec))
        if sealed is None:
            sealed = self._specs[id(spec)] = self._sealing(spec)
        return sealed

    def _sealing(self, spec: ProjectionSpec, memo: Optional[Dict[int, tuple]] = None
                 ) -> ProjectionSpec:
        """`spec` sealing what it returns. With a `memo` (a bulk application's), the
        opened form of each document it sealed is remembered, so that the next event on
        a document held in memory does not open it again (decrypting its parties):
        id(sealed document) -> (the sealed document, opened form, sealed parties)."""

        def apply(source: str, event: Any, docs: Mapping) -> dict:
            opened = {k: self._open_doc(v, memo) for k, v in docs.items()}
            changed = spec.apply(source, event, {k: o for k, (o, _) in opened.items()})
            out = {}
            for k, state in changed.items():
                after: Dict[str, dict] = {}
                out[k] = sealed = self._seal_doc(k, state, opened.get(k, (None, {}))[1], event,
                                                 after)
                if memo is not None:
                    memo.pop(id(docs.get(k)), None)  # superseded
                    if len(memo) >= MEMO_DOCUMENTS:
                        memo.clear()  # only a cache: documents are opened again
                    memo[id(sealed)] = (sealed, state, after)
            return out

        return replace(spec, apply=apply)

    def _open_doc(self, state: Optional[dict], memo: Optional[Dict[int, tuple]] = None):
        """The document opened, and each opened party's sealed form (to write back)."""
        if state is None:
            return None, {}
        known = memo.get(id(state)) if memo is not None else None
        if known is not None and known[0] is state:
            return known[1], known[2]
        return (opened := self.vault.unseal(state)), _sealed_parties(state, opened)

    def _seal_doc(self, key, state: dict, before: Mapping[str, dict], event: Any,
                  after: Optional[Dict[str, dict]] = None) -> dict:
        """`state` with its parties sealed; `after`, if given, gets each party's sealed
        form by its opened form's fingerprint (what opening the result would give)."""
        after = {} if after is None else after
        event_parties = [p for p in personal.parties_in(getattr(event, "data", None) or {})]
        owners = [self.vault.pseudonym(n)
                  for n in personal.main_id_numbers(getattr(event, "data", None) or {})]
        case_subject = f"case:{key[1]}"

        def subject_of(i: int, p: Mapping) -> str:
            """The subject whose key seals a party not in the document before."""
            source = event_parties[i] if i < len(event_parties) else {}
            id_number = source.get("id_number") if source.get("role") == p.get("role") \
                else None
            return (f"p:{self.vault.pseudonym(id_number)}" if isinstance(id_number, str)
                    else case_subject)

        # Each party's fingerprint and subject (None: written back as sealed before),
        # decided once by list and index; every key the document needs then comes in one
        # key-store lookup (and one write for the new ones): a new case brings several
        # people at once.
        plan: Dict[Tuple[int, int], Tuple[str, Optional[str]]] = {}
        wanted: Dict[str, List[str]] = {}
        for parties in _party_lists(state):
            for i, p in enumerate(parties):
                if isinstance(p, Mapping):
                    fingerprint = _fingerprint(p)
                    subject = None if fingerprint in before else subject_of(i, p)
                    plan[id(parties), i] = fingerprint, subject
                    if subject is not None:
                        wanted.setdefault(subject, owners if subject == case_subject else [])
        keys = self.vault.keys_for(wanted) if wanted else {}

        def seal_list(parties: list) -> list:
            out = []
            for i, p in enumerate(parties):
                if not isinstance(p, Mapping):
                    out.append(p)
                    continue
                fingerprint, subject = plan[id(parties), i]
                if subject is None:
                    out.append(sealed := before[fingerprint])
                    after[fingerprint] = sealed
                    continue
                key_id, cipher = keys[subject]
                out.append(sealed := {f: personal.seal_value(key_id, cipher, v)
                                      if f in personal.PARTY_FIELDS and isinstance(v, str)
                                      else v for f, v in p.items()})
                if any(personal.is_sealed(v) for v in sealed.values()):
                    after[fingerprint] = sealed
            return out

        return _map_party_lists(state, seal_list)

    # -- the port ------------------------------------------------------------------------------
    def ensure(self, spec: ProjectionSpec) -> Generation:
        return self.inner.ensure(spec)

    def active(self, name: str) -> Optional[Generation]:
        return self.inner.active(name)

    def generations(self, name: str) -> List[Generation]:
        return self.inner.generations(name)

    def create_generation(self, spec: ProjectionSpec, *, force: bool = False) -> Generation:
        return self.inner.create_generation(spec, force=force)

    def activate(self, spec: ProjectionSpec, number: int) -> Generation:
        return self.inner.activate(spec, number)

    def abandon(self, spec: ProjectionSpec, number: int) -> None:
        self.inner.abandon(spec, number)

    def position(self, name: str, source: str, generation: Optional[int] = None) -> int:
        return self.inner.position(name, source, generation)

    def apply(self, spec: ProjectionSpec, source: str, events: Sequence[RecordedEvent],
              generation: Optional[int] = None) -> ApplyResult:
        return self.inner.apply(self._sealed(spec), source, events, generation)

    def advance(self, name: str, source: str, position: int,
                generation: Optional[int] = None) -> None:
        self.inner.advance(name, source, position, generation)

    @contextmanager
    def bulk(self, spec: ProjectionSpec, generation: int) -> Iterator[Bulk]:
        with self.inner.bulk(self._sealing(spec, memo={}), generation) as bulk:
            yield bulk

    def put(self, spec: ProjectionSpec, table: str, states: Mapping[str, dict],
            generation: int) -> None:
        sealed = {k: self._seal_doc((table, k), s, {}, None) for k, s in states.items()}
        self.inner.put(spec, table, sealed, generation)

    @contextmanager
    def reader(self, spec: ProjectionSpec, generation: Optional[int] = None
               ) -> Iterator[Reader]:
        with self.inner.reader(spec, generation) as r:
            yield _OpeningReader(r, self.vault)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class _OpeningReader(Reader):
    """A reader whose documents come back opened."""

    def __init__(self, inner: Reader, vault: Vault):
        self.inner, self.vault = inner, vault

    def get(self, table: str, key: str) -> Optional[dict]:
        state = self.inner.get(table, key)
        return None if state is None else self.vault.unseal(state)

    def find(self, table: str, where=None, order=(), offset: int = 0,
             limit: Optional[int] = None, with_state: bool = False) -> List[dict]:
        kwargs = {} if where is None else {"where": where}
        rows = self.inner.find(table, order=order, offset=offset, limit=limit,
                               with_state=with_state, **kwargs)
        if not with_state:
            return rows
        states = self.vault.unseal_many([row["state"] for row in rows])
        return [dict(row, state=s) for row, s in zip(rows, states)]

    def count(self, table: str, where=None, distinct=None) -> int:
        if where is None:
            return self.inner.count(table, distinct=distinct)
        return self.inner.count(table, where, distinct)

    def tally(self, table: str, where=None, by=(), sums=()):
        if where is None:
            return self.inner.tally(table, by=by, sums=sums)
        return self.inner.tally(table, where, by, sums)


def _sealed_parties(sealed: Mapping, opened: Mapping) -> Dict[str, dict]:
    """Each party of a document by its opened form's fingerprint: its sealed form."""
    before = {}
    for sealed_p, plain_p in zip(personal.parties_in(sealed), personal.parties_in(opened)):
        if any(personal.is_sealed(v) for v in sealed_p.values()):  # not a legacy one
            before[_fingerprint(plain_p)] = sealed_p
    return before


def _fingerprint(party: Mapping) -> str:
    return json.dumps(party, sort_keys=True, ensure_ascii=False, default=str)


_LEAVES = frozenset((str, int, float, bool, type(None)))


def _map_party_lists(tree: Any, fn) -> Any:
    """`tree` with each list under `parties` replaced by fn(list). Run on every event's
    documents: leaves (most of a case file) are passed over without a call or an ABC
    check."""
    kind = type(tree)
    if kind is list or (kind is not dict and isinstance(tree, list)):
        return [v if type(v) in _LEAVES else _map_party_lists(v, fn) for v in tree]
    if kind is dict or isinstance(tree, Mapping):
        return {k: v if type(v) in _LEAVES else fn(v) if k == "parties" and isinstance(v, list)
                else _map_party_lists(v, fn) for k, v in tree.items()}
    return tree


def _party_lists(tree: Any) -> Iterator[list]:
    """Each list under `parties` in `tree` (as _map_party_lists finds them, no copy)."""
    kind = type(tree)
    if kind is list or (kind is not dict and isinstance(tree, list)):
        for v in tree:
            if type(v) not in _LEAVES:
                yield from _party_lists(v)
    elif kind is dict or isinstance(tree, Mapping):
        for k, v in tree.items():
            if type(v) in _LEAVES:
                continue
            if k == "parties" and isinstance(v, list):
                yield v
            else:
                yield from _party_lists(v)
