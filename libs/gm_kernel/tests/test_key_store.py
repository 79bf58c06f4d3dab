"""Both key store adapters under one contract; what only SQLite's file can show."""
from __future__ import annotations

import mongomock
import pytest

from gm_kernel.privacy.keystore_mongo import MongoKeyStore
from gm_kernel.privacy.keystore_sqlite import SQLiteKeyStore
from gm_kernel.testing import KeyStoreContract
from gm_kernel.testing.key_store_contract import T0, key

pytestmark = pytest.mark.timeout(60)


class TestSQLiteKeyStore(KeyStoreContract):
    def make_key_store(self):
        return SQLiteKeyStore(self.tmp_path / "svc.keys.db")


class TestMongoKeyStore(KeyStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self):
        self.client = mongomock.MongoClient()

    def make_key_store(self):
        return MongoKeyStore(self.client.get_database("gm_svc_keys"))


def test_a_destroyed_key_leaves_no_copy_in_the_sqlite_files(tmp_path):
    """secure_delete zeroes the row; the truncating checkpoint empties the WAL that held
    its earlier page images."""
    path = tmp_path / "svc.keys.db"
    store = SQLiteKeyStore(path)
    secret = b"WRAPPED-KEY-MATERIAL-" * 4
    store.add(key("k1", "p:alice", secret))
    store.add(key("k2", "p:bob", b"bob's key"))
    files = lambda: b"".join(p.read_bytes() for p in tmp_path.iterdir())  # noqa: E731
    assert secret in files()
    store.destroy("alice", T0)
    assert secret not in files()
    assert store.live_key("p:bob") is not None
    store.close()
