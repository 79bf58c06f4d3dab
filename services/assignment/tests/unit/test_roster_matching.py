"""Who mediates a case, with the mediator roster (调解员名册): the parties' choice, else a
match on the case's category and region before the load — pinned against the shipped
directory (deploy/directory.yaml `mediators:`), rules and calendar."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gm_contracts import event_schema
from gm_contracts.assignment_events import SERVICE
from gm_assignment.domain import Assignment, CaseFacts, Decision, Source, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
COUNTY = "410611"  # 淇滨区
TOWNSHIP = "410611100"  # 淇滨区 大赉店镇
COURT = Source.referral("court", "delegated")
POLICE = Source.referral("police", "minor_dispute")


def facts(source: Source, category: str, region: str = COUNTY, **kw) -> CaseFacts:
    kw.setdefault("registered_at", REGISTERED)
    return CaseFacts(source=source, category=category, region=region, **kw)


def selection(decision: Decision) -> dict:
    return decision.selection.to_data()


# -- specialty and region before load -----------------------------------------------------------

@pytest.mark.parametrize("category, mediator", [
    ("contract", "M410611-02"),        # 特邀调解员（律师）: contract, business
    ("marriage_family", "M410611-01"),  # 特邀调解员（退休法官）: marriage_family, housing_homestead
])
def test_a_court_referral_goes_to_the_invited_mediator_listed_for_its_category(
        directory, rules, calendar, category, mediator):
    # The court-attached office's own handlers hold no case, the mediator holds three:
    # the specialty comes before the load.
    loads = {mediator: 3}
    decision = decide(facts(COURT, category), directory, rules, calendar, loads)
    assert (decision.unit, decision.handler) == (COUNTY, mediator)
    assert selection(decision) == {
        "basis": "specialty_region", "specialty_match": True, "region": COUNTY,
        "open_cases": 3, "candidates": 4, "named": None, "named_refused": None}


def test_a_region_narrower_than_the_unit_comes_before_the_load(directory, rules, calendar):
    # A collective neighbour dispute from 大赉店镇 is a key case: the district centre takes
    # it. Of its people's mediators, 白守义 is stationed for 大赉店镇 and 钜桥镇.
    decision = decide(facts(Source.from_channel("visit"), "neighbour", TOWNSHIP,
                            collective=True), directory, rules, calendar,
                      {"M410611-04": 5})
    assert (decision.unit, decision.handler) == (COUNTY, "M410611-04")
    assert selection(decision)["basis"] == "specialty_region"
    assert selection(decision)["specialty_match"] is False
    assert selection(decision)["region"] == TOWNSHIP
    # From another township of the district, he does not serve: the load decides among
    # the rest (the district's general people's mediator and the medical committee's
    # rostered mediator, who takes other cases too; the traffic one is marked unavailable).
    elsewhere = decide(facts(Source.from_channel("visit"), "neighbour", "410611200",
                             collective=True), directory, rules, calendar,
                       {"H410611-05": 1})
    assert elsewhere.handler == "M410611-03"
    assert selection(elsewhere) == {
        "basis": "load", "specialty_match": False, "region": COUNTY, "open_cases": 0,
        "candidates": 2, "named": None, "named_refused": None}


def test_load_breaks_a_tie_of_equal_matches_then_the_id(directory, rules, calendar):
    # A medical dispute: the district's medical committee (H410611-06) and its rostered
    # mediator (M410611-03) both match the category and the district.
    medical = facts(Source.from_channel("visit"), "medical", COUNTY)
    busy = decide(medical, directory, rules, calendar, {"H410611-06": 2, "M410611-03": 1})
    assert busy.handler == "M410611-03"
    assert selection(busy)["basis"] == "specialty_region"
    assert selection(busy)["candidates"] == 2
    assert decide(medical, directory, rules, calendar,
                  {"H410611-06": 1, "M410611-03": 1}).handler == "H410611-06"


def test_a_mediator_at_their_ceiling_is_passed_over(directory, rules, calendar):
    # M410611-02 takes at most 4 open cases.
    decision = decide(facts(COURT, "contract"), directory, rules, calendar,
                      {"M410611-02": 4, "H410611-01": 1})
    assert decision.handler == "H410611-02"
    assert selection(decision)["basis"] == "load"


def test_the_roster_does_not_move_a_case_to_another_unit(directory, rules, calendar):
    # A plain neighbour dispute from a village stays with the village committee.
    decision = decide(facts(Source.from_channel("visit"), "neighbour", "410611100201"),
                      directory, rules, calendar)
    assert (decision.unit, decision.handler) == ("410611100201", "H410611100201-01")
    assert selection(decision)["basis"] == "load"


# -- the parties' choice -------------------------------------------------------------------------

def test_the_parties_choice_takes_the_case_to_the_mediators_unit(directory, rules, calendar):
    # A police referral of a neighbour dispute from 大赉店镇 would go to the township
    # centre; the parties chose the district's stationed mediator.
    plain = decide(facts(POLICE, "neighbour", TOWNSHIP), directory, rules, calendar)
    assert plain.unit == TOWNSHIP
    chosen = decide(facts(POLICE, "neighbour", TOWNSHIP, mediator="M410611-04"),
                    directory, rules, calendar, {"M410611-04": 7})
    assert (chosen.unit, chosen.level, chosen.handler) == (COUNTY, "county", "M410611-04")
    assert chosen.responsible_leader == "L410611-01"
    assert selection(chosen) == {
        "basis": "party_choice", "specialty_match": False, "region": TOWNSHIP,
        "open_cases": 7, "candidates": 1, "named": "M410611-04", "named_refused": None}


@pytest.mark.parametrize("kw, loads, refused", [
    # marked unavailable (long sick leave)
    (dict(source=POLICE, category="traffic_accident", mediator="M410611-05"), {},
     "M410611-05 marked unavailable on the roster"),
    # away on the registration day
    (dict(source=COURT, category="contract", mediator="M410611-02",
          registered_at=datetime(2027, 2, 1, 9, 0, tzinfo=SHANGHAI)), {},
     "M410611-02 away 2027-01-25 to 2027-02-14: 春节前后外出"),
    # at the ceiling of open cases
    (dict(source=COURT, category="contract", mediator="M410611-02"), {"M410611-02": 4},
     "M410611-02 holds 4 open cases, the most they take is 4"),
    # an invited mediator mediates for the court, not in people's mediation
    (dict(source=POLICE, category="neighbour", mediator="M410611-01"), {},
     "M410611-01 mediates on track judicial; route police-referral is track people, "
     "bodies people_mediation, justice_office"),
    # outside their regions (intake refuses this; assignment still guards it)
    (dict(source=POLICE, category="neighbour", mediator="M410621-02"), {},
     "M410621-02 does not serve region 410611"),
    # a directory handler is not on the roster
    (dict(source=POLICE, category="neighbour", mediator="H410611-05"), {},
     "H410611-05 is not on the mediator roster"),
    # a key case is handled at county level or above
    (dict(source=POLICE, category="neighbour", mediator="M410611100-01", region=TOWNSHIP,
          collective=True), {},
     "M410611100-01 sits at a township unit; this case is handled at county level or above"),
])
def test_a_named_mediator_who_cannot_take_the_case_falls_back_recorded(
        directory, rules, calendar, kw, loads, refused):
    kw.setdefault("region", COUNTY)
    decision = decide(facts(**kw), directory, rules, calendar, loads)
    assert selection(decision)["named"] == kw["mediator"]
    assert selection(decision)["named_refused"] == refused
    assert selection(decision)["basis"] in ("specialty_region", "load")


def test_an_absent_mediator_is_not_matched_either(directory, rules, calendar):
    away = datetime(2027, 2, 1, 9, 0, tzinfo=SHANGHAI)
    decision = decide(facts(COURT, "contract", registered_at=away), directory, rules, calendar)
    assert decision.handler == "H410611-01"
    assert selection(decision)["candidates"] == 3


# -- recorded ------------------------------------------------------------------------------------

def test_the_selection_is_in_the_event_and_the_view(directory, rules, calendar):
    decision = decide(facts(POLICE, "neighbour", TOWNSHIP, mediator="M410611-04"),
                      directory, rules, calendar)
    agg = Assignment("case-1")
    agg.assign(decision, REGISTERED)
    event = agg.pending[0]
    assert event_schema(SERVICE, "AssignmentMade")().validate(dict(event.data)) == {}
    assert event.data["selection"]["basis"] == "party_choice"
    assert Decision.from_data(event.data).selection == decision.selection
    view = agg.describe(REGISTERED)
    assert view["handler"] == "M410611-04"
    assert view["selection"]["basis"] == "party_choice"


def test_older_events_without_a_selection_still_apply(directory, rules, calendar):
    data = decide(facts(COURT, "contract"), directory, rules, calendar).to_data()
    data.pop("selection")
    assert Decision.from_data(data).selection is None


# -- the parties' choice at the first session (mediation's SessionHeld) --------------------------

def placed(directory, rules, calendar, **kw) -> Assignment:
    agg = Assignment("case-1")
    agg.assign(decide(facts(POLICE, "neighbour", TOWNSHIP, **kw), directory, rules, calendar),
               REGISTERED)
    agg.pending.clear()
    return agg


def test_a_mediator_chosen_at_the_first_session_is_given_the_case(directory, rules, calendar):
    agg = placed(directory, rules, calendar)
    assert agg.unit == TOWNSHIP
    agg.take_parties_choice("M410611-04", REGISTERED, directory, {"M410611-04": 2})
    [event] = agg.pending
    assert event.type == "CaseReassigned"
    assert event_schema(SERVICE, "CaseReassigned")().validate(dict(event.data)) == {}
    assert (event.data["unit"], event.data["handler"], event.data["from_unit"]) == \
        (COUNTY, "M410611-04", TOWNSHIP)
    assert event.data["reason"] == "当事人在首次调解时选定调解员"
    view = agg.describe(REGISTERED)
    assert (view["unit"], view["level"], view["handler"]) == (COUNTY, "county", "M410611-04")
    assert view["selection"] == {
        "basis": "party_choice", "specialty_match": False, "region": TOWNSHIP,
        "open_cases": 2, "candidates": 1, "named": "M410611-04", "named_refused": None}
    agg.pending.clear()
    agg.take_parties_choice("M410611-04", REGISTERED, directory)  # already theirs
    assert agg.pending == []


def test_a_mediator_chosen_at_the_first_session_who_cannot_take_it_is_recorded(
        directory, rules, calendar):
    agg = placed(directory, rules, calendar)
    before = (agg.unit, agg.handler)
    agg.take_parties_choice("M410611-01", REGISTERED, directory)  # an invited mediator
    [event] = agg.pending
    assert event.type == "MediatorChoiceDeclined"
    assert event_schema(SERVICE, "MediatorChoiceDeclined")().validate(dict(event.data)) == {}
    assert event.data["reason"] == \
        "M410611-01 mediates on track judicial; the case is on track people"
    assert (agg.unit, agg.handler) == before
    assert agg.describe(REGISTERED)["selection"]["named_refused"] == event.data["reason"]
    # a key case stays at county level or above
    key = placed(directory, rules, calendar, collective=True)
    key.take_parties_choice("M410611100-01", REGISTERED, directory)
    assert key.pending[0].data["reason"] == ("M410611100-01 sits at a township unit; this "
                                             "case is handled at county level or above")


# -- the roster as parties and clerks read it (GET /mediators) ----------------------------------

def test_the_roster_lists_who_serves_a_region_and_who_takes_a_case_today(directory):
    from datetime import date

    from gm_assignment.domain import roster

    listed = roster(directory, date(2027, 2, 1), {"M410611-01": 5}, region="410611100201")
    assert [m["id"] for m in listed] == ["M410600-01", "M410611-01", "M410611-02",
                                         "M410611-03", "M410611-04", "M410611-05",
                                         "M410611100-01"]
    why = {m["id"]: m["unavailable"] for m in listed if not m["available"]}
    assert why == {"M410611-01": "holds 5 open cases, the most they take is 5",
                   "M410611-02": "away 2027-01-25 to 2027-02-14: 春节前后外出",
                   "M410611-05": "marked unavailable on the roster"}
    assert [m["id"] for m in roster(directory, date(2027, 2, 1), category="labour")] == \
        ["M410602-01", "M410621-02", "M410671-01"]
    invited = roster(directory, date(2027, 2, 1), kind="invited_mediator", region="410622")
    assert [(m["id"], m["track"], m["languages"]) for m in invited] == [
        ("M410600-01", "judicial", ["mandarin", "english"]),
        ("M410622-01", "judicial", ["mandarin", "henan_dialect"])]
    signing = roster(directory, date(2027, 2, 1), language="sign_language")
    assert [m["id"] for m in signing] == ["M410611100-01", "M410671-01"]
