"""Intake on the store services run on (personal data sealed, gm_kernel.privacy): repeat
detection (重复访) matches applicants on their pseudonyms, never on a stored id number,
and keeps matching a returning applicant after they were erased."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from gm_contracts.testing import VALID_RESIDENT_ID
from gm_intake.bootstrap import bootstrap
from gm_intake.commands import RegisterCase
from gm_intake.domain.case import Party, Registration
from gm_kernel.privacy import ERASED, open_private_store
from gm_platform.messagebus import Caller
from gm_platform.testing.services import unit_platform

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
CLERK = Caller("clerk-1")
OTHER_ID = "110101199003074477"


@pytest.fixture
def intake(tmp_path):
    store = open_private_store(f"sqlite:///{tmp_path}/intake.db", "intake",
                               master_key=base64.b64encode(b"m" * 32).decode())
    yield bootstrap(unit_platform("intake", store, lambda: NOW, tmp_path))
    store.close()


def visit(id_number: str, name: str = "张三") -> RegisterCase:
    return RegisterCase(Registration(
        channel="visit", category="neighbour", summary="排水沟纠纷", region="410611100201",
        parties=[Party("applicant", name, id_number=id_number, phone="13912345678"),
                 Party("respondent", "李四")]), CLERK)


def registrations(intake) -> list:
    return [e.data for e in intake.bus.store.read_log() if e.type == "CaseRegistered"]


def test_a_repeat_is_found_by_pseudonym_and_still_after_an_erasure(intake, tmp_path):
    store = intake.bus.store
    first = intake.bus.handle(visit(VALID_RESIDENT_ID))
    other = intake.bus.handle(visit(OTHER_ID, "王五"))
    second = intake.bus.handle(visit(VALID_RESIDENT_ID.lower()))  # as typed: the same person
    first_data, other_data, second_data = registrations(intake)
    assert (first_data["repeat"], other_data["repeat"], second_data["repeat"]) == \
        (False, False, True)
    assert second_data["repeat_of"][0]["case_id"] == first["case_id"]
    pseudonym = store.pseudonym(VALID_RESIDENT_ID)
    assert first_data["applicant_pseudonyms"] == [pseudonym] != other_data["applicant_pseudonyms"]
    assert VALID_RESIDENT_ID not in json.dumps(first_data["applicant_pseudonyms"])
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert VALID_RESIDENT_ID.encode() not in raw and "张三".encode() not in raw

    report = store.erase_person(VALID_RESIDENT_ID)
    assert report["destroyed"] == {"person": 1, "case": 2}  # her key, her cases' respondents
    erased = registrations(intake)
    assert [p["name"] for p in erased[0]["parties"]] == [ERASED, ERASED]
    assert erased[1]["parties"][0]["name"] == "王五"  # nobody else
    assert erased[0]["applicant_pseudonyms"] == [pseudonym]
    third = intake.bus.handle(visit(VALID_RESIDENT_ID))
    [third_data] = [d for d in registrations(intake) if d["case_id"] == third["case_id"]]
    assert third_data["repeat"] and {c["case_id"] for c in third_data["repeat_of"]} == {
        first["case_id"], second["case_id"]}
    assert other["case_id"] not in {c["case_id"] for c in third_data["repeat_of"]}
    # a fresh process (its index built from the log alone) finds the same
    fresh = bootstrap(unit_platform("intake", store, lambda: NOW, tmp_path))
    fourth = fresh.bus.handle(visit(VALID_RESIDENT_ID))
    [fourth_data] = [d for d in registrations(intake) if d["case_id"] == fourth["case_id"]]
    assert len(fourth_data["repeat_of"]) == 3
