"""Deciding the 四定: the route (track, unit, bodies), task, leaders, handler and due date
for each source — pinned against the shipped directory, rules table and calendar."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_assignment.domain import (
    CaseFacts,
    Decision,
    DecisionError,
    RuleBook,
    Source,
    decide,
    due_after,
)
from gm_directory.vocabulary import CHANNELS, PETITION_CHANNELS

SHANGHAI = ZoneInfo("Asia/Shanghai")
VILLAGE = "410611100201"  # 淇滨区 大赉店镇 大赉店村 (listed)
TOWNSHIP = "410611100"  # 淇滨区 大赉店镇
COUNTY = "410611"  # 淇滨区
REGISTERED = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday, no holiday near


def end_of_day_utc(year: int, month: int, day: int) -> datetime:
    """23:59:59.999999 Beijing time on that day, in UTC."""
    return datetime(year, month, day, 15, 59, 59, 999999, tzinfo=timezone.utc)


def facts(source: Source, category: str = "neighbour", region: str = VILLAGE, **kw) -> CaseFacts:
    kw.setdefault("registered_at", REGISTERED)
    return CaseFacts(source=source, category=category, region=region, **kw)


def body_of(directory, handler_id: str) -> str:
    return directory.handler(handler_id)[0].body


# -- referrals: 三调联动, each kind to the body that mediates it ------------------------------------

@pytest.mark.parametrize("source, track, unit, bodies, route_id, rule_id, due", [
    # 诉调对接: the court-attached mediation office, 30 / 15 / 7 days
    (Source.referral("court", "delegated"), "judicial", COUNTY, {"court"},
     "court-mediation", "court-delegated", end_of_day_utc(2026, 4, 1)),
    (Source.referral("court", "entrusted", "ordinary"), "judicial", COUNTY, {"court"},
     "court-mediation", "court-entrusted-ordinary", end_of_day_utc(2026, 3, 17)),
    (Source.referral("court", "entrusted", "simplified"), "judicial", COUNTY, {"court"},
     "court-mediation", "court-entrusted-simplified", end_of_day_utc(2026, 3, 9)),
    # 公调对接: people's mediation at the township, never the police; 3 working days
    (Source.referral("police", "minor_dispute"), "people", TOWNSHIP,
     {"people_mediation", "justice_office"}, "police-referral", "police-minor-dispute",
     end_of_day_utc(2026, 3, 5)),
    # 检调对接: a people's mediation committee at county level; one month (local default)
    (Source.referral("procuratorate", "criminal_reconciliation"), "people", COUNTY,
     {"people_mediation"}, "procuratorate-referral", "procuratorate-criminal-reconciliation",
     end_of_day_utc(2026, 4, 2)),
    # 访调对接: people's mediation at the township, never the petition office; one month
    (Source.referral("petition", "petition"), "people", TOWNSHIP,
     {"people_mediation", "justice_office"}, "petition-referral", "petition-referral",
     end_of_day_utc(2026, 4, 2)),
], ids=str)
def test_each_referral_kind_goes_to_the_track_and_body_that_mediates_it(
        directory, rules, calendar, source, track, unit, bodies, route_id, rule_id, due):
    decision = decide(facts(source), directory, rules, calendar)
    assert (decision.track, decision.unit, decision.route_id) == (track, unit, route_id)
    assert body_of(directory, decision.handler) in bodies
    if source.agency != "court":  # the court's own mediation office is 诉调对接 itself
        assert body_of(directory, decision.handler) != source.agency
    assert (decision.deadline.rule_id, decision.due_at) == (rule_id, due)
    assert decision.task and decision.route_basis and decision.deadline.legal_basis
    assert decision.lead is None
    assert decision.responsible_leader == directory.unit(unit).leaders[0].id


def test_police_and_petition_referrals_never_reach_the_police_or_petition_office(
        directory, rules, calendar):
    for agency, kind in (("police", "minor_dispute"), ("petition", "petition")):
        for load in range(6):  # whoever is least loaded, it is a mediator
            busy = {h.id: 0 if h.body in ("police", "petition_office") else 10 + load
                    for h in directory.unit(TOWNSHIP).handlers}
            decision = decide(facts(Source.referral(agency, kind)), directory, rules, calendar,
                              busy)
            assert body_of(directory, decision.handler) in ("people_mediation",
                                                            "justice_office")


def test_court_referral_from_a_township_without_a_court_goes_to_the_county(
        directory, rules, calendar):
    decision = decide(facts(Source.referral("court", "delegated"), region="410622202"),
                      directory, rules, calendar)
    assert (decision.level, decision.unit) == ("county", "410622")


def test_the_development_zone_is_served_and_its_court_cases_go_to_the_city(
        directory, rules, calendar):
    decision = decide(facts(Source.referral("court", "delegated"), region="410671400"),
                      directory, rules, calendar)
    assert (decision.track, decision.unit) == ("judicial", "410600")
    people = decide(facts(Source.from_channel("visit"), region="410671"), directory, rules,
                    calendar)
    assert (people.track, people.unit) == ("people", "410671")


# -- channel cases: the dispute decides who mediates it -----------------------------------------

@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "leader_reception"])
def test_a_civil_dispute_starts_at_the_village_mediation_committee(directory, rules, calendar,
                                                                    channel):
    decision = decide(facts(Source.from_channel(channel), "marriage_family"), directory, rules,
                      calendar)
    assert (decision.track, decision.level, decision.unit) == ("people", "village", VILLAGE)
    assert (decision.route_id, decision.deadline.rule_id) == ("people-mediation",
                                                              "people-mediation")
    assert decision.deadline.period.to_data() == {"months": 1}  # 一个月, not 30 days
    assert decision.due_at == end_of_day_utc(2026, 4, 2)
    assert not decision.petition_matter


@pytest.mark.parametrize("category, route_id, rule_id, due, specialty_office", [
    ("medical", "medical-mediation", "medical-mediation", end_of_day_utc(2026, 4, 14),
     "淇滨区医疗纠纷人民调解委员会"),  # 30 working days, across 清明 (4-4..4-6)
    ("labour", "labour-mediation", "labour-mediation", end_of_day_utc(2026, 3, 17),
     "淇滨区劳动人事争议人民调解委员会"),
    ("traffic_accident", "traffic-mediation", "people-mediation", end_of_day_utc(2026, 4, 2),
     "淇滨区道路交通事故纠纷人民调解委员会"),
])
def test_specialist_disputes_go_to_the_nearest_specialist_committee(
        directory, rules, calendar, category, route_id, rule_id, due, specialty_office):
    decision = decide(facts(Source.from_channel("visit"), category), directory, rules, calendar)
    handler, unit = directory.handler(decision.handler)
    assert (decision.track, decision.unit, decision.route_id) == ("people", COUNTY, route_id)
    assert category in handler.specialties and handler.office == specialty_office
    assert (decision.deadline.rule_id, decision.due_at) == (rule_id, due)


def test_general_disputes_never_go_to_a_specialist_committee(directory, rules, calendar):
    decision = decide(facts(Source.from_channel("visit"), region=COUNTY), directory, rules,
                      calendar)
    assert not directory.handler(decision.handler)[0].specialties


@pytest.mark.parametrize("channel", [c for c in PETITION_CHANNELS if c != "leader_reception"])
def test_a_petition_in_an_administrative_organs_remit_is_a_petition_matter(
        directory, rules, calendar, channel):
    decision = decide(facts(Source.from_channel(channel), "land_forest"), directory, rules,
                      calendar)
    assert (decision.track, decision.level, decision.unit) == ("administrative", "township",
                                                               TOWNSHIP)
    assert body_of(directory, decision.handler) == "petition_office"
    assert decision.petition_matter
    # first the written notice of acceptance, within 15 days (信访工作条例 第二十三条)
    assert decision.deadline.rule_id == "petition-acceptance-notice"
    assert decision.due_at == end_of_day_utc(2026, 3, 17)
    assert decision.deadline.extension is None


def test_screening_an_administrative_dispute_is_not_a_petition(directory, rules, calendar):
    decision = decide(facts(Source.from_channel("screening"), "land_forest"), directory, rules,
                      calendar)
    assert (decision.track, decision.unit) == ("administrative", TOWNSHIP)
    assert not decision.petition_matter
    assert decision.deadline.rule_id == "administrative-screening"
    assert decision.deadline.local_default


@pytest.mark.parametrize("region, unit", [
    ("410611100299", "410611100"),  # unlisted village → its township
    ("410611200201", "410611200"),  # unlisted village under 上峪乡 → 上峪乡
    ("410611999", "410611"),  # unlisted township → its county
    ("410611", "410611"),  # the county itself
])
def test_unlisted_regions_fall_to_the_nearest_listed_unit(directory, rules, calendar, region,
                                                         unit):
    decision = decide(facts(Source.from_channel("visit"), region=region), directory, rules,
                      calendar)
    assert decision.unit == unit


def test_unserved_region_is_refused(directory, rules, calendar):
    with pytest.raises(DecisionError, match="not served"):
        decide(facts(Source.from_channel("visit"), region="410511001"), directory, rules,
               calendar)


def test_malformed_region_is_refused(directory, rules, calendar):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("visit"), region="41061"), directory, rules, calendar)


# -- 四定: task and leaders ---------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["collective", "repeat", "key_case"])
def test_key_cases_go_to_county_with_a_lead_leader(directory, rules, calendar, flag):
    decision = decide(facts(Source.from_channel("visit"), **{flag: True}), directory, rules,
                      calendar)
    assert decision.key_case
    assert (decision.level, decision.unit) == ("county", COUNTY)
    assert decision.lead == directory.unit(COUNTY).leaders[0].id == "L410611-01"
    assert decision.responsible_leader == "L410611-01"


def test_ordinary_cases_name_the_units_responsible_leader_and_no_lead(directory, rules,
                                                                       calendar):
    decision = decide(facts(Source.from_channel("visit")), directory, rules, calendar)
    assert decision.lead is None
    assert decision.responsible_leader == "L410611100201-01"
    assert decision.task.startswith("由人民调解委员会调解")


def test_leader_reception_names_the_receiving_leader_as_lead(directory, rules, calendar):
    decision = decide(facts(Source.from_channel("leader_reception"), leader="L410600-01"),
                      directory, rules, calendar)
    assert decision.key_case
    assert (decision.level, decision.unit) == ("county", COUNTY)
    assert decision.lead == "L410600-01"


def test_leader_reception_leader_may_be_named(directory, rules, calendar):
    leader = directory.unit("410622").leaders[1]
    decision = decide(facts(Source.from_channel("leader_reception"), leader=leader.name),
                      directory, rules, calendar)
    assert decision.lead == leader.id


@pytest.mark.parametrize("leader", [None, "L999999-01"])
def test_leader_reception_needs_a_known_leader(directory, rules, calendar, leader):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("leader_reception"), leader=leader), directory, rules,
               calendar)


# -- handler -----------------------------------------------------------------------------------

def test_handler_is_the_least_loaded_eligible_one(directory, rules, calendar):
    source = Source.referral("court", "delegated")
    # Two judicial handlers at 淇滨区, H410611-01 and H410611-02, and the court's invited
    # mediators M410611-01 (marriage_family, housing_homestead) and M410611-02 (contract,
    # business), none listed for neighbour disputes, all serving the whole district.
    assert decide(facts(source), directory, rules, calendar).handler == "H410611-01"  # tie
    busy = {"H410611-01": 5, "H410611-02": 2, "M410611-01": 3, "M410611-02": 2}
    assert decide(facts(source), directory, rules, calendar, busy).handler == "H410611-02"


# -- due date ----------------------------------------------------------------------------------

def test_requested_days_override_the_rule(directory, rules, calendar):
    decision = decide(facts(Source.referral("police", "minor_dispute"), requested_days=10),
                      directory, rules, calendar)
    assert decision.deadline.period.to_data() == {"days": 10}
    assert decision.due_at == end_of_day_utc(2026, 3, 12)
    assert decision.deadline.rule_id == "police-minor-dispute"


@pytest.mark.parametrize("days", [0, 366])
def test_requested_days_out_of_range_are_refused(directory, rules, calendar, days):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("visit"), requested_days=days), directory, rules,
               calendar)


def test_a_deadline_on_a_holiday_moves_to_the_next_working_day(directory, rules, calendar):
    # 30 days from 1 September 2026 end on National Day: the period ends on 8 October
    # (民事诉讼法 第八十五条; 民法典 第二百零三条).
    registered = datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI)
    decision = decide(facts(Source.referral("court", "delegated"), registered_at=registered),
                      directory, rules, calendar)
    assert decision.due_at == end_of_day_utc(2026, 10, 8)
    assert decision.deadline.rolled_from.isoformat() == "2026-10-01"


def test_working_days_skip_the_spring_festival_and_count_its_make_up_saturdays(
        directory, rules, calendar):
    registered = datetime(2026, 2, 12, 9, 0, tzinfo=SHANGHAI)  # Thursday before the holiday
    decision = decide(facts(Source.referral("police", "minor_dispute"),
                            registered_at=registered), directory, rules, calendar)
    # 13 Feb (Fri), 14 Feb (make-up Saturday), then 24 Feb after the 15–23 Feb holiday
    assert decision.due_at == end_of_day_utc(2026, 2, 24)


def test_a_deadline_counted_into_an_unpublished_year_says_so(directory, rules, calendar):
    registered = datetime(2026, 12, 20, 9, 0, tzinfo=SHANGHAI)
    decision = decide(facts(Source.from_channel("visit"), registered_at=registered), directory,
                      rules, calendar)
    assert decision.due_at == end_of_day_utc(2027, 1, 20)
    assert decision.deadline.provisional  # 2027's arrangement is not published yet


def test_registration_at_2330_beijing_time_counts_from_that_local_day(directory, rules,
                                                                       calendar):
    late = datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC, same date
    decision = decide(facts(Source.from_channel("visit"), registered_at=late), directory,
                      rules, calendar)
    assert decision.due_at == end_of_day_utc(2026, 4, 2)


def test_registration_after_midnight_beijing_time_is_the_next_local_day(directory, rules,
                                                                         calendar):
    early = datetime(2026, 3, 3, 0, 30, tzinfo=SHANGHAI)  # still 2 March in UTC
    assert early.astimezone(timezone.utc).day == 2
    decision = decide(facts(Source.from_channel("visit"), registered_at=early), directory,
                      rules, calendar)
    assert decision.due_at == end_of_day_utc(2026, 4, 3)


def test_the_configured_time_zone_is_used(directory, rules, calendar):
    utc_rules = RuleBook(rules.rules, rules.routes, time_zone_name="UTC")
    early = datetime(2026, 3, 3, 0, 30, tzinfo=SHANGHAI)  # 2 March in UTC
    decision = decide(facts(Source.from_channel("visit"), registered_at=early),
                      directory, utc_rules, calendar)
    assert decision.due_at == datetime(2026, 4, 2, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert decision.time_zone == "UTC"


def test_due_after_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        due_after(datetime(2026, 3, 1), 30, SHANGHAI)


def test_naive_registration_time_is_refused(directory, rules, calendar):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("visit"), registered_at=datetime(2026, 3, 1)),
               directory, rules, calendar)


def test_decision_round_trips_through_event_data(directory, rules, calendar):
    decision = decide(facts(Source.referral("court", "entrusted")), directory, rules, calendar)
    assert Decision.from_data(decision.to_data()) == decision


# -- sources -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: Source.referral("court", "minor_dispute"),
    lambda: Source.referral("police", "minor_dispute", "ordinary"),
    lambda: Source.referral("army", "petition"),
    lambda: Source.from_channel("fax"),
    lambda: Source(channel="visit", agency="court", kind="delegated").validated(),
])
def test_invalid_sources_are_refused(make):
    with pytest.raises(ValueError):
        make()
