"""Where a service's key store is, derived from its event store URI (no setting of its own):

    (none) / sqlite:///…/<name>.db   SQLite file <name>.keys.db beside the event store
                                     (<GM_DATA_DIR>/<service>.keys.db by default)
    sqlite:///:memory:               in memory (tests)
    mongodb://host/<db>              collections data_keys, key_owners, erased_keys and
                                     key_meta in the service's database <db> (its user
                                     may use that database only)
    mongomock://…                    an in-memory stand-in (tests)
"""
from __future__ import annotations

import os
from typing import Optional

from ..store.factory import mongo_database_name, open_store, sqlite_path
from ..store.port import EventStore
from ..upcasting import Upcasters
from .crypto import load_master_key
from .keystore import KeyStore
from .store import PrivateEventStore
from .vault import Vault


def key_store_location(uri: Optional[str], service: str, data_dir: Optional[str] = None) -> str:
    """The SQLite path or MongoDB database name of the key store (for messages and docs)."""
    scheme = uri.split(":", 1)[0].lower() if uri and ":" in uri else ""
    if scheme in ("mongodb", "mongodb+srv", "mongomock"):
        return mongo_database_name(uri, service)  # type: ignore[arg-type]
    if scheme == "sqlite":
        path = sqlite_path(uri)  # type: ignore[arg-type]
        if path == ":memory:":
            return path
        root, _ = os.path.splitext(path)
        return root + ".keys.db"
    base = data_dir or os.environ.get("GM_DATA_DIR") or "./var"
    return os.path.join(base, f"{service}.keys.db")


def open_key_store(uri: Optional[str], service: str, data_dir: Optional[str] = None
                   ) -> KeyStore:
    location = key_store_location(uri, service, data_dir)
    scheme = uri.split(":", 1)[0].lower() if uri and ":" in uri else ""
    if scheme in ("mongodb", "mongodb+srv"):
        from .keystore_mongo import MongoKeyStore

        return MongoKeyStore.from_uri(uri, location)  # type: ignore[arg-type]
    if scheme == "mongomock":
        import mongomock

        from .keystore_mongo import MongoKeyStore

        client = mongomock.MongoClient()
        return MongoKeyStore(client.get_database(location), client=client)
    from .keystore_sqlite import SQLiteKeyStore

    if location != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(location)), exist_ok=True)
    return SQLiteKeyStore(location)


def open_vault(uri: Optional[str], service: str, data_dir: Optional[str] = None,
               master_key: Optional[str] = None) -> Vault:
    """The service's vault; MasterKeyError (a ValueError) if the master key is malformed or
    is not the one the key store was made under."""
    base = data_dir or os.environ.get("GM_DATA_DIR") or "./var"
    master = load_master_key(master_key, base)
    keys = open_key_store(uri, service, data_dir)
    try:
        return Vault(master, keys)
    except BaseException:
        keys.close()
        raise


def open_private_store(uri: Optional[str], service: str, data_dir: Optional[str] = None,
                       upcasters: Optional[Upcasters] = None,
                       master_key: Optional[str] = None) -> PrivateEventStore:
    """The service's event store with its personal data sealed (gm_kernel.privacy.store)."""
    vault = open_vault(uri, service, data_dir, master_key)
    try:
        inner: EventStore = open_store(uri, service, data_dir=data_dir)
    except BaseException:
        vault.keys.close()
        raise
    return PrivateEventStore(inner, vault, upcasters)
