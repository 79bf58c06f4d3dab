"""The platform's part of erasure: a dead letter whose body was erased is not replayed;
the settings never show the master key."""
from __future__ import annotations

import base64
import json

import pytest

from gm_kernel import DeadLetter
from gm_kernel.privacy import ERASED, open_private_store
from gm_platform import config
from gm_platform.deadletters import replay

ALICE = {"role": "applicant", "name": "王小丫", "id_number": "11010519491231002X"}


@pytest.fixture
def store(tmp_path):
    s = open_private_store(f"sqlite:///{tmp_path}/svc.db", "svc",
                           master_key=base64.b64encode(bytes(range(32))).decode())
    yield s
    s.close()


def test_a_dead_letter_erased_is_not_replayed(store):
    store.park(DeadLetter(id="l1", source="gm.inbound", reason="bad", routing_key="court.referral",
                          body=json.dumps({"data": {"parties": [ALICE]}}).encode()))
    store.erase_person(ALICE["id_number"])
    # refused before any connection is made (the broker address does not even answer)
    answer = replay(store, "amqp://nobody@127.0.0.1:1//", "l1")
    assert answer["refused"] and answer["body"] == ERASED
    assert store.dead_letter("l1") is not None


def test_the_settings_never_show_the_master_key(monkeypatch):
    secret = base64.b64encode(b"s" * 32).decode()
    monkeypatch.setenv("GM_MASTER_KEY", secret)
    settings = config.load("intake")
    assert settings.master_key == secret and secret not in repr(settings)
