"""Deciding the 四定: track, level and unit, lead, handler and due date for each source."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_assignment.domain import (
    ADMINISTRATIVE_CATEGORIES,
    PEOPLE_CATEGORIES,
    CaseFacts,
    Decision,
    DecisionError,
    RuleBook,
    Source,
    decide,
    due_after,
)
from gm_directory.vocabulary import CATEGORIES, CHANNELS, PETITION_CHANNELS

SHANGHAI = ZoneInfo("Asia/Shanghai")
VILLAGE = "410611100201"  # 淇滨区 大赉店镇 大赉店村 (listed)
TOWNSHIP = "410611100"  # 淇滨区 大赉店镇
COUNTY = "410611"  # 淇滨区
REGISTERED = datetime(2025, 3, 1, 10, 0, tzinfo=SHANGHAI)


def end_of_day_utc(year: int, month: int, day: int) -> datetime:
    """23:59:59.999999 Beijing time on that day, in UTC."""
    return datetime(year, month, day, 15, 59, 59, 999999, tzinfo=timezone.utc)


def facts(source: Source, category: str = "neighbour", region: str = VILLAGE, **kw) -> CaseFacts:
    kw.setdefault("registered_at", REGISTERED)
    return CaseFacts(source=source, category=category, region=region, **kw)


# -- referrals -------------------------------------------------------------------------------

@pytest.mark.parametrize("source, track, level, unit, rule_id, due", [
    (Source.referral("court", "delegated"), "judicial", "county", COUNTY,
     "court-delegated", end_of_day_utc(2025, 3, 31)),
    (Source.referral("court", "entrusted"), "judicial", "county", COUNTY,
     "court-entrusted-ordinary", end_of_day_utc(2025, 3, 16)),
    (Source.referral("court", "entrusted", "ordinary"), "judicial", "county", COUNTY,
     "court-entrusted-ordinary", end_of_day_utc(2025, 3, 16)),
    (Source.referral("court", "entrusted", "simplified"), "judicial", "county", COUNTY,
     "court-entrusted-simplified", end_of_day_utc(2025, 3, 8)),
    (Source.referral("procuratorate", "criminal_reconciliation"), "administrative", "county",
     COUNTY, "procuratorate-criminal-reconciliation", end_of_day_utc(2025, 3, 31)),
    (Source.referral("police", "minor_dispute"), "administrative", "township", TOWNSHIP,
     "police-minor-dispute", end_of_day_utc(2025, 3, 31)),
    (Source.referral("petition", "petition"), "administrative", "township", TOWNSHIP,
     "petition-handling", end_of_day_utc(2025, 4, 30)),
], ids=str)
def test_referral_track_level_and_due_date(directory, rules, source, track, level, unit,
                                           rule_id, due):
    decision = decide(facts(source), directory, rules)
    assert (decision.track, decision.level, decision.unit) == (track, level, unit)
    assert decision.rule_id == rule_id
    assert decision.due_at == due
    assert decision.lead is None
    assert decision.handler in {h.id for h in directory.eligible_handlers(unit, track)}
    assert decision.legal_basis


def test_court_referral_from_a_township_without_a_court_goes_to_the_county(directory, rules):
    decision = decide(facts(Source.referral("court", "delegated"), region="410622202"),
                      directory, rules)
    assert (decision.level, decision.unit) == ("county", "410622")


def test_petition_in_a_township_without_administrative_track_goes_to_the_county(directory, rules):
    # 黄洞乡 (淇县) has only a people's mediation committee.
    decision = decide(facts(Source.referral("petition", "petition"), region="410622202"),
                      directory, rules)
    assert (decision.track, decision.unit) == ("administrative", "410622")


# -- channels ----------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "leader_reception"])
def test_channel_people_dispute_starts_at_the_village(directory, rules, channel):
    decision = decide(facts(Source.from_channel(channel), "marriage_family"), directory, rules)
    assert (decision.track, decision.level, decision.unit) == ("people", "village", VILLAGE)
    assert decision.rule_id == "people-mediation"
    assert decision.due_at == end_of_day_utc(2025, 3, 31)
    assert decision.lead is None


@pytest.mark.parametrize("channel", [c for c in PETITION_CHANNELS if c != "leader_reception"])
def test_channel_administrative_petition_goes_to_township_with_petition_limit(
        directory, rules, channel):
    decision = decide(facts(Source.from_channel(channel), "labour"), directory, rules)
    assert (decision.track, decision.level, decision.unit) == ("administrative", "township",
                                                               TOWNSHIP)
    assert decision.rule_id == "petition-handling"
    assert decision.due_at == end_of_day_utc(2025, 4, 30)
    assert decision.extension.max_days == 30 and decision.extension.max_count == 1


def test_screening_administrative_dispute_is_not_a_petition(directory, rules):
    decision = decide(facts(Source.from_channel("screening"), "land_forest"), directory, rules)
    assert (decision.track, decision.unit) == ("administrative", TOWNSHIP)
    assert decision.rule_id == "people-mediation"
    assert decision.due_at == end_of_day_utc(2025, 3, 31)


def test_category_table_covers_every_category_once():
    assert set(PEOPLE_CATEGORIES) | set(ADMINISTRATIVE_CATEGORIES) == set(CATEGORIES)
    assert not set(PEOPLE_CATEGORIES) & set(ADMINISTRATIVE_CATEGORIES)


@pytest.mark.parametrize("region, unit", [
    ("410611100299", "410611100"),  # unlisted village → its township
    ("410611200201", "410611200"),  # unlisted village under 上峪乡 → 上峪乡
    ("410611999", "410611"),  # unlisted township → its county
    ("410611", "410611"),  # the county itself
])
def test_unlisted_regions_fall_to_the_nearest_listed_unit(directory, rules, region, unit):
    decision = decide(facts(Source.from_channel("visit"), region=region), directory, rules)
    assert decision.unit == unit


def test_unserved_region_is_refused(directory, rules):
    with pytest.raises(DecisionError, match="not served"):
        decide(facts(Source.from_channel("visit"), region="410511001"), directory, rules)


def test_malformed_region_is_refused(directory, rules):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("visit"), region="41061"), directory, rules)


# -- key cases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["collective", "repeat", "key_case"])
def test_key_cases_go_to_county_with_the_units_first_leader(directory, rules, flag):
    decision = decide(facts(Source.from_channel("visit"), **{flag: True}), directory, rules)
    assert decision.key_case
    assert (decision.level, decision.unit) == ("county", COUNTY)
    assert decision.lead == directory.unit(COUNTY).leaders[0].id == "L410611-01"


def test_key_court_referral_stays_at_county_with_a_lead(directory, rules):
    decision = decide(facts(Source.referral("court", "delegated"), collective=True),
                      directory, rules)
    assert (decision.level, decision.lead) == ("county", "L410611-01")


def test_leader_reception_names_the_receiving_leader_as_lead(directory, rules):
    decision = decide(facts(Source.from_channel("leader_reception"), leader="L410600-01"),
                      directory, rules)
    assert decision.key_case
    assert (decision.level, decision.unit) == ("county", COUNTY)
    assert decision.lead == "L410600-01"


def test_leader_reception_leader_may_be_named(directory, rules):
    leader = directory.unit("410622").leaders[1]
    decision = decide(facts(Source.from_channel("leader_reception"), leader=leader.name),
                      directory, rules)
    assert decision.lead == leader.id


@pytest.mark.parametrize("leader", [None, "L999999-01"])
def test_leader_reception_needs_a_known_leader(directory, rules, leader):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("leader_reception"), leader=leader), directory, rules)


# -- handler -----------------------------------------------------------------------------------

def test_handler_is_the_least_loaded_eligible_one(directory, rules):
    source = Source.referral("court", "delegated")
    # Two judicial handlers at 淇滨区: H410611-01 and H410611-02.
    assert decide(facts(source), directory, rules).handler == "H410611-01"  # tie → smaller id
    busy = {"H410611-01": 5, "H410611-02": 2, "H410611-03": 0}
    assert decide(facts(source), directory, rules, busy).handler == "H410611-02"


# -- due date ----------------------------------------------------------------------------------

def test_requested_days_override_the_rule(directory, rules):
    decision = decide(facts(Source.referral("police", "minor_dispute"), requested_days=10),
                      directory, rules)
    assert decision.days == 10
    assert decision.due_at == end_of_day_utc(2025, 3, 11)
    assert decision.rule_id == "police-minor-dispute"


@pytest.mark.parametrize("days", [0, 366])
def test_requested_days_out_of_range_are_refused(directory, rules, days):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("visit"), requested_days=days), directory, rules)


def test_registration_at_2330_beijing_time_counts_from_that_local_day(directory, rules):
    late = datetime(2025, 3, 1, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC, same date
    decision = decide(facts(Source.from_channel("visit"), registered_at=late), directory, rules)
    assert decision.due_at == end_of_day_utc(2025, 3, 31)
    assert decision.due_at.astimezone(SHANGHAI) == datetime(2025, 3, 31, 23, 59, 59, 999999,
                                                            tzinfo=SHANGHAI)


def test_registration_after_midnight_beijing_time_is_the_next_local_day(directory, rules):
    # 00:30 on 2 March in Beijing is still 1 March in UTC: the local day decides.
    early = datetime(2025, 3, 2, 0, 30, tzinfo=SHANGHAI)
    assert early.astimezone(timezone.utc).day == 1
    decision = decide(facts(Source.from_channel("visit"), registered_at=early), directory, rules)
    assert decision.due_at == end_of_day_utc(2025, 4, 1)


def test_the_configured_time_zone_is_used(directory, rules):
    utc_rules = RuleBook(rules.rules, time_zone="UTC")
    early = datetime(2025, 3, 2, 0, 30, tzinfo=SHANGHAI)  # 1 March in UTC
    decision = decide(facts(Source.from_channel("visit"), registered_at=early),
                      directory, utc_rules)
    assert decision.due_at == datetime(2025, 3, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert decision.time_zone == "UTC"


def test_due_after_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        due_after(datetime(2025, 3, 1), 30, SHANGHAI)


def test_naive_registration_time_is_refused(directory, rules):
    with pytest.raises(DecisionError):
        decide(facts(Source.from_channel("visit"), registered_at=datetime(2025, 3, 1)),
               directory, rules)


def test_decision_round_trips_through_event_data(directory, rules):
    decision = decide(facts(Source.referral("court", "entrusted")), directory, rules)
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
