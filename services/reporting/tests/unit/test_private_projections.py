"""Reporting's case files with the parties sealed at rest (store/private.py): what the
queries answer is the same as on a bare store; the file holds no name, id number or
phone; erasing a person makes their case files read `[erased]`, nobody else's, and
changes no count, figure or ledger line."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from gm_directory import load_directory
from gm_kernel.privacy import ERASED, MasterKey, Vault
from gm_kernel.privacy.keystore_sqlite import SQLiteKeyStore
from gm_platform.auth import Principal
from gm_reporting.domain.casefile import mask_id_number, mask_phone
from gm_reporting.handlers import Reporting
from gm_reporting.store.layout import CASES, PROJECTIONS
from gm_reporting.store.private import PrivateProjectionStore
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.scenario import generate

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 3, 20, 3, 0, tzinfo=timezone.utc)
ADMIN = Principal("admin-1", ("admin",))
MONTHS = ("2026-01", "2026-02", "2026-03")


def apply_all(store, logs):
    for spec in PROJECTIONS.values():
        store.ensure(spec)
        for source in spec.sources:
            events = logs.sources[source]
            for i in range(0, len(events), 300):
                store.apply(spec, source, events[i:i + 300])


def figures(reporting):
    return ([reporting.monthly(ADMIN, m, None) for m in MONTHS],
            reporting.ledger(ADMIN, {"page_size": 500}),
            [b"".join(reporting.ledger_csv(ADMIN, m, None)) for m in MONTHS])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    logs = generate(60, seed=5, start=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    end=datetime(2026, 3, 18, tzinfo=timezone.utc), now=NOW)
    directory = load_directory(REPO / "deploy/directory.yaml")
    bare_dir, sealed_dir = tmp_path_factory.mktemp("bare"), tmp_path_factory.mktemp("sealed")
    bare = SQLiteProjectionStore(bare_dir / "p.db")
    vault = Vault(MasterKey(b"k" * 32), SQLiteKeyStore(sealed_dir / "reporting.keys.db"))
    sealed = PrivateProjectionStore(SQLiteProjectionStore(sealed_dir / "p.db"), vault)
    apply_all(bare, logs)
    apply_all(sealed, logs)
    yield (logs, sealed_dir, vault,
           Reporting(bare, directory, "Asia/Shanghai", lambda: NOW),
           Reporting(sealed, directory, "Asia/Shanghai", lambda: NOW))
    bare.close()
    sealed.close()
    vault.keys.close()


def registrations(logs):
    return [e for e in logs.sources["intake"] if e.type == "CaseRegistered"]


def test_sealed_case_files_answer_as_bare_ones_and_hold_no_personal_data(world):
    logs, sealed_dir, _, bare, sealed = world
    assert figures(sealed) == figures(bare)
    first = registrations(logs)[0].data
    assert sealed.case(first["case_id"], ADMIN)["parties"] == \
        bare.case(first["case_id"], ADMIN)["parties"]
    assert sealed.case(first["case_id"], ADMIN)["parties"][0]["name"] == \
        first["parties"][0]["name"]
    raw = b"".join(p.read_bytes() for p in sealed_dir.iterdir())
    for event in registrations(logs)[:20]:
        for party in event.data["parties"]:
            assert party["name"].encode() not in raw
            if party.get("phone"):  # what reporting keeps of it: masked
                assert mask_phone(party["phone"]).encode() not in raw
            if party.get("id_number"):
                assert mask_id_number(party["id_number"]).encode() not in raw


def test_erasing_a_person_erases_their_case_files_only_and_changes_no_figure(world):
    logs, _, vault, bare, sealed = world
    before = figures(sealed)
    regs = registrations(logs)
    erased, other = regs[3].data, regs[4].data
    report = vault.erase(erased["parties"][0]["id_number"])
    assert report["destroyed"].get("person") == 1
    view = sealed.case(erased["case_id"], ADMIN)
    # the applicant (own key) and the respondent without an id number (the case's key,
    # erased with its applicant)
    assert [p["name"] for p in view["parties"]] == [ERASED, ERASED]
    assert view["parties"][0]["id_number"] is None and view["parties"][0]["phone"] is None
    assert view["case_number"] == erased["case_number"] and view["timeline"]
    assert sealed.case(other["case_id"], ADMIN)["parties"] == \
        bare.case(other["case_id"], ADMIN)["parties"]
    assert figures(sealed) == before


def test_a_case_file_written_after_the_erasure_stays_erased(world, tmp_path):
    logs, _, _, _, _ = world
    vault = Vault(MasterKey(b"j" * 32), SQLiteKeyStore(tmp_path / "k.db"))
    store = PrivateProjectionStore(SQLiteProjectionStore(tmp_path / "p.db"), vault)
    try:
        store.ensure(CASES)
        reg = registrations(logs)[0]
        store.apply(CASES, "intake", [reg])
        vault.erase(reg.data["parties"][0]["id_number"])
        # a mediation event touching the same case file (its parties are written back sealed)
        opened = next(e for e in logs.sources["mediation"]
                      if e.data.get("case_id") == reg.data["case_id"])
        store.apply(CASES, "mediation", [opened])
        with store.reader(CASES) as r:
            state = r.get("cases", reg.data["case_id"])
        assert all(p["name"] == ERASED for p in state["intake"]["parties"])
    finally:
        store.close()
        vault.keys.close()


def sealed_key_ids(store, spec, generation):
    """Per document, the key ids its parties are sealed under (as stored)."""
    from gm_kernel.privacy import personal

    with store.inner.reader(spec, generation) as r:
        return {(t.name, row["key"]): sorted(personal.sealed_key_ids(row["state"]))
                for t in spec.tables for row in r.find(t.name, with_state=True)}


def test_a_rebuild_seals_as_the_live_feed_did(world, tmp_path):
    """A rebuild holds the case files opened between pages (store.bulk): it seals each
    party under the same person's or case's key as live delivery did, and the files read
    the same. (After an erasure the source services' logs read `[erased]`, which these
    plain test logs cannot show: test_a_case_file_written_after_the_erasure_stays_erased.)"""
    from gm_reporting.rebuild import Rebuilder
    from gm_reporting.testing.scenario import ListLog

    logs = world[0]
    vault = Vault(MasterKey(b"r" * 32), SQLiteKeyStore(tmp_path / "k.db"))
    store = PrivateProjectionStore(SQLiteProjectionStore(tmp_path / "p.db"), vault)
    try:
        apply_all(store, logs)
        live = {spec.name: store.active(spec.name).number for spec in PROJECTIONS.values()}
        before = {name: store.dump(PROJECTIONS[name]) for name in live}
        Rebuilder(store, list(PROJECTIONS.values()),
                  {s: ListLog(events) for s, events in logs.sources.items()},
                  page_size=50).run()
        for name, generation in live.items():
            spec = PROJECTIONS[name]
            assert store.active(name).number != generation
            assert store.dump(spec) == before[name]
            assert sealed_key_ids(store, spec, None) == sealed_key_ids(store, spec, generation)
    finally:
        store.close()
        vault.keys.close()


def test_an_erasure_during_a_rebuild_holds_in_the_documents_it_holds(world, tmp_path):
    """The bulk application remembers a held case file opened; a person erased meanwhile
    is still written back sealed under the destroyed key, never opened again."""
    logs = world[0]
    vault = Vault(MasterKey(b"h" * 32), SQLiteKeyStore(tmp_path / "k.db"))
    store = PrivateProjectionStore(SQLiteProjectionStore(tmp_path / "p.db"), vault)
    try:
        store.ensure(CASES)
        new = store.create_generation(CASES).number
        reg = registrations(logs)[0]
        with store.bulk(CASES, new) as bulk:
            bulk.apply("intake", [e for e in logs.sources["intake"]
                                  if e.position <= reg.position])
            vault.erase(reg.data["parties"][0]["id_number"])
            bulk.apply("mediation", logs.sources["mediation"])
        with store.reader(CASES, new) as r:
            state = r.get("cases", reg.data["case_id"])
        assert state["mediation"] and all(p["name"] == ERASED
                                          for p in state["intake"]["parties"])
    finally:
        store.close()
        vault.keys.close()


# -- still a projection store: the whole contract over the sealing layer -----------------------
from gm_reporting.testing.store_contract import ProjectionStoreContract  # noqa: E402


class TestPrivateSQLiteProjections(ProjectionStoreContract):
    @pytest.fixture(autouse=True)
    def _key_stores(self):
        self.key_stores = []
        yield
        for keys in self.key_stores:
            keys.close()

    def make_store(self):
        keys = SQLiteKeyStore(self.tmp_path / "reporting.keys.db")
        self.key_stores.append(keys)
        return PrivateProjectionStore(SQLiteProjectionStore(self.tmp_path / "p.db"),
                                      Vault(MasterKey(b"c" * 32), keys))


class TestPrivateMongoProjections(ProjectionStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self):
        import mongomock

        self.client = mongomock.MongoClient()  # one in-memory server per test

    def make_store(self):
        from gm_kernel.privacy.keystore_mongo import MongoKeyStore
        from gm_reporting.store.mongo import MongoProjectionStore

        db = self.client.get_database("gm_reporting")
        return PrivateProjectionStore(MongoProjectionStore(db, switch_grace=0),
                                      Vault(MasterKey(b"c" * 32), MongoKeyStore(db)))
