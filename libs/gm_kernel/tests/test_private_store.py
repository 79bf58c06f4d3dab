"""The event store with personal data sealed (gm_kernel.privacy): still an event store
(the whole store contract, over SQLite and MongoDB), ciphertext at rest, plaintext on
every read, and erasure that makes one person unreadable and nobody else."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3

import mongomock
import pytest

from gm_kernel import NO_STREAM, DeadLetter, NewEvent, OutboxMessage
from gm_kernel.events import MAX_LETTER_BODY
from gm_kernel.privacy import (
    ERASED, MasterKey, MasterKeyError, PrivateEventStore, Vault, load_master_key,
    open_private_store,
)
from gm_kernel.privacy.keystore_mongo import MongoKeyStore
from gm_kernel.privacy.keystore_sqlite import SQLiteKeyStore
from gm_kernel.privacy.vault import LETTER_OVERHEAD
from gm_kernel.store.mongo import MongoEventStore
from gm_kernel.store.sqlite import SQLiteEventStore
from gm_kernel.testing import StoreContract
from gm_kernel.testing.tampering import MongoTampering, SQLiteTampering

pytestmark = pytest.mark.timeout(60)

MASTER = MasterKey(bytes(range(32)))
ALICE_ID, BOB_ID = "11010519491231002X", "110105194912310021"


def _parking_with_room_for_the_seal(self):
    """As the contract's test, except that a huge body is cut LETTER_OVERHEAD bytes
    earlier: the seal (key id, nonce, tag) must fit in what the adapter keeps."""
    store = self.open()
    huge = b"[" * (MAX_LETTER_BODY + 1000)
    store.park(DeadLetter(id="gm.inbound:\ud800:1", source="gm.inbound", reason="bad", body=huge))
    [kept] = store.dead_letters()
    assert kept.id == "gm.inbound:\\ud800:1"
    assert kept.body == huge[:MAX_LETTER_BODY - LETTER_OVERHEAD] and kept.truncated
    assert kept.body_size == len(huge)
    assert kept.body_sha256 == hashlib.sha256(huge).hexdigest()


class TestPrivateSQLiteStore(SQLiteTampering, StoreContract):
    def make_store(self, service="svc", upcasters=None):
        inner = SQLiteEventStore(self.tmp_path / f"{service}.db", service)
        vault = Vault(MASTER, SQLiteKeyStore(self.tmp_path / f"{service}.keys.db"))
        return PrivateEventStore(inner, vault, upcasters)

    test_parking_cannot_fail_on_what_arrived = _parking_with_room_for_the_seal


class TestPrivateMongoStore(MongoTampering, StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self):
        self.client = mongomock.MongoClient()

    def make_store(self, service="svc", upcasters=None):
        inner = MongoEventStore(self.client.get_database(f"gm_{service}"), service)
        vault = Vault(MASTER, MongoKeyStore(self.client.get_database(f"gm_{service}_keys")))
        return PrivateEventStore(inner, vault, upcasters)

    test_parking_cannot_fail_on_what_arrived = _parking_with_room_for_the_seal


# -- personal data ----------------------------------------------------------------------------
def registered(case_id: str, *parties) -> NewEvent:
    return NewEvent("CaseRegistered", {"case_id": case_id, "summary": "邻里纠纷",
                                       "parties": list(parties)}, correlation_id=case_id)


ALICE = {"role": "applicant", "name": "王小丫", "id_number": ALICE_ID, "phone": "13912345678"}
NO_ID = {"role": "respondent", "name": "李没号", "id_number": None, "phone": "13700001111"}
BOB = {"role": "applicant", "name": "赵大宝", "id_number": BOB_ID, "phone": None}
SECRETS = ["王小丫", ALICE_ID, "13912345678", "李没号", "13700001111", "赵大宝", BOB_ID]


@pytest.fixture
def store(tmp_path):
    s = open_private_store(f"sqlite:///{tmp_path}/svc.db", "svc",
                           master_key=base64.b64encode(bytes(range(32))).decode())
    yield s
    s.close()


def at_rest(tmp_path) -> bytes:
    """Every byte of every file of the store and its key store (the WAL too)."""
    return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())


def test_personal_data_is_ciphertext_at_rest_and_plaintext_on_every_read(store, tmp_path):
    recorded = store.append("case-1", NO_STREAM, [registered("c1", ALICE, NO_ID)],
                            outbox=[OutboxMessage("gm.outbound", "court.handoff_requested",
                                                  {"data": {"parties": [ALICE, NO_ID]}})])
    store.append("case-2", NO_STREAM, [registered("c2", BOB)])
    store.park(DeadLetter(id="l1", source="gm.inbound", reason="bad",
                          body=json.dumps({"data": {"parties": [ALICE]}}).encode()))
    raw = at_rest(tmp_path)
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    assert "邻里纠纷".encode() in raw  # what is not personal stays readable
    assert recorded[0].data["parties"] == [ALICE, NO_ID]
    assert store.read_stream("case-1")[0].data["parties"] == [ALICE, NO_ID]
    assert [e.data["parties"] for e in store.read_log()] == [[ALICE, NO_ID], [BOB]]
    bodies = [m.body for m in store.pending_outbox()]
    assert bodies[0]["data"]["parties"] == [ALICE, NO_ID]  # the event, as published
    assert bodies[1] == {"data": {"parties": [ALICE, NO_ID]}}  # the agency's message
    assert json.loads(store.dead_letter("l1").body) == {"data": {"parties": [ALICE]}}


def test_erasing_a_person_makes_them_unreadable_everywhere_and_nobody_else(store, tmp_path):
    store.append("case-1", NO_STREAM, [registered("c1", ALICE, NO_ID)])
    store.append("case-1", 1, [NewEvent("ConfirmationRequested",
                                        {"applicants": ["王小丫", "李没号"]}, correlation_id="c1")])
    store.append("case-2", NO_STREAM, [registered("c2", BOB, dict(NO_ID, name="张旁人"))])
    store.park(DeadLetter(id="l1", source="gm.inbound", reason="bad",
                          body=json.dumps({"data": {"parties": [ALICE]}}).encode()))
    store.park(DeadLetter(id="l2", source="gm.inbound", reason="bad", body=b"not json"))
    before = [(e.position, e.id, e.type) for e in store.read_log()]

    report = store.erase_person(ALICE_ID.lower())  # as typed: a lowercase check x
    assert report["destroyed"] == {"person": 1, "case": 1, "dead_letter": 1}

    first = store.read_stream("case-1")
    gone = {"role": "applicant", "name": ERASED, "id_number": None, "phone": None}
    assert first[0].data["parties"] == [gone, dict(gone, role="respondent")]
    assert first[1].data["applicants"] == [ERASED, ERASED]
    assert first[0].data["summary"] == "邻里纠纷"  # the case itself stays
    assert store.read_stream("case-2")[0].data["parties"][0] == BOB  # nobody else
    assert store.read_stream("case-2")[0].data["parties"][1]["name"] == "张旁人"
    assert store.dead_letter("l1").body == ERASED.encode()
    assert store.dead_letter("l2").body == b"not json"
    assert [(e.position, e.id, e.type) for e in store.read_log()] == before
    assert store.count_dead_letters() == 2
    again = store.erase_person(ALICE_ID)
    assert again["destroyed"] == {} and again["erased_in_all"] == report["destroyed"]


def test_a_person_erased_can_come_back_as_new_data(store):
    store.append("case-1", NO_STREAM, [registered("c1", ALICE)])
    store.erase_person(ALICE_ID)
    store.append("case-3", NO_STREAM, [registered("c3", ALICE)])
    assert store.read_stream("case-3")[0].data["parties"] == [ALICE]
    assert store.read_stream("case-1")[0].data["parties"][0]["name"] == ERASED


def test_erasure_in_one_replica_is_seen_at_once_by_another(tmp_path):
    key = base64.b64encode(bytes(range(32))).decode()
    one = open_private_store(f"sqlite:///{tmp_path}/svc.db", "svc", master_key=key)
    two = open_private_store(f"sqlite:///{tmp_path}/svc.db", "svc", master_key=key)
    try:
        one.append("case-1", NO_STREAM, [registered("c1", ALICE)])
        assert two.read_stream("case-1")[0].data["parties"] == [ALICE]  # key cached in two
        one.erase_person(ALICE_ID)
        assert two.read_stream("case-1")[0].data["parties"][0]["name"] == ERASED
    finally:
        one.close()
        two.close()


def test_a_wrong_master_key_fails_loudly_when_the_store_opens(tmp_path):
    uri = f"sqlite:///{tmp_path}/svc.db"
    open_private_store(uri, "svc", master_key=base64.b64encode(b"a" * 32).decode()).close()
    with pytest.raises(MasterKeyError, match="does not open the key store"):
        open_private_store(uri, "svc", master_key=base64.b64encode(b"b" * 32).decode())
    with pytest.raises(MasterKeyError, match="32 bytes"):
        open_private_store(uri, "svc", master_key=base64.b64encode(b"short").decode())
    with pytest.raises(MasterKeyError, match="not base64"):
        open_private_store(uri, "svc", master_key="not base64!")


def test_without_a_master_key_a_development_key_is_made_once_and_reused(tmp_path, caplog):
    first = load_master_key(None, str(tmp_path))
    assert "GM_MASTER_KEY is not set" in caplog.text
    assert oct(os.stat(tmp_path / "master.key").st_mode & 0o777) == "0o600"
    assert load_master_key(None, str(tmp_path)).pseudonym(ALICE_ID) == first.pseudonym(ALICE_ID)
    assert load_master_key(None, str(tmp_path / "other")).pseudonym(ALICE_ID) \
        != first.pseudonym(ALICE_ID)


def test_the_audit_fields_and_the_log_are_unchanged_by_erasure(store, tmp_path):
    """What the adapter stored (and chains) is not touched: the rows are byte-identical."""
    store.append("case-1", NO_STREAM, [registered("c1", ALICE)])
    rows = lambda: sqlite3.connect(tmp_path / "svc.db").execute(  # noqa: E731
        "SELECT * FROM events ORDER BY position").fetchall()
    before = rows()
    store.erase_person(ALICE_ID)
    assert rows() == before


def test_an_answer_recorded_with_its_key_is_sealed_and_given_back_opened(store, tmp_path):
    from gm_kernel import DuplicateMessage, Processed

    answer = {"findings": [{"parties": [ALICE]}]}
    store.append(None, None, processed=[Processed("command:clerk:k1", answer)])
    assert "王小丫".encode() not in at_rest(tmp_path)
    assert store.processed_result("command:clerk:k1").result == answer
    with pytest.raises(DuplicateMessage) as dup:
        store.append(None, None, processed=[Processed("command:clerk:k1", answer)])
    assert dup.value.result == answer

