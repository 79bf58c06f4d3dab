"""The key store port: where a service keeps its data keys, apart from its event store.

A data key encrypts personal data at rest (gm_kernel.privacy.vault). The store keeps it
wrapped by the master key, under a random id, with its `subject` — what it is the key of:

    p:<pseudonym>      a person (the keyed hash of their resident id number)
    case:<case id>     a case's parties who gave no id number (and names of applicants)
    letter:<id>        one dead letter's raw body
    message:<id>       one outbox message of a commit without events

and the people it is erased with (`owners`: pseudonyms). A subject has at most one live
key; erasing a person destroys their key and every key they own, and leaves a tombstone
(key id, subject, person, time; no key material) so a reader can tell "erased" from
"never existed".

Guarantees every adapter gives (gm_kernel.testing.KeyStoreContract):
- `add` is race-safe: of two writers adding a key for one subject, both get the one key
  that won;
- a destroyed key is gone from the database, not flagged (SQLite: secure_delete and a
  truncating WAL checkpoint, so its bytes are overwritten in the file);
- `destroy` is idempotent: a second call destroys nothing and reports the tombstones.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..store.port import StoreError


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    subject: str
    wrapped: bytes
    created_at: datetime


@dataclass(frozen=True)
class Tombstone:
    key_id: str
    subject: str
    person: str
    erased_at: datetime


class KeyStoreError(StoreError):
    pass


class KeyStore(abc.ABC):
    """A service's data keys."""

    @abc.abstractmethod
    def meta(self, name: str) -> Optional[bytes]:
        """A value stored under `name` (the master key's check value)."""

    @abc.abstractmethod
    def put_meta_once(self, name: str, value: bytes) -> bytes:
        """Store `value` under `name` unless something is there; return what is."""

    @abc.abstractmethod
    def live_key(self, subject: str) -> Optional[StoredKey]:
        """The subject's key, unless it has none (never had one, or it was destroyed)."""

    @abc.abstractmethod
    def add(self, key: StoredKey, owners: Iterable[str] = ()) -> StoredKey:
        """Keep `key`, erased with `owners`, unless its subject has a live key already
        (then nothing is written); return the live one. One write: a new person's data
        costs one durable commit here."""

    def live_keys(self, subjects: Iterable[str]) -> Dict[str, StoredKey]:
        """The live keys of those of `subjects` that have one, by subject."""
        found = {}
        for subject in dict.fromkeys(subjects):
            key = self.live_key(subject)
            if key is not None:
                found[subject] = key
        return found

    def add_many(self, keys: Sequence[Tuple[StoredKey, Sequence[str]]]
                 ) -> Dict[str, StoredKey]:
        """`add` for several keys (with their owners), by subject; an adapter that can
        makes it one write (a new case with a new person: one durable commit, not two)."""
        return {k.subject: self.add(k, owners) for k, owners in keys}

    @abc.abstractmethod
    def keys(self, key_ids: Iterable[str]) -> Dict[str, StoredKey]:
        """Those of `key_ids` that are live."""

    @abc.abstractmethod
    def tombstones(self, key_ids: Iterable[str]) -> Set[str]:
        """Those of `key_ids` that were destroyed."""

    @abc.abstractmethod
    def link(self, key_id: str, owners: Iterable[str]) -> None:
        """Erase `key_id` with each of `owners` (pseudonyms) too (idempotent)."""

    @abc.abstractmethod
    def destroy(self, person: str, at: datetime) -> List[Tombstone]:
        """Destroy the key of subject `p:<person>` and every key `person` owns; return
        the tombstones of what this call destroyed."""

    @abc.abstractmethod
    def erased(self, person: str) -> List[Tombstone]:
        """Every tombstone left by erasing `person` (this call or earlier ones)."""

    @abc.abstractmethod
    def count(self) -> int:
        """Live keys."""

    @abc.abstractmethod
    def ping(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...
