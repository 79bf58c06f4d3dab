"""Data keys in MongoDB: collections of their own beside the event store's, in the
service's database (whose user may use no other; gm_kernel.privacy.factory), so that a
backup can leave them out or keep them apart from the data they protect.

    data_keys   {_id: key id, subject (unique), wrapped, created_at}
    key_owners  {_id: "<key id>|<person>", key_id, person}
    erased_keys {_id: key id, subject, person, erased_at}
    key_meta    {_id: name, value}

Destroying a key deletes its document (w="majority", j=True). MongoDB keeps deleted
bytes for a while in its storage files and for the oplog window in the oplog; the key is
wrapped by the master key, which is not in the database (docs/operations.md says what an
operator does about backups).
"""
from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Set

import pymongo
from pymongo import WriteConcern
from pymongo.errors import DuplicateKeyError, PyMongoError

from ..store.port import StoreUnavailable
from .keystore import KeyStore, StoredKey, Tombstone


def _translated(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb {self._db.name}: {exc}") from exc

    return wrapper


class MongoKeyStore(KeyStore):
    def __init__(self, db: Any, *, client: Any = None):
        self._db = db
        self._client = client  # closed with the store when it owns it
        durable = WriteConcern(w="majority", j=True, wtimeout=10_000)
        self._keys = db.get_collection("data_keys", write_concern=durable)
        self._owners = db.get_collection("key_owners", write_concern=durable)
        self._erased = db.get_collection("erased_keys", write_concern=durable)
        self._meta = db.get_collection("key_meta", write_concern=durable)
        try:
            if "subject_1" not in self._keys.index_information():
                self._keys.create_index([("subject", pymongo.ASCENDING)], unique=True)
            if "person_1" not in self._owners.index_information():
                self._owners.create_index([("person", pymongo.ASCENDING)])
            if "person_1" not in self._erased.index_information():
                self._erased.create_index([("person", pymongo.ASCENDING)])
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb {db.name}: {exc}") from exc

    @classmethod
    def from_uri(cls, uri: str, database: str) -> "MongoKeyStore":
        options = {} if "serverselectiontimeoutms" in uri.lower() else {
            "serverSelectionTimeoutMS": 10_000}
        client = pymongo.MongoClient(uri, **options)
        return cls(client.get_database(database), client=client)

    @staticmethod
    def _key(doc) -> StoredKey:
        return StoredKey(doc["_id"], doc["subject"], bytes(doc["wrapped"]),
                         _aware(doc["created_at"]))

    @_translated
    def meta(self, name: str) -> Optional[bytes]:
        doc = self._meta.find_one({"_id": name})
        return bytes(doc["value"]) if doc else None

    @_translated
    def put_meta_once(self, name: str, value: bytes) -> bytes:
        try:
            self._meta.insert_one({"_id": name, "value": value})
        except DuplicateKeyError:
            pass
        return bytes(self._meta.find_one({"_id": name})["value"])

    @_translated
    def live_key(self, subject: str) -> Optional[StoredKey]:
        doc = self._keys.find_one({"subject": subject})
        return self._key(doc) if doc else None

    @_translated
    def add(self, key: StoredKey, owners: Iterable[str] = ()) -> StoredKey:
        # The owners first: a key is never live without the links that erase it (links of
        # a key that lost the race name a key id that never becomes live: harmless).
        self.link(key.key_id, owners)
        try:
            self._keys.insert_one({"_id": key.key_id, "subject": key.subject,
                                   "wrapped": key.wrapped, "created_at": key.created_at})
        except DuplicateKeyError:
            self._owners.delete_many({"key_id": key.key_id})
        return self._key(self._keys.find_one({"subject": key.subject}))

    @_translated
    def keys(self, key_ids: Iterable[str]) -> Dict[str, StoredKey]:
        ids = list(dict.fromkeys(key_ids))
        return {d["_id"]: self._key(d) for d in self._keys.find({"_id": {"$in": ids}})} \
            if ids else {}

    @_translated
    def tombstones(self, key_ids: Iterable[str]) -> Set[str]:
        ids = list(dict.fromkeys(key_ids))
        return {d["_id"] for d in self._erased.find({"_id": {"$in": ids}}, {"_id": 1})} \
            if ids else set()

    @_translated
    def link(self, key_id: str, owners: Iterable[str]) -> None:
        for person in dict.fromkeys(owners):
            self._owners.update_one({"_id": f"{key_id}|{person}"},
                                    {"$setOnInsert": {"key_id": key_id, "person": person}},
                                    upsert=True)

    @_translated
    def destroy(self, person: str, at: datetime) -> List[Tombstone]:
        owned = [d["key_id"] for d in self._owners.find({"person": person}, {"key_id": 1})]
        docs = list(self._keys.find({"$or": [{"subject": f"p:{person}"},
                                             {"_id": {"$in": owned}}]}, {"subject": 1}))
        stones = [Tombstone(d["_id"], d["subject"], person, at) for d in docs]
        for stone in stones:  # the tombstone first: a reader never sees a key vanish unmarked
            self._erased.update_one({"_id": stone.key_id}, {"$setOnInsert": {
                "subject": stone.subject, "person": person, "erased_at": at}}, upsert=True)
        if stones:
            ids = [s.key_id for s in stones]
            self._keys.delete_many({"_id": {"$in": ids}})
            self._owners.delete_many({"key_id": {"$in": ids}})
        return stones

    @_translated
    def erased(self, person: str) -> List[Tombstone]:
        docs = self._erased.find({"person": person}).sort([("erased_at", 1), ("_id", 1)])
        return [Tombstone(d["_id"], d["subject"], d["person"], _aware(d["erased_at"]))
                for d in docs]

    @_translated
    def count(self) -> int:
        return self._keys.count_documents({})

    @_translated
    def ping(self) -> None:
        self._db.command("ping")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"MongoKeyStore({self._db.name!r})"


def _aware(value: datetime) -> datetime:
    """MongoDB gives times back naive (in UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
