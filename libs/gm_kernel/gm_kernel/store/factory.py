"""Open a service's event store from a URI (12-factor: GM_<SERVICE>_STORE_URI / GM_STORE_URI).

    sqlite:////abs/path.db     SQLite file, absolute path ("sqlite:///" + "/abs/path.db")
    sqlite:///relative.db      SQLite file, relative to the working directory
    sqlite:///:memory:         SQLite in memory (one store object only)
    mongodb://host/dbname      MongoDB; database from the URI path, default gm_<service>
    mongodb+srv://...          the same, through DNS seed lists
    mongomock://[host/dbname]  in-memory MongoDB stand-in (tests; needs mongomock)
    None or ""                 SQLite at <data_dir or $GM_DATA_DIR or ./var>/<service>.db
"""
from __future__ import annotations

import os
from typing import Optional
from urllib.parse import urlsplit

from ..upcasting import Upcasters
from .port import EventStore

_SCHEMES = "sqlite:///, mongodb://, mongodb+srv://, mongomock://"


def open_store(uri: str | None, service: str, data_dir: str | None = None,
               upcasters: Optional[Upcasters] = None) -> EventStore:
    """The event store `uri` names, for `service` (see the module docstring)."""
    if not uri:
        base = data_dir or os.environ.get("GM_DATA_DIR") or "./var"
        return _sqlite(os.path.join(base, f"{service}.db"), service, upcasters)
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "sqlite":
        return _sqlite(sqlite_path(uri), service, upcasters)
    if scheme in ("mongodb", "mongodb+srv"):
        from .mongo import MongoEventStore

        return MongoEventStore.from_uri(uri, service, upcasters)
    if scheme == "mongomock":
        return _mongomock(uri, service, upcasters)
    raise ValueError(f"unknown event store URI {uri!r}: use one of {_SCHEMES} "
                     "(or none for SQLite under the data directory)")


def sqlite_path(uri: str) -> str:
    """The file a sqlite:/// URI names (SQLAlchemy's convention: 4 slashes = absolute)."""
    prefix = "sqlite:///"
    if not uri.lower().startswith(prefix) or len(uri) == len(prefix):
        raise ValueError(f"bad SQLite URI {uri!r}: use sqlite:///relative.db or "
                         "sqlite:////absolute/path.db")
    return uri[len(prefix):]


def _sqlite(path: str, service: str, upcasters: Optional[Upcasters]) -> EventStore:
    from .sqlite import SQLiteEventStore

    if path != ":memory:":
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
    return SQLiteEventStore(path, service, upcasters)


def mongo_database_name(uri: str, service: str) -> str:
    """The database a mongodb:// (or mongomock://) URI names, else gm_<service>."""
    name = urlsplit(uri).path.lstrip("/")
    return name or f"gm_{service}"


def _mongomock(uri: str, service: str, upcasters: Optional[Upcasters]) -> EventStore:
    try:
        import mongomock
    except ImportError:  # a test-only dependency
        raise ValueError("mongomock:// needs the mongomock package (pip install mongomock)") \
            from None
    from .mongo import MongoEventStore

    client = mongomock.MongoClient()  # a fresh, private in-memory server per store
    store = MongoEventStore(client.get_database(mongo_database_name(uri, service)), service,
                            upcasters)
    store._client = client
    return store
