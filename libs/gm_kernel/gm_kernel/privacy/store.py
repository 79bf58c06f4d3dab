"""An event store that keeps personal data sealed at rest: a layer above the EventStore
port, around any adapter (SQLite, MongoDB), which it does not change.

Why above the port and not inside the adapters: the adapters chain what they store
(SHA-256 over each record) so that the log is tamper-evident. Sealing before `append`
means the chain is computed over ciphertext, and erasing a person — destroying keys in
the key store, never touching the log — leaves every record, and so the chain, exactly
as it was: it still verifies.

What is sealed, on the way in (gm_kernel.privacy.personal says which values):
- events' data, per commit, with the case key of the commit's case (the first event's
  correlation id, else its stream id);
- outbox messages a command adds (e.g. a hand-off to an agency, with the parties), under
  the same case key, or a key of their own in a commit without events. Events' own outbox
  copies are made by the adapter from the sealed events, so they are sealed too;
- a dead letter's raw body, whole (gm_kernel.privacy.vault.Vault.seal_letter);
- the results recorded with idempotency keys (a screening report's answer lists its
  findings' parties), so the answer given again to a re-sent request is opened on read.

And undone on the way out: `read_stream`, `read_log` (so the log served over RPC to
other services and to reporting's rebuild is plaintext, with markers where a person was
erased), `pending_outbox` (so the relay publishes plaintext: internal events and agency
messages carry personal data in transit, over the broker's connections, as before;
what is at rest is sealed), and dead letters.

Recorded events returned by `append` carry the data as given (what a read would give).
Tracking records, leases and idempotency keys pass through unchanged: they hold ids,
positions and digests, no personal data.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Sequence

from ..events import (
    MAX_LETTER_BODY, DeadLetter, NewEvent, OutboxMessage, PendingMessage, Processed,
    RecordedEvent, Tracking,
)
from ..store.port import DuplicateMessage, EventStore
from ..upcasting import Upcasters
from .vault import Vault


class PrivateEventStore(EventStore):
    """`inner` with personal data sealed by `vault`. `inner` must have no upcasters of its
    own: upcasting happens here, on the opened data."""

    def __init__(self, inner: EventStore, vault: Vault,
                 upcasters: Optional[Upcasters] = None):
        super().__init__(inner.service, upcasters)
        self.inner, self.vault = inner, vault

    # -- writing -------------------------------------------------------------------------
    def append(self, stream_id: Optional[str], expected_version: Optional[int],
               events: Sequence[NewEvent] = (), *, outbox: Iterable[OutboxMessage] = (),
               processed: Iterable[Processed] = (), tracking: Optional[Tracking] = None,
               dead_letter: Optional[DeadLetter] = None) -> List[RecordedEvent]:
        events = list(events)
        case = _case_subject(stream_id, events)
        sealed_events = [replace(e, data=self.vault.seal(dict(e.data), case))
                         if isinstance(e, NewEvent) else e for e in events]
        sealed_outbox = [replace(m, body=self.vault.seal(
            dict(m.body), case or f"message:{m.message_id}")) for m in outbox]
        sealed_processed = [p if not isinstance(p, Processed) or p.result is None else replace(
            p, result=self.vault.seal(dict(p.result), case or f"message:{p.key}"))
            for p in processed]
        if dead_letter is not None and isinstance(dead_letter, DeadLetter):
            kept = dead_letter.storable()
            dead_letter = replace(kept, body=self.vault.seal_letter(kept.id, kept.body,
                                                                    MAX_LETTER_BODY))
        try:
            recorded = self.inner.append(stream_id, expected_version, sealed_events,
                                         outbox=sealed_outbox, processed=sealed_processed,
                                         tracking=tracking, dead_letter=dead_letter)
        except DuplicateMessage as dup:
            if dup.result is None:
                raise
            raise DuplicateMessage(dup.key, self.vault.unseal(dup.result)) from None
        return [replace(r, data=dict(e.data)) for r, e in zip(recorded, events)]

    # -- reading -------------------------------------------------------------------------
    def _opened(self, events: List[RecordedEvent]) -> List[RecordedEvent]:
        datas = self.vault.unseal_many([e.data for e in events])
        return [e if d is e.data else e.with_data(e.schema_version, d)
                for e, d in zip(events, datas)]

    def _read_stream(self, stream_id: str, after_version: int) -> List[RecordedEvent]:
        return self._opened(self.inner.read_stream(stream_id, after_version))

    def _read_log(self, after_position: int, limit: int) -> List[RecordedEvent]:
        return self._opened(self.inner.read_log(after_position, limit))

    def stream_version(self, stream_id: str) -> int:
        return self.inner.stream_version(stream_id)

    def last_position(self) -> int:
        return self.inner.last_position()

    def processed_result(self, key: str) -> Optional[Processed]:
        found = self.inner.processed_result(key)
        if found is None or found.result is None:
            return found
        return replace(found, result=self.vault.unseal(found.result))

    def tracked_position(self, name: str) -> int:
        return self.inner.tracked_position(name)

    # -- outbox --------------------------------------------------------------------------
    def pending_outbox(self, limit: int = 100) -> List[PendingMessage]:
        pending = self.inner.pending_outbox(limit)
        bodies = self.vault.unseal_many([m.body for m in pending])
        return [m if b is m.body else replace(m, body=b) for m, b in zip(pending, bodies)]

    def mark_sent(self, outbox_ids: Iterable[str]) -> None:
        self.inner.mark_sent(outbox_ids)

    def outbox_backlog(self) -> int:
        return self.inner.outbox_backlog()

    # -- replicas and retention -----------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        return self.inner.acquire_lease(name, holder, ttl)

    def release_lease(self, name: str, holder: str) -> None:
        self.inner.release_lease(name, holder)

    def prune(self, before: datetime) -> Dict[str, int]:
        return self.inner.prune(before)

    # -- dead letters --------------------------------------------------------------------
    def _letter(self, letter: Optional[DeadLetter]) -> Optional[DeadLetter]:
        if letter is None:
            return None
        return replace(letter, body=self.vault.open_letter(letter.body))

    def dead_letters(self, limit: int = 100, offset: int = 0) -> List[DeadLetter]:
        return [self._letter(x) for x in self.inner.dead_letters(limit, offset)]  # type: ignore

    def dead_letter(self, letter_id: str) -> Optional[DeadLetter]:
        return self._letter(self.inner.dead_letter(letter_id))

    def remove_dead_letter(self, letter_id: str) -> bool:
        return self.inner.remove_dead_letter(letter_id)

    def count_dead_letters(self) -> int:
        return self.inner.count_dead_letters()

    # -- erasure and lifecycle ------------------------------------------------------------
    def erase_person(self, id_number: str) -> dict:
        """Destroy the person's keys in this service (gm_kernel.privacy.vault.Vault.erase)."""
        return self.vault.erase(id_number)

    def pseudonym(self, id_number: str) -> str:
        return self.vault.pseudonym(id_number)

    def ping(self) -> None:
        self.inner.ping()
        self.vault.keys.ping()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.vault.keys.close()

    # The hash chain is over what is stored, sealed: verified by the store underneath, so
    # an erasure (keys destroyed, records untouched) leaves it verifying.
    def verify_chain(self):
        return self.inner.verify_chain()

    def verify_stream(self, stream_id: str):
        return self.inner.verify_stream(stream_id)

    def _chain_links(self):
        return self.inner._chain_links()

    def _chain_migrated_through(self) -> int:
        return self.inner._chain_migrated_through()

    def _stream_links(self, stream_id: str):
        return self.inner._stream_links(stream_id)

    def __getattr__(self, name):
        # What an adapter offers beyond the port (its path, schema version, a chain check)
        # is the inner store's.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"PrivateEventStore({self.inner!r})"


def _case_subject(stream_id: Optional[str], events: Sequence[NewEvent]) -> Optional[str]:
    """The case a commit's id-less personal data is sealed for: the case its first event
    belongs to (correlation id), else its stream."""
    if not events:
        return None
    first = events[0]
    case = getattr(first, "correlation_id", None) or stream_id
    return f"case:{case}" if case else None
