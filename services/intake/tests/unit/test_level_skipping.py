"""越级访: a petition registered at a higher level while the same matter (the repeat
index's earlier cases) is registered at a lower one within it is flagged and linked."""
from __future__ import annotations

from datetime import datetime, timezone

from gm_contracts import event_schema
from gm_contracts.intake_events import SERVICE
from gm_contracts.testing import VALID_RESIDENT_ID

from gm_intake.domain.case import Case, EarlierCase, Party, Registration, decide_flags

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
VILLAGE, TOWNSHIP, COUNTY, OTHER_COUNTY, CITY = (
    "410611100201", "410611100", "410611", "410602", "410600")


def petition(region: str) -> Registration:
    return Registration(channel="visit", category="land_acquisition", summary="征地补偿",
                        region=region, parties=[Party("applicant", "张三", VALID_RESIDENT_ID)])


def earlier(case_id: str, region) -> EarlierCase:
    return EarlierCase(case_id, f"410611-2026-0000{case_id[-1]}", "2026-11-02T02:00:00+00:00",
                       region)


def test_a_petition_above_the_level_that_has_the_matter_is_level_skipping_and_linked():
    found = [earlier("c-1", VILLAGE), earlier("c-2", TOWNSHIP), earlier("c-3", COUNTY)]
    assert decide_flags(petition(COUNTY), found).level_skipping_of == ["c-1", "c-2"]
    assert decide_flags(petition(CITY), found).level_skipping_of == ["c-1", "c-2", "c-3"]
    flags = decide_flags(petition(TOWNSHIP), found)
    assert flags.level_skipping and flags.level_skipping_of == ["c-1"] and flags.repeat


def test_the_same_level_another_county_or_an_early_event_without_region_is_not():
    assert not decide_flags(petition(COUNTY), [earlier("c-3", COUNTY)]).level_skipping
    assert not decide_flags(petition(OTHER_COUNTY), [earlier("c-1", VILLAGE)]).level_skipping
    assert not decide_flags(petition(CITY), [earlier("c-4", None)]).level_skipping
    assert not decide_flags(petition(VILLAGE), [earlier("c-2", TOWNSHIP)]).level_skipping
    assert decide_flags(petition(COUNTY), []).level_skipping_of == []


def test_the_registration_records_the_flag_and_the_links_in_its_schema():
    found = [earlier("c-1", VILLAGE)]
    reg = petition(COUNTY)
    case = Case("c-9")
    case.register(reg, "410611-2026-000009", decide_flags(reg, found), found, NOW)
    [event] = case.pending
    assert event.data["level_skipping"] is True
    assert event.data["level_skipping_of"] == ["c-1"]
    assert event.data["repeat_of"][0]["region"] == VILLAGE
    assert event_schema(SERVICE, "CaseRegistered")().validate(dict(event.data)) == {}
