"""A service's vault: its data keys (in its key store, wrapped by the master key), handed
out to seal personal data and to open it, and destroyed to erase a person.

Which key seals what (crypto-shredding: erasing is destroying keys, never rewriting the
append-only, hash-chained logs):
- a party with a resident id number: the person's key (subject `p:<pseudonym>`), one per
  person per service;
- a party without one, and applicants' names: the case's key (`case:<case id>`), erased
  with the case's main parties — its applicants who gave an id number, or, when none did,
  every party who did (personal.main_id_numbers). A case nobody in it gave an id number
  for cannot be erased by id number;
- a dead letter's raw body: a key of its own (`letter:<id>`), erased with everyone whose
  id number the body shows;
- the body of an outbox message committed without events: a key of its own
  (`message:<id>`), erased with everyone it names.

Keys are looked up in the key store on every use, never cached by subject: a replica
sharing the store must stop opening (and sealing with) a key the moment another replica
destroyed it. Only the unwrapped cipher of a key read is kept, by key id.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..events import format_time, utcnow
from . import personal
from .crypto import KEY_BYTES, SEAL_OVERHEAD, MasterKey, MasterKeyError, open_bytes, seal_bytes
from .keystore import KeyStore, StoredKey

log = logging.getLogger(__name__)

_CHECK = "master_check"
#: A sealed dead-letter body: MAGIC, the key id (36 ASCII characters), nonce + ciphertext.
LETTER_MAGIC = b"\x00gm-sealed-letter\x00"
_KEY_ID_LEN = 36
LETTER_OVERHEAD = len(LETTER_MAGIC) + _KEY_ID_LEN + SEAL_OVERHEAD
Key = Tuple[str, AESGCM]


class Vault:
    def __init__(self, master: MasterKey, keys: KeyStore,
                 clock: Callable[[], datetime] = utcnow):
        self.master, self.keys, self.clock = master, keys, clock
        check = keys.meta(_CHECK)
        if check is None:
            check = keys.put_meta_once(_CHECK, master.check_value())
        if not master.opens(check):
            raise MasterKeyError(f"{master.source} does not open the key store {keys!r}: "
                                 "it was created under another master key")
        self._ciphers: Dict[str, Tuple[bytes, AESGCM]] = {}
        self._linked: Set[Tuple[str, str]] = set()
        self._lock = threading.Lock()

    # -- naming people -----------------------------------------------------------------------
    def pseudonym(self, id_number: str) -> str:
        return self.master.pseudonym(id_number)

    # -- keys ----------------------------------------------------------------------------------
    def key(self, subject: str, owners: Iterable[str] = ()) -> Key:
        """The subject's live key (made now if it has none), erased with `owners` too."""
        return self.keys_for({subject: list(owners)})[subject]

    def keys_for(self, wanted: Mapping[str, Sequence[str]]) -> Dict[str, Key]:
        """Each subject's live key, erased with its owners too; the missing ones made in
        one key-store write."""
        live = self.keys.live_keys(wanted)
        missing = [s for s in wanted if s not in live]
        if missing:
            new = []
            for subject in missing:
                key_id = str(uuid.uuid4())
                new.append((StoredKey(key_id, subject,
                                      self.master.wrap(key_id, os.urandom(KEY_BYTES)),
                                      self.clock()), list(dict.fromkeys(wanted[subject]))))
            added = self.keys.add_many(new)
            with self._lock:
                for stored, owners in new:
                    if added[stored.subject].key_id == stored.key_id:  # ours won
                        self._linked.update((stored.key_id, o) for o in owners)
            live.update(added)
        out: Dict[str, Key] = {}
        for subject, stored in live.items():
            new_owners = [o for o in dict.fromkeys(wanted[subject])
                          if (stored.key_id, o) not in self._linked]
            if new_owners:
                self.keys.link(stored.key_id, new_owners)
                with self._lock:
                    self._linked.update((stored.key_id, o) for o in new_owners)
            out[subject] = (stored.key_id, self._cipher(stored))
        return out

    def person_key(self, id_number: str) -> Key:
        return self.key(f"p:{self.pseudonym(id_number)}")

    def _cipher(self, stored: StoredKey) -> AESGCM:
        cached = self._ciphers.get(stored.key_id)
        if cached is not None and cached[0] == stored.wrapped:
            return cached[1]
        cipher = AESGCM(self.master.unwrap(stored.key_id, stored.wrapped))
        with self._lock:
            self._ciphers[stored.key_id] = (stored.wrapped, cipher)
        return cipher

    def open(self, key_ids: Iterable[str]) -> Dict[str, personal.Opened]:
        """Each key id's cipher, or ERASED (destroyed) / UNREADABLE (never known here)."""
        ids = set(key_ids)
        if not ids:
            return {}
        live = self.keys.keys(ids)
        opened: Dict[str, personal.Opened] = {}
        for key_id, stored in live.items():
            try:
                opened[key_id] = self._cipher(stored)
            except MasterKeyError:
                log.error("data key %s is not wrapped by this master key", key_id)
                opened[key_id] = personal.UNREADABLE
        missing = ids - set(live)
        if missing:
            gone = self.keys.tombstones(missing)
            for key_id in missing:
                opened[key_id] = personal.ERASED if key_id in gone else personal.UNREADABLE
                with self._lock:
                    self._ciphers.pop(key_id, None)
            if missing - gone:
                log.error("sealed data names data keys this key store never had: %s",
                          sorted(missing - gone)[:5])
        return opened

    # -- sealing trees (events, messages, projections) ---------------------------------------------
    def seal(self, tree: Any, case_subject: str) -> Any:
        """`tree` with its personal data sealed: each party with an id number under their
        own key, the rest under the key of `case_subject` (erased with the main parties).
        The keys it needs are fetched, and the missing ones made, together."""
        parties = list(personal.parties_in(tree))
        has_names = _has_applicants(tree)
        if not parties and not has_names:
            return tree
        wanted: Dict[str, List[str]] = {}
        persons: Dict[str, str] = {}
        for p in parties:
            id_number = p.get("id_number")
            if isinstance(id_number, str):
                persons[id_number] = f"p:{self.pseudonym(id_number)}"
                wanted[persons[id_number]] = []
            elif any(isinstance(p.get(f), str) for f in personal.PARTY_FIELDS):
                wanted[case_subject] = []
        if has_names:
            wanted[case_subject] = []
        if not wanted:
            return tree
        if case_subject in wanted:
            wanted[case_subject] = [self.pseudonym(n) for n in personal.main_id_numbers(tree)]
        keys = self.keys_for(wanted)

        def key_of_party(p: Mapping) -> Key:
            id_number = p.get("id_number")
            return keys[persons[id_number]] if isinstance(id_number, str) \
                else keys[case_subject]

        return personal.seal_tree(tree, key_of_party, lambda: keys[case_subject])

    def unseal(self, tree: Any) -> Any:
        ids = personal.sealed_key_ids(tree)
        return personal.unseal_tree(tree, self.open(ids)) if ids else tree

    def unseal_many(self, trees: List[Any]) -> List[Any]:
        """Several trees with one key lookup (a page of the log)."""
        ids: Set[str] = set()
        for t in trees:
            personal.sealed_key_ids(t, ids)
        if not ids:
            return trees
        opened = self.open(ids)
        return [personal.unseal_tree(t, opened) for t in trees]

    # -- dead letters ------------------------------------------------------------------------------
    def seal_letter(self, letter_id: str, body: bytes, limit: int) -> bytes:
        """The letter's body sealed under a key of its own, erased with everyone whose id
        number it shows; at most `limit` bytes sealed (the rest is cut, as parking cuts
        a large body anyway)."""
        owners = [self.pseudonym(n) for n in personal.all_id_numbers(_json_or_none(body))]
        key_id, key = self.key(f"letter:{letter_id}", owners)
        plain = body[:max(0, limit - LETTER_OVERHEAD)]
        return LETTER_MAGIC + key_id.encode("ascii") + seal_bytes(key, plain,
                                                                  key_id.encode("ascii"))

    def open_letter(self, body: bytes) -> bytes:
        if not body.startswith(LETTER_MAGIC):
            return body  # parked before bodies were sealed
        rest = body[len(LETTER_MAGIC):]
        key_id = rest[:_KEY_ID_LEN].decode("ascii", "replace")
        key = self.open([key_id]).get(key_id, personal.UNREADABLE)
        if isinstance(key, str):
            return key.encode("utf-8")
        try:
            return open_bytes(key, rest[_KEY_ID_LEN:], key_id.encode("ascii"))
        except Exception:
            return personal.UNREADABLE.encode("utf-8")

    # -- erasure -----------------------------------------------------------------------------------
    def erase(self, id_number: str) -> dict:
        """Destroy the person's keys and those erased with them; idempotent. What this call
        destroyed, by kind of subject, and everything erased for them so far."""
        person = self.pseudonym(id_number)
        destroyed = self.keys.destroy(person, self.clock())
        with self._lock:
            for stone in destroyed:
                self._ciphers.pop(stone.key_id, None)
        every = self.keys.erased(person)
        first = min((s.erased_at for s in every), default=None)
        return {"destroyed": _by_kind(destroyed), "erased_in_all": _by_kind(every),
                "first_erased_at": None if first is None else format_time(first)}


def _by_kind(stones) -> Dict[str, int]:
    kinds = {"p": "person", "case": "case", "letter": "dead_letter", "message": "message"}
    out: Dict[str, int] = {}
    for s in stones:
        kind = kinds.get(s.subject.split(":", 1)[0], "other")
        out[kind] = out.get(kind, 0) + 1
    return out


def _has_applicants(tree: Any) -> bool:
    if isinstance(tree, dict):
        return any(k == "applicants" or _has_applicants(v) for k, v in tree.items())
    if isinstance(tree, list):
        return any(_has_applicants(v) for v in tree)
    return False


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
