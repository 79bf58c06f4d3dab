"""open_store: which store a URI (or none) gives."""
from __future__ import annotations

import os

import pytest

from gm_kernel import NO_STREAM, NewEvent
from gm_kernel.store.factory import mongo_database_name, open_store, sqlite_path
from gm_kernel.store.mongo import MongoEventStore
from gm_kernel.store.sqlite import SQLiteEventStore

pytestmark = pytest.mark.timeout(30)


def _roundtrip(store) -> None:
    try:
        store.append("s", NO_STREAM, [NewEvent("T", {})])
        assert store.last_position() == 1
    finally:
        store.close()


def test_sqlite_absolute(tmp_path):
    path = tmp_path / "nested" / "a.db"
    store = open_store(f"sqlite:///{path}", "svc")  # sqlite:/// + /abs/path: four slashes
    assert isinstance(store, SQLiteEventStore) and store.path == str(path)
    _roundtrip(store)
    assert path.exists()


def test_sqlite_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/rel.db", "svc")
    assert store.path == "data/rel.db"
    _roundtrip(store)
    assert (tmp_path / "data" / "rel.db").exists()


def test_sqlite_memory():
    _roundtrip(open_store("sqlite:///:memory:", "svc"))


@pytest.mark.parametrize("uri", ["sqlite://", "sqlite:///", "sqlite:relative.db"])
def test_bad_sqlite_uri(uri):
    with pytest.raises(ValueError, match="sqlite"):
        sqlite_path(uri)


def test_default_is_sqlite_under_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GM_DATA_DIR", str(tmp_path / "from-env"))
    store = open_store(None, "intake", data_dir=str(tmp_path / "given"))
    assert store.path == os.path.join(str(tmp_path / "given"), "intake.db")
    _roundtrip(store)


def test_default_data_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GM_DATA_DIR", str(tmp_path / "from-env"))
    store = open_store("", "intake")
    assert store.path == os.path.join(str(tmp_path / "from-env"), "intake.db")
    _roundtrip(store)


def test_default_data_dir_is_var(tmp_path, monkeypatch):
    monkeypatch.delenv("GM_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    _roundtrip(open_store(None, "intake"))
    assert (tmp_path / "var" / "intake.db").exists()


def test_mongomock():
    store = open_store("mongomock://", "intake")
    assert isinstance(store, MongoEventStore)
    assert store._db.name == "gm_intake"
    _roundtrip(store)
    named = open_store("mongomock://localhost/other", "intake")
    assert named._db.name == "other"
    assert named.last_position() == 0  # each mongomock:// store is its own server
    named.close()


def test_mongo_database_name():
    assert mongo_database_name("mongodb://h1:27017,h2:27017/gm?replicaSet=rs0", "x") == "gm"
    assert mongo_database_name("mongodb://localhost:27017", "intake") == "gm_intake"
    assert mongo_database_name("mongodb://localhost:27017/", "intake") == "gm_intake"


@pytest.mark.parametrize("uri", ["postgres://localhost/db", "file.db", "redis://x"])
def test_unknown_scheme(uri):
    with pytest.raises(ValueError, match="unknown event store URI"):
        open_store(uri, "svc")
