"""The key store contract: one suite every KeyStore adapter passes.

    class TestSQLiteKeyStore(KeyStoreContract):
        def make_key_store(self):
            return SQLiteKeyStore(self.tmp_path / "svc.keys.db")

`make_key_store()` opens (another handle on) THE key store of this test's sandbox.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import List

import pytest

from ..privacy.keystore import KeyStore, StoredKey

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def key(key_id: str, subject: str, wrapped: bytes = b"w") -> StoredKey:
    return StoredKey(key_id, subject, wrapped, T0)


class KeyStoreContract:
    def make_key_store(self) -> KeyStore:
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _key_store_sandbox(self, tmp_path):
        self.tmp_path = tmp_path
        self._opened: List[KeyStore] = []
        yield
        for store in self._opened:
            store.close()

    def open(self) -> KeyStore:
        store = self.make_key_store()
        self._opened.append(store)
        return store

    def test_a_key_is_kept_and_found_by_subject_and_id(self):
        store = self.open()
        assert store.live_key("p:a") is None and store.count() == 0
        kept = store.add(key("k1", "p:a", b"\x00\x01wrapped"))
        assert kept == key("k1", "p:a", b"\x00\x01wrapped")
        assert store.live_key("p:a") == kept
        assert store.keys(["k1", "nope"]) == {"k1": kept}
        assert self.open().live_key("p:a") == kept  # another handle sees it

    def test_one_live_key_per_subject_the_first_wins(self):
        first, second = self.open(), self.open()
        won = first.add(key("k1", "case:c1", b"one"))
        assert second.add(key("k2", "case:c1", b"two")) == won
        assert first.keys(["k1", "k2"]) == {"k1": won} and first.count() == 1

    def test_a_key_added_with_owners_is_destroyed_with_them(self):
        store = self.open()
        store.add(key("kc", "case:c1"), ["alice", "bob"])
        assert self.open().add(key("kx", "case:c1"), ["carol"]).key_id == "kc"
        assert store.destroy("carol", T0) == []  # the loser's owners are not the key's
        assert [s.key_id for s in store.destroy("bob", T0)] == ["kc"]

    def test_keys_are_found_and_added_many_at_once(self):
        store = self.open()
        store.add(key("k1", "p:alice"))
        assert set(store.live_keys(["p:alice", "p:nobody"])) == {"p:alice"}
        added = store.add_many([(key("k9", "p:alice"), ["x"]), (key("k2", "case:c1"), ["alice"]),
                                (key("k3", "letter:l1"), [])])
        assert {s: k.key_id for s, k in added.items()} == {
            "p:alice": "k1", "case:c1": "k2", "letter:l1": "k3"}
        assert sorted(s.key_id for s in store.destroy("alice", T0)) == ["k1", "k2"]
        assert store.destroy("x", T0) == []  # k9 lost to k1: its owners are nobody's

    def test_meta_is_written_once(self):
        store = self.open()
        assert store.meta("check") is None
        assert store.put_meta_once("check", b"first") == b"first"
        assert self.open().put_meta_once("check", b"second") == b"first"
        assert store.meta("check") == b"first"

    def test_destroying_a_person_destroys_their_key_and_the_keys_they_own(self):
        store = self.open()
        store.add(key("kp", "p:alice"))
        store.add(key("kc", "case:c1"))
        store.add(key("kl", "letter:l1"))
        store.add(key("kb", "p:bob"))
        store.add(key("kc2", "case:c2"))
        store.link("kc", ["alice", "bob"])
        store.link("kl", ["alice"])
        store.link("kl", ["alice"])  # idempotent
        store.link("kc2", ["bob"])
        at = datetime(2026, 12, 2, tzinfo=timezone.utc)
        stones = store.destroy("alice", at)
        assert sorted(s.key_id for s in stones) == ["kc", "kl", "kp"]
        assert {s.subject for s in stones} == {"p:alice", "case:c1", "letter:l1"}
        assert all(s.person == "alice" and s.erased_at == at for s in stones)
        assert store.live_key("p:alice") is None and store.live_key("case:c1") is None
        assert set(store.keys(["kp", "kc", "kl", "kb", "kc2"])) == {"kb", "kc2"}
        assert store.tombstones(["kp", "kc", "kl", "kb", "zz"]) == {"kp", "kc", "kl"}
        # bob's link to the destroyed case key went with it; his own keys stay
        assert [s.key_id for s in store.destroy("bob", at)] in (["kb", "kc2"], ["kc2", "kb"])

    def test_destroying_again_destroys_nothing_and_reports_what_was(self):
        store = self.open()
        store.add(key("kp", "p:alice"))
        at = datetime(2026, 12, 2, tzinfo=timezone.utc)
        assert len(store.destroy("alice", at)) == 1
        assert store.destroy("alice", at) == []
        assert [(s.key_id, s.subject) for s in store.erased("alice")] == [("kp", "p:alice")]
        assert store.erased("nobody") == []

    def test_a_subject_gets_a_new_key_after_its_old_one_was_destroyed(self):
        store = self.open()
        store.add(key("k1", "p:alice"))
        store.destroy("alice", T0)
        assert store.add(key("k2", "p:alice")).key_id == "k2"
        assert store.tombstones(["k1", "k2"]) == {"k1"}

    def test_ping(self):
        self.open().ping()
