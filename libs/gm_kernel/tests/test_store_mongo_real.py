"""MongoDB adapter against a real mongod started by pytest-docker.

Skipped, with the reason, where there is no Docker engine or no Docker Compose (our
development machines): the same contract then runs on mongomock in test_store_mongo.py.
Here the server's own unique indexes and real concurrency are exercised too.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gm_kernel import NO_STREAM, DuplicateMessage, NewEvent, Processed
from gm_kernel.store.factory import open_store
from gm_kernel.store.mongo import MongoEventStore
from gm_kernel.testing import StoreContract, run_in_threads
from gm_kernel.testing.tampering import MongoTampering
from gm_kernel.testing.docker import compose_command, why_no_docker

COMPOSE_FILE = Path(__file__).with_name("docker-compose.mongo.yml")


NO_DOCKER = why_no_docker(timeout=30)
try:
    from pytest_docker.plugin import containers_scope
except ImportError:  # pragma: no cover - pinned in requirements.txt
    containers_scope = "session"
    NO_DOCKER = NO_DOCKER or "pytest-docker is not installed"

pytestmark = [
    pytest.mark.skipif(NO_DOCKER is not None,
                       reason=f"real MongoDB tests need Docker: {NO_DOCKER}"),
    pytest.mark.timeout(300),
]


# pytest-docker's fixtures, pointed at our compose file and compose command.
@pytest.fixture(scope=containers_scope)
def docker_compose_file():
    return str(COMPOSE_FILE)


@pytest.fixture(scope=containers_scope)
def docker_compose_command():
    return compose_command()


@pytest.fixture(scope=containers_scope)
def mongo_uri(docker_ip, docker_services):
    import pymongo

    uri = f"mongodb://{docker_ip}:{docker_services.port_for('mongo', 27017)}"

    def answers() -> bool:
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()

    docker_services.wait_until_responsive(check=answers, timeout=90, pause=0.5)
    return uri


@pytest.fixture
def mongo_client(mongo_uri):
    import pymongo

    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000)
    names = []
    yield client, names
    for name in names:  # every test gets fresh databases; drop them afterwards
        client.drop_database(name)
    client.close()


class TestMongoRealStore(MongoTampering, StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, mongo_client):
        self.client, self.databases = mongo_client
        self.prefix = f"t{uuid.uuid4().hex[:10]}"

    def make_store(self, service="svc", upcasters=None):
        name = f"{self.prefix}_{service}"
        if name not in self.databases:
            self.databases.append(name)
        return MongoEventStore(self.client.get_database(name), service, upcasters)

    def test_writers_in_threads_with_their_own_stores(self):
        stores = [self.open() for _ in range(4)]

        def writer(w: int) -> None:
            for n in range(40):
                stores[w].append(f"w{w}", n * 2, [NewEvent("T", {"w": w, "n": n, "i": i})
                                                  for i in range(2)])

        assert run_in_threads(writer, 4, timeout=120) == []
        log = self.all_events(stores[0])
        assert [e.position for e in log] == list(range(1, 321))
        for w in range(4):
            assert [e.version for e in stores[0].read_stream(f"w{w}")] == list(range(1, 81))
        report = stores[0].verify_chain()  # the writers' retries kept one chain
        assert report.ok and (report.commits, report.events) == (160, 320)

    def test_server_enforces_unique_keys_inside_arrays(self, monkeypatch):
        """What mongomock cannot show: the index alone refuses a key in another commit."""
        store = self.open()
        store.append(None, None, processed=[Processed("a"), Processed("b", {"r": "b"})])
        real = MongoEventStore._refuse_duplicates
        calls = []

        def skip_first_check(self, commit):
            calls.append(commit)
            if len(calls) > 1:
                real(self, commit)

        monkeypatch.setattr(MongoEventStore, "_refuse_duplicates", skip_first_check)
        with pytest.raises(DuplicateMessage) as info:
            store.append("s", NO_STREAM, [NewEvent("T", {})],
                         processed=[Processed("c"), Processed("b")])
        assert (info.value.key, info.value.result) == ("b", {"r": "b"})
        assert store.last_position() == 0

    def test_open_store_from_uri(self, mongo_uri):
        name = f"{self.prefix}_uri"
        self.databases.append(name)
        store = open_store(f"{mongo_uri}/{name}", "svc")
        try:
            assert isinstance(store, MongoEventStore) and store._db.name == name
            store.append("s", NO_STREAM, [NewEvent("T", {})])
            store.ping()
        finally:
            store.close()
