"""Intake's use cases without a broker: the application its bootstrap builds, on a SQLite
store, driven as the entrypoints drive it (agency messages through
gm_platform.answers.handle_inbound, commands through the bus)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gm_contracts.testing import VALID_RESIDENT_ID, encode, inbound_data, inbound_envelope
from gm_intake.bootstrap import bootstrap
from gm_intake.commands import FileScreeningReport, RecordRiskAssessment, RegisterCase
from gm_intake.domain.case import Party, Registration
from gm_kernel import DomainError, Refused
from gm_kernel.store.factory import open_store
from gm_platform.answers import handle_inbound
from gm_platform.consumer import Delivery
from gm_platform.messagebus import Caller, IdempotencyKeyReused
from gm_platform.testing.services import unit_platform

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Hebi
CLERK = Caller("clerk-1")


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def intake(tmp_path, clock):
    store = open_store(f"sqlite:///{tmp_path}/i.db", "intake")
    yield bootstrap(unit_platform("intake", store, clock, tmp_path))
    store.close()


def registered(intake) -> list:
    return [e for e in intake.bus.store.read_log() if e.type == "CaseRegistered"]


def answers_sent(intake) -> list:
    return [(m.routing_key, m.body["data"]) for m in intake.bus.store.pending_outbox(100)
            if m.exchange == "gm.outbound"]


def referral(agency="court", message_id=None, redelivered=False, **changes) -> Delivery:
    envelope = inbound_envelope(agency, "referral", data=inbound_data(agency, **changes),
                                **({"id": message_id} if message_id else {}))
    return Delivery(body=encode(envelope), routing_key=f"{agency}.referral",
                    exchange="gm.inbound", redelivered=redelivered,
                    properties={"message_id": message_id or envelope["id"],
                                "content_type": "application/json"})


def visit(**changes) -> Registration:
    fields = dict(channel="visit", category="neighbour", summary="排水沟纠纷",
                  region="410611100201",
                  parties=[Party("applicant", "张三", id_number=VALID_RESIDENT_ID)])
    fields.update(changes)
    return Registration(**fields)


def test_cases_are_numbered_per_county_and_local_year(intake, clock):
    first = intake.bus.handle(RegisterCase(visit(), CLERK))
    second = intake.bus.handle(RegisterCase(visit(region="410611"), CLERK))
    other_county = intake.bus.handle(RegisterCase(visit(region="410602"), CLERK))
    clock.now = datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)  # 1 Jan 2027 in Hebi
    next_year = intake.bus.handle(RegisterCase(visit(), CLERK))
    assert [first["case_number"], second["case_number"], other_county["case_number"],
            next_year["case_number"]] == [
        "410611-2026-000001", "410611-2026-000002", "410602-2026-000001",
        "410611-2027-000001"]


def test_the_same_applicant_and_matter_within_a_year_is_a_repeat(intake, clock):
    first = intake.bus.handle(RegisterCase(visit(), CLERK))
    clock.now += timedelta(days=200)
    intake.bus.handle(RegisterCase(visit(category="labour"), CLERK))  # another matter
    intake.bus.handle(RegisterCase(visit(), CLERK))
    later = registered(intake)
    assert [e.data["repeat"] for e in later] == [False, False, True]
    assert [c["case_id"] for c in later[2].data["repeat_of"]] == [first["case_id"]]
    assert "repeat" in later[2].data["key_reasons"]


def test_a_referral_is_registered_once_whichever_message_carries_it(intake):
    m1, m2 = str(uuid.uuid4()), str(uuid.uuid4())
    assert handle_inbound(intake, referral(message_id=m1, referral_id="R-7")) == "registered"
    # the agency sends the same referral again under a new message id: the same answer
    assert handle_inbound(intake, referral(message_id=m2, referral_id="R-7")) == \
        "duplicate answered again"
    # the broker redelivers the first message: its answer is already on its way
    assert handle_inbound(intake, referral(message_id=m1, referral_id="R-7",
                                           redelivered=True)) == "duplicate"
    assert len(registered(intake)) == 1
    sent = answers_sent(intake)
    assert [key for key, _ in sent] == ["court.referral_accepted"] * 2
    assert sent[0][1] == sent[1][1]  # the case id and number, twice


def test_a_referral_from_a_region_not_served_is_rejected_with_the_field(intake):
    assert handle_inbound(intake, referral(region="510104")) == "rejected"
    [(key, data)] = answers_sent(intake)
    assert key == "court.rejected" and list(data["errors"]) == ["region"]
    assert registered(intake) == [] and intake.bus.store.count_dead_letters() == 1


def test_a_referral_naming_a_roster_mediator_carries_the_name(intake):
    # 淇滨区人民法院's invited mediator, for a case in 淇滨区
    assert handle_inbound(intake, referral(region="410611", mediator="M410611-01")) == \
        "registered"
    [case] = registered(intake)
    assert case.data["mediator"] == "M410611-01"
    assert handle_inbound(intake, referral(referral_id="R-2", region="410611")) == "registered"
    assert "mediator" not in registered(intake)[1].data  # none named: as before


@pytest.mark.parametrize("mediator, region, error", [
    ("M999999-01", "410611", "'M999999-01' is not on the mediator roster"),
    ("H410611-05", "410611", "'H410611-05' is not on the mediator roster"),  # staff, not roster
    ("M410621-01", "410611", "M410621-01 serves 410621, not region 410611"),
    # stationed for 大赉店镇 and 钜桥镇 only, not the rest of the district
    ("M410611-04", "410611200", "M410611-04 serves 410611100, 410611101, not region 410611200"),
])
def test_a_referral_naming_a_mediator_off_the_roster_or_region_is_rejected_with_the_field(
        intake, mediator, region, error):
    assert handle_inbound(intake, referral(region=region, mediator=mediator)) == "rejected"
    [(key, data)] = answers_sent(intake)
    assert key == "court.rejected" and data["errors"] == {"mediator": [error]}
    assert registered(intake) == []


def test_an_idempotency_key_gives_a_retrying_clerk_the_same_case(intake):
    keyed = Caller("clerk-1", "visit-42")
    first = intake.bus.handle(RegisterCase(visit(), keyed))
    assert intake.bus.handle(RegisterCase(visit(), keyed)) == first
    with pytest.raises(IdempotencyKeyReused):
        intake.bus.handle(RegisterCase(visit(summary="另一件事"), keyed))
    assert len(registered(intake)) == 1


def test_a_screening_report_filed_again_registers_nothing_new(intake):
    report = FileScreeningReport("410611100", "2026-11", [
        {"category": "neighbour", "summary": "宅基地界址", "headcount": 2, "region": None,
         "parties": [{"role": "applicant", "name": "王五"}]},
        {"category": "labour", "summary": "欠薪", "headcount": 6, "region": "410611100201",
         "parties": []}], CLERK)
    first = intake.file_screening(report)
    again = intake.file_screening(report)
    assert first["filed"] and not again["filed"]
    assert first["cases"] == again["cases"] and len(registered(intake)) == 2
    assert [e.data["collective"] for e in registered(intake)] == [False, True]
    with pytest.raises(DomainError, match="different report"):
        intake.file_screening(FileScreeningReport("410611100", "2026-11", [], CLERK))


def test_a_finding_outside_the_reporting_unit_is_refused_field_by_field(intake):
    with pytest.raises(Refused) as refused:
        intake.file_screening(FileScreeningReport("410611100", "2026-11", [
            {"category": "other", "summary": "x", "headcount": 1, "region": "410602",
             "parties": []}], CLERK))
    assert refused.value.errors == {"findings.0.region": ["must lie within the reporting unit"]}
    with pytest.raises(Refused) as refused:
        intake.file_screening(FileScreeningReport("999999", "2026-11", [], CLERK))
    assert list(refused.value.errors) == ["unit"]


def test_a_high_risk_opens_one_preventive_key_case(intake):
    low = intake.record_risk(RecordRiskAssessment("道路拓宽", "410611", "low", "影响小",
                                                  "land_acquisition", CLERK))
    high = intake.record_risk(RecordRiskAssessment("征地拆迁", "410611", "high", "涉及200户",
                                                   "land_acquisition", CLERK))
    assert low["case"] is None and high["case"]["case_number"].startswith("410611-2026-")
    [case] = registered(intake)
    assert case.data["channel"] == "risk_assessment" and case.data["key_case"]
    assert case.data["key_reasons"] == ["high_risk"]
    assert case.data["risk_assessment_id"] == high["assessment_id"]


def test_a_preventive_case_is_opened_once_even_if_the_process_stopped_between(intake):
    """The assessment and its preventive case are two commits; intake's own feed (its
    process manager) makes the case when the process stopped after the first."""
    high = RecordRiskAssessment("征地拆迁", "410611", "high", "涉及200户", "land_acquisition",
                                CLERK)
    assessment_id = intake.bus.handle(high)  # ... and the process dies here
    assert registered(intake) == []
    assert intake.feeds["intake"].catch_up() >= 1  # after the restart, its catch-up
    [case] = registered(intake)
    assert case.data["risk_assessment_id"] == assessment_id
    assert case.data["category"] == "land_acquisition" and case.data["key_case"]
    # the usual way (the request registers it at once): the feed then finds it made
    done = intake.record_risk(high)
    intake.feeds["intake"].catch_up()
    assert len(registered(intake)) == 2  # one per assessment, not one per path
    assert {e.data["risk_assessment_id"] for e in registered(intake)} == {
        assessment_id, done["assessment_id"]}
    assert intake.feeds["intake"].catch_up() == 0
