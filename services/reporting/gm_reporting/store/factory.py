"""Open reporting's projection store from the service's store URI (Settings.store_uri).

The same URIs as the event store (gm_kernel.store.factory), so one setting places both:

    None or ""                 SQLite at <data_dir>/reporting-projections.db
    sqlite:///path/x.db        SQLite at path/x-projections.db (beside the event store)
    sqlite:///:memory:         SQLite in memory
    mongodb://host/db          MongoDB: collections projection_* in the same database
    mongomock://[host/db]      in-memory MongoDB stand-in (tests)

A separate SQLite file keeps a rebuild's long write transactions away from the event
store's (dead letters, health checks) and lets an operator delete it to start over.
"""
from __future__ import annotations

import os
from typing import Optional

from gm_kernel.store.factory import mongo_database_name, sqlite_path

from .port import ProjectionStore

SUFFIX = "-projections"


def projection_path(uri: Optional[str], service: str = "reporting",
                    data_dir: Optional[str] = None) -> str:
    """The SQLite file (or ":memory:") the projections of `uri` live in."""
    if not uri:
        base = data_dir or os.environ.get("GM_DATA_DIR") or "./var"
        return os.path.join(base, f"{service}{SUFFIX}.db")
    path = sqlite_path(uri)
    if path == ":memory:":
        return path
    root, ext = os.path.splitext(path)
    return f"{root}{SUFFIX}{ext or '.db'}"


def open_private_projection_store(uri: Optional[str], vault, service: str = "reporting",
                                  data_dir: Optional[str] = None) -> ProjectionStore:
    """The projection store with the parties sealed under `vault` (store/private.py);
    a bare one when there is no vault (a test building reporting on a bare store)."""
    store = open_projection_store(uri, service, data_dir)
    if vault is None:
        return store
    from .private import PrivateProjectionStore

    return PrivateProjectionStore(store, vault)


def open_projection_store(uri: Optional[str], service: str = "reporting",
                          data_dir: Optional[str] = None) -> ProjectionStore:
    scheme = uri.split(":", 1)[0].lower() if uri and ":" in uri else ""
    if not uri or scheme == "sqlite":
        from .sqlite import SQLiteProjectionStore

        path = projection_path(uri, service, data_dir)
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SQLiteProjectionStore(path)
    if scheme in ("mongodb", "mongodb+srv"):
        from .mongo import MongoProjectionStore

        return MongoProjectionStore.from_uri(uri, mongo_database_name(uri, service))
    if scheme == "mongomock":
        try:
            import mongomock
        except ImportError:
            raise ValueError("mongomock:// needs the mongomock package") from None
        from .mongo import MongoProjectionStore

        client = mongomock.MongoClient()
        store = MongoProjectionStore(client.get_database(mongo_database_name(uri, service)),
                                     switch_grace=0.0)
        store._client = client
        return store
    raise ValueError(f"unknown store URI {uri!r}: use sqlite:///, mongodb://, mongodb+srv://, "
                     "mongomock:// (or none for SQLite under the data directory)")
