"""Editing a store's database behind its back, as someone with access to it could: the
adapters' part of StoreContract's hash-chain tests (mix in before StoreContract)."""
from __future__ import annotations

import json
import sqlite3


class SQLiteTampering:
    """Another connection to the file, plain SQL."""

    @staticmethod
    def _edit(store, *statements):
        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def alter_event_data(self, store, position, data):
        self._edit(store, ("UPDATE events SET data = ? WHERE position = ?",
                           (json.dumps(data), position)))

    def delete_event(self, store, position):
        self._edit(store, ("DELETE FROM events WHERE position = ?", (position,)))

    def swap_events(self, store, a, b):
        self._edit(store, ("UPDATE events SET position = -1 WHERE position = ?", (a,)),
                   ("UPDATE events SET position = ? WHERE position = ?", (a, b)),
                   ("UPDATE events SET position = ? WHERE position = -1", (b,)))

    def alter_link_hash(self, store, first_position, new_hash):
        self._edit(store, ("UPDATE commits SET hash = ? WHERE first_position = ?",
                           (new_hash, first_position)))

    def delete_commit(self, store, first_position):
        self._edit(store, ("DELETE FROM events WHERE position BETWEEN ? AND (SELECT "
                           "last_position FROM commits WHERE first_position = ?)",
                           (first_position, first_position)),
                   ("DELETE FROM commits WHERE first_position = ?", (first_position,)))

    def unlink_commit(self, store, first_position):
        self._edit(store, ("DELETE FROM commits WHERE first_position = ?", (first_position,)))


class MongoTampering:
    """Plain updates of the store's `commits` collection."""

    @staticmethod
    def _commits(store):
        return store._db.commits

    def alter_event_data(self, store, position, data):
        self._commits(store).update_one({"events.position": position},
                                   {"$set": {"events.$.data": data}})

    def delete_event(self, store, position):
        self._commits(store).update_one({"events.position": position},
                                   {"$pull": {"events": {"position": position}}})

    def swap_events(self, store, a, b):
        commits = self._commits(store)
        docs = {d["_id"]: d for d in commits.find({"events.position": {"$in": [a, b]}})}
        for doc in docs.values():
            for e in doc["events"]:
                e["position"] = {a: b, b: a}.get(e["position"], e["position"])
            doc["events"].sort(key=lambda e: e["position"])
        held = {e["position"]: (d["_id"], e) for d in docs.values() for e in d["events"]}
        for doc in docs.values():  # each event back under the commit of its new position
            doc["events"] = [held[p][1] for p in range(doc["_id"], doc["position_end"] + 1)]
            commits.replace_one({"_id": doc["_id"]}, doc)

    def alter_link_hash(self, store, first_position, new_hash):
        self._commits(store).update_one({"_id": first_position}, {"$set": {"hash": new_hash}})

    def delete_commit(self, store, first_position):
        self._commits(store).delete_one({"_id": first_position})

    def unlink_commit(self, store, first_position):
        self._commits(store).update_one({"_id": first_position},
                                   {"$unset": {"hash": "", "prev_hash": ""}})
