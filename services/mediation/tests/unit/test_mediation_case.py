"""The MediationCase aggregate: every transition, legal and illegal, and the rules on them."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from gm_contracts import event_schema
from gm_contracts.mediation_events import EVENT_TYPES
from gm_kernel import DomainError
from gm_mediation.domain import (
    AGREEMENT,
    ASSIGNED,
    CLOSED,
    HANDED_OFF,
    IN_MEDIATION,
    REGISTERED,
    InvalidValue,
    MediationCase,
)

from gm_mediation.domain import confirmation_window
from gm_mediation.testing import CALENDAR, NOW, TZ, assignment, recorded, registration


def window(signed_on: date) -> datetime:
    """The end of the judicial-confirmation window, as the service counts it."""
    return confirmation_window(signed_on, CALENDAR, TZ).due_at


def replayed(case: MediationCase) -> MediationCase:
    """The case rebuilt from its events, as the next command will load it."""
    events = recorded(case.pending, case.stream_id)
    again = MediationCase.load(case.id, events)
    assert again.status == case.status and again.version == case.version
    return again


def ready(**reg) -> MediationCase:
    """A case opened from intake's registration and assigned by assignment."""
    case = MediationCase(reg.get("case_id", "case-1"))
    case.open(registration(**reg), actor="clerk-1")
    case.assign(assignment(), "assigned", actor="assignment-service")
    return case


def in_agreement(signed_on: date = date(2026, 3, 9), **reg) -> MediationCase:
    case = ready(**reg)
    case.hold_session(date(2026, 3, 5), "both parties heard", NOW, TZ)
    case.reach_agreement("李四 rebuilds the drain by April", signed_on, NOW, TZ,
                         window_ends_at=window(signed_on))
    return case


def with_all_duties(case: MediationCase) -> MediationCase:
    for duty in ("investigation", "handling", "counselling", "cessation"):
        case.record_duty(duty, f"{duty} done", NOW)
    return case


def types(case: MediationCase):
    return [e.type for e in case.pending]


# -- opening and assignment ------------------------------------------------------------

def test_opened_then_assigned_in_either_order():
    first = MediationCase("case-1")
    first.open(registration())
    assert first.status == REGISTERED
    first.assign(assignment(), "assigned")
    second = MediationCase("case-1")
    second.assign(assignment(), "assigned")
    assert second.status == REGISTERED  # known to assignment, not yet to mediation
    second.open(registration())
    assert first.status == second.status == ASSIGNED
    assert replayed(second).assignment["handler"] == "H410611-01"


def test_commands_need_the_case_opened_and_assigned():
    case = MediationCase("case-1")
    case.assign(assignment(), "assigned")
    with pytest.raises(DomainError, match="not reached mediation"):
        case.hold_session(date(2026, 3, 5), "x", NOW, TZ)
    case = MediationCase("case-1")
    case.open(registration())
    for command in (lambda: case.hold_session(date(2026, 3, 5), "x", NOW, TZ),
                    lambda: case.record_duty("investigation", "x", NOW),
                    lambda: case.reach_agreement("t", date(2026, 3, 5), NOW, TZ),
                    lambda: case.fail("r", "none", None, NOW),
                    lambda: case.withdraw("r", NOW)):
        with pytest.raises(DomainError, match="not yet assigned"):
            command()
    assert types(case) == ["MediationOpened"]


def test_opening_twice_is_refused():
    case = ready()
    with pytest.raises(DomainError):
        case.open(registration())


def test_reassignment_keeps_track_lead_and_deadline():
    case = ready()
    case.assign(assignment(lead="L410611-01"), "escalated")
    case.assign({"unit": "410611001", "level": "township", "handler": "H410611001-02"},
                "reassigned")
    assert replayed(case).assignment == {
        "track": "judicial", "level": "township", "unit": "410611001",
        "handler": "H410611001-02", "lead": "L410611-01",
        "due_at": "2026-04-01T15:59:59.999999Z", "petition_matter": None}
    assert case.pending[-1].data["reason"] == "reassigned"


def test_opened_keeps_what_mediation_needs_of_the_registration():
    case = ready()
    opened = case.pending[0].data
    assert opened["case_id"] == "case-1" and opened["source_agency"] == "court"
    assert opened["referral_id"] == "R-1" and opened["parties"][0]["name"] == "张三"
    assert opened["repeat_of"] == [] and "leader" not in opened


# -- sessions, duties, agreement ---------------------------------------------------------

def test_session_starts_mediation_and_counts():
    case = ready()
    case.hold_session(date(2026, 3, 5), "first", NOW, TZ)
    case.hold_session(date(2026, 3, 10), "second, today", NOW, TZ)
    assert case.status == IN_MEDIATION
    assert [s["number"] for s in replayed(case).sessions] == [1, 2]


@pytest.mark.parametrize("held_on, problem", [
    (date(2026, 3, 11), "future"),  # tomorrow in Beijing
    (date(2026, 3, 1), "before the case was registered"),
])
def test_session_dates_must_be_possible(held_on, problem):
    case = ready()
    with pytest.raises(InvalidValue, match=problem) as exc:
        case.hold_session(held_on, "x", NOW, TZ)
    assert exc.value.field == "held_on"


def test_today_is_the_local_day():
    case = ready()
    late = datetime(2026, 3, 10, 16, 30, tzinfo=timezone.utc)  # 00:30 on the 11th in Beijing
    case.hold_session(date(2026, 3, 11), "just after midnight in Beijing", late, TZ)
    assert case.sessions[-1]["held_on"] == "2026-03-11"


def test_duty_is_recorded_once_and_must_be_one_of_the_four():
    case = ready()
    case.record_duty("investigation", "visited both homes", NOW)
    assert case.status == IN_MEDIATION
    with pytest.raises(DomainError, match="already recorded"):
        case.record_duty("investigation", "again", NOW)
    with pytest.raises(InvalidValue) as exc:
        case.record_duty("prayer", "x", NOW)
    assert exc.value.field == "duty"
    assert case.missing_duties == ["handling", "counselling", "cessation"]


def test_agreement_then_no_more_sessions_or_second_agreement():
    case = in_agreement()
    assert case.status == AGREEMENT
    with pytest.raises(DomainError, match="agreement"):
        case.hold_session(date(2026, 3, 10), "more talk", NOW, TZ)
    with pytest.raises(DomainError, match="already in force"):
        case.reach_agreement("other terms", date(2026, 3, 10), NOW, TZ)
    case.record_duty("cessation", "the applicant stopped petitioning", NOW)  # still allowed
    assert replayed(case).agreement == {"terms": "李四 rebuilds the drain by April",
                                        "signed_on": "2026-03-09",
                                        "confirmation_window_ends_at":
                                            "2026-04-08T15:59:59.999999Z"}


def test_agreement_signed_in_the_future_is_invalid():
    with pytest.raises(InvalidValue) as exc:
        ready().reach_agreement("t", date(2026, 3, 11), NOW, TZ)
    assert exc.value.field == "signed_on"


# -- judicial confirmation ---------------------------------------------------------------

def test_confirmation_needs_an_agreement():
    with pytest.raises(DomainError, match="needs an agreement"):
        ready().request_confirmation("H-1", NOW, TZ)


def test_confirmation_window_is_30_local_days_after_signing():
    signed = date(2026, 3, 1)
    last_moment = datetime(2026, 3, 31, 23, 59, 59, tzinfo=TZ)
    case = in_agreement(signed_on=signed, registered_at="2026-02-20T01:00:00+00:00")
    case.request_confirmation("H-1", last_moment, TZ)
    assert case.pending[-1].data["window_ends_at"] == "2026-03-31T15:59:59.999999Z"
    late = in_agreement(signed_on=signed, registered_at="2026-02-20T01:00:00+00:00")
    with pytest.raises(DomainError, match="30-day window .* ended on 2026-03-31"):
        late.request_confirmation("H-1", last_moment + timedelta(seconds=1), TZ)
    assert late.awaiting is None


def test_both_parties_apply_jointly_and_it_is_recorded():
    case = in_agreement()
    case.request_confirmation("H-1", NOW, TZ, applicants=["张三", "李四"],
                              applied_on=date(2026, 3, 9))
    assert case.pending[-1].data["joint_application"] == {"applicants": ["张三", "李四"],
                                                          "applied_on": "2026-03-09"}
    by_default = in_agreement()
    by_default.request_confirmation("H-1", NOW, TZ)  # all parties, today
    assert by_default.pending[-1].data["joint_application"] == {
        "applicants": ["张三", "李四"], "applied_on": "2026-03-10"}


@pytest.mark.parametrize("applicants, applied_on, field", [
    (["张三"], None, "applicants"),  # one side alone cannot apply
    (["张三", "王五"], None, "applicants"),  # not a party
    (["张三", "李四"], date(2026, 3, 8), "applied_on"),  # before the agreement was signed
    (["张三", "李四"], date(2026, 3, 11), "applied_on"),  # in the future
])
def test_a_one_sided_or_impossible_application_is_refused(applicants, applied_on, field):
    case = in_agreement()
    with pytest.raises(InvalidValue) as exc:
        case.request_confirmation("H-1", NOW, TZ, applicants=applicants, applied_on=applied_on)
    assert exc.value.field == field
    assert case.awaiting is None


@pytest.mark.parametrize("changes, assigned, why", [
    (dict(source_agency="procuratorate", kind="criminal_reconciliation"), {"track": "people"},
     "reviewed by the procuratorate"),
    (dict(kind="entrusted", procedure="ordinary"), {}, "entrusted after filing"),
    (dict(source_agency=None, referral_id=None, kind=None, channel="visit",
          category="land_forest"), {"track": "administrative"}, "not of administrative"),
])
def test_judicial_confirmation_only_where_it_applies(changes, assigned, why):
    case = MediationCase("case-1")
    case.open(registration(**changes))
    case.assign(assignment(**assigned), "assigned")
    case.hold_session(date(2026, 3, 5), "both parties heard", NOW, TZ)
    case.reach_agreement("terms", date(2026, 3, 9), NOW, TZ, window_ends_at=window(date(2026, 3, 9)))
    assert case.pending[-1].data["confirmation_window_ends_at"] is None
    with pytest.raises(DomainError, match=why):
        case.request_confirmation("H-1", NOW, TZ)


def test_key_case_needs_all_four_duties_before_confirmation():
    case = in_agreement(key_case=True, key_reasons=["collective"])
    case.record_duty("investigation", "done", NOW)
    with pytest.raises(DomainError, match="missing: handling, counselling, cessation"):
        case.request_confirmation("H-1", NOW, TZ)
    for duty in ("handling", "counselling", "cessation"):
        case.record_duty(duty, "done", NOW)
    case.request_confirmation("H-1", NOW, TZ)
    assert case.awaits("H-1")["kind"] == "judicial_confirmation"


def test_while_the_court_reviews_only_duties_may_be_recorded():
    case = in_agreement()
    case.request_confirmation("H-1", NOW, TZ)
    assert case.status == HANDED_OFF  # the court holds the case until it rules
    for command in (lambda: case.request_confirmation("H-2", NOW, TZ),
                    lambda: case.withdraw("r", NOW),
                    lambda: case.fail("r", "litigation", "H-2", NOW),
                    lambda: case.record_follow_up(5, True, NOW)):
        with pytest.raises(DomainError):
            command()
    case.record_duty("cessation", "stopped petitioning", NOW)
    assert types(case)[-1] == "DutyRecorded"


def test_confirmed_closes_resolved_with_the_referral():
    case = in_agreement()
    case.request_confirmation("H-1", NOW, TZ)
    case.confirm("H-1", "(2026)豫0611民特1号", NOW, actor="agency:court")
    closed = case.pending[-1]
    assert case.status == CLOSED and closed.type == "CaseClosed"
    assert closed.data["outcome"] == "confirmed" and closed.data["resolved"] is True
    assert closed.data["source_agency"] == "court" and closed.data["referral_id"] == "R-1"
    assert "(2026)豫0611民特1号" in closed.data["summary"]
    assert closed.correlation_id == "case-1" and closed.actor == "agency:court"


def test_refused_confirmation_reopens_for_an_amended_agreement():
    case = in_agreement()
    case.request_confirmation("H-1", NOW, TZ)
    case.reopen("H-1", "the court refused judicial confirmation: terms unclear", NOW)
    case = replayed(case)
    assert case.status == IN_MEDIATION and case.agreement is None
    with pytest.raises(DomainError, match="needs an agreement"):
        case.request_confirmation("H-2", NOW, TZ)
    case.hold_session(date(2026, 3, 10), "terms clarified", NOW, TZ)
    case.reach_agreement("clearer terms", date(2026, 3, 10), NOW, TZ,
                         window_ends_at=window(date(2026, 3, 10)))
    assert case.pending[-1].data["number"] == 2
    case.request_confirmation("H-2", NOW, TZ)
    assert [h["handoff_id"] for h in case.handoffs] == ["H-1", "H-2"]


def test_only_the_awaited_handoff_settles_the_case():
    case = in_agreement()
    case.request_confirmation("H-1", NOW, TZ)
    with pytest.raises(DomainError, match="does not wait on hand-off H-9"):
        case.confirm("H-9", None, NOW)
    with pytest.raises(DomainError, match="settled by the court's ruling"):
        case.close_handed_off("H-1", None, NOW)


# -- failure and hand-offs after it ------------------------------------------------------

def test_failure_without_next_step_closes_failed():
    case = ready()
    case.fail("the respondent refuses to talk", "none", None, NOW)
    assert types(case)[-2:] == ["MediationFailed", "CaseClosed"]
    assert case.closure["outcome"] == "failed" and case.closure["resolved"] is False
    assert replayed(case).status == CLOSED


def test_failure_with_next_step_hands_off_until_the_agency_accepts():
    case = ready(source_agency="police", kind="minor_dispute", referral_id="P-7")
    case.hold_session(date(2026, 3, 5), "no common ground", NOW, TZ)
    case.fail("assault suspected", "public_security", "H-1", NOW)
    assert case.status == HANDED_OFF
    assert case.pending[-1].data == {"reason": "assault suspected", "next": "public_security",
                                     "handoff_id": "H-1", "agency": "police"}
    with pytest.raises(DomainError, match="waits on police"):
        case.hold_session(date(2026, 3, 10), "x", NOW, TZ)
    case.close_handed_off("H-1", "鹤公(治)字2026-12", NOW)
    assert case.closure["outcome"] == "handed_off" and case.closure["resolved"] is False
    assert "鹤公(治)字2026-12" in case.closure["summary"]
    assert case.closure["referral_id"] == "P-7"


def test_rejected_handoff_reopens_for_another_next_step():
    case = ready()
    case.fail("no agreement possible", "petition_handling", "H-1", NOW)
    case.reopen("H-1", "petition rejected the hand-off: not a petition matter", NOW)
    assert replayed(case).status == IN_MEDIATION
    case.fail("no agreement possible", "litigation", "H-2", NOW)
    assert case.awaits("H-2") == {"handoff_id": "H-2", "agency": "court",
                                  "kind": "litigation"}


def test_failure_with_an_unknown_next_step_is_invalid():
    with pytest.raises(InvalidValue) as exc:
        ready().fail("r", "arbitration", "H-1", NOW)
    assert exc.value.field == "next"


def test_a_case_with_no_parties_cannot_be_handed_to_an_agency():
    case = ready(parties=[], source_agency=None, referral_id=None, channel="risk_assessment")
    with pytest.raises(DomainError, match="no parties"):
        case.fail("r", "litigation", "H-1", NOW)
    case.fail("r", "none", None, NOW)  # closing needs nobody
    assert case.status == CLOSED


def test_failure_after_an_agreement_drops_the_agreement():
    case = in_agreement()
    case.fail("the respondent reneged", "litigation", "H-1", NOW)
    assert case.agreement is None and case.status == HANDED_OFF


# -- withdrawal, follow-up ---------------------------------------------------------------

def test_withdrawal_closes_and_nothing_follows_but_a_follow_up():
    case = ready()
    case.withdraw("the applicant settled privately", NOW)
    assert types(case)[-2:] == ["MediationWithdrawn", "CaseClosed"]
    assert case.closure["outcome"] == "withdrawn"
    for command in (lambda: case.withdraw("again", NOW),
                    lambda: case.hold_session(date(2026, 3, 10), "x", NOW, TZ),
                    lambda: case.record_duty("handling", "x", NOW),
                    lambda: case.assign(assignment(), "escalated")):
        with pytest.raises(DomainError, match="closed"):
            command()
    case.record_follow_up(4, True, NOW)
    with pytest.raises(DomainError, match="already had its follow-up"):
        case.record_follow_up(5, True, NOW)


def test_follow_up_on_an_agreement_closes_it_as_agreement():
    case = in_agreement(source_agency=None, referral_id=None, channel="visit")
    case.record_follow_up(5, True, NOW)
    assert types(case)[-2:] == ["FollowUpRecorded", "CaseClosed"]
    assert case.closure["outcome"] == "agreement" and case.closure["resolved"] is True
    assert case.closure["summary"] == "李四 rebuilds the drain by April"
    assert case.follow_up == {"satisfaction": 5, "satisfaction_level": "satisfied",
                              "petition_ceased": True,
                              "visited_at": "2026-03-10T02:00:00.000000Z"}


def test_key_case_closes_as_agreement_only_with_all_four_duties():
    case = in_agreement(key_case=True)
    with pytest.raises(DomainError, match="four duties"):
        case.record_follow_up(5, True, NOW)
    assert case.follow_up is None and not case.closed
    with_all_duties(case).record_follow_up(5, True, NOW)
    assert case.closure["outcome"] == "agreement"


def test_key_case_may_close_unresolved_without_the_duties():
    case = ready(key_case=True)
    case.withdraw("moved away", NOW)
    assert case.closure["outcome"] == "withdrawn"


def test_follow_up_comes_only_after_an_agreement_or_closure():
    case = ready()
    case.hold_session(date(2026, 3, 5), "x", NOW, TZ)
    with pytest.raises(DomainError, match="follow-up visit comes after"):
        case.record_follow_up(3, False, NOW)


@pytest.mark.parametrize("score", [0, 6, True, 3.5, "5", "good", "Satisfied", "", None])
def test_satisfaction_is_1_to_5_or_a_level(score):
    case = in_agreement()
    with pytest.raises(InvalidValue):
        case.record_follow_up(score, True, NOW)
    assert case.follow_up is None and not case.closed


@pytest.mark.parametrize("given, score, level", [
    (1, 1, "dissatisfied"), (2, 2, "dissatisfied"), (3, 3, "basically_satisfied"),
    (4, 4, "satisfied"), (5, 5, "satisfied"),
    ("satisfied", None, "satisfied"), ("basically_satisfied", None, "basically_satisfied"),
    ("dissatisfied", None, "dissatisfied"),
])
def test_follow_up_records_the_level_always_and_the_score_when_given(given, score, level):
    """CONTRACT §8: a level as petition work counts it, or 1–5 (4–5 satisfied, 3
    basically satisfied, 1–2 dissatisfied)."""
    case = in_agreement()
    case.record_follow_up(given, False, NOW)
    [event] = [e for e in case.pending if e.type == "FollowUpRecorded"]
    assert event.data["satisfaction"] == score and event.data["satisfaction_level"] == level
    event_schema("mediation", "FollowUpRecorded")().load(dict(event.data))
    assert replayed(case).follow_up == case.follow_up == dict(event.data)


def test_a_follow_up_recorded_before_levels_replays_with_its_level():
    case = in_agreement()
    case.record_follow_up(3, True, NOW)
    events = recorded(case.pending, case.stream_id)
    for e in events:
        if e.type == "FollowUpRecorded":  # as recorded before satisfaction_level existed
            del e.data["satisfaction_level"]
            event_schema("mediation", "FollowUpRecorded")().load(dict(e.data))
    again = MediationCase.load(case.id, events)
    assert again.follow_up["satisfaction"] == 3
    assert again.follow_up["satisfaction_level"] == "basically_satisfied"


def test_the_event_schema_wants_a_level_that_agrees_with_the_score():
    from marshmallow import ValidationError

    schema = event_schema("mediation", "FollowUpRecorded")()
    base = {"petition_ceased": True, "visited_at": "2026-03-10T02:00:00.000000Z"}
    for bad in ({"satisfaction": 5, "satisfaction_level": "dissatisfied"},
                {"satisfaction": None},
                {"satisfaction": None, "satisfaction_level": "so-so"}):
        with pytest.raises(ValidationError):
            schema.load({**base, **bad})


# -- every event is what the contract documents -------------------------------------------

def test_every_event_matches_its_registered_schema():
    """The AsyncAPI document is generated from these schemas: what the domain records
    must load through them unchanged, or the document lies."""
    flows = []
    case = with_all_duties(in_agreement(key_case=True))
    case.request_confirmation("H-1", NOW, TZ)
    case.reopen("H-1", "refused", NOW)
    case.reach_agreement("amended", date(2026, 3, 10), NOW, TZ,
                         window_ends_at=window(date(2026, 3, 10)), performance="一次性支付",
                         perform_by=date(2026, 3, 31))
    case.issue_document("agreement-2", "agreement", "人民调解协议书", case.version, "0" * 64,
                        1000, NOW)
    case.request_confirmation("H-2", NOW, TZ)
    case.confirm("H-2", None, NOW)
    case.record_follow_up(5, True, NOW)
    flows.append(case)
    case = ready()
    case.follow_assignment("DeadlineExtended", {
        "days": 10, "unit": "days", "reason": "当事人外出", "notified_on": "2026-03-04",
        "previous_due_at": "2026-04-01T15:59:59.999999Z", "due_at": "2026-04-11T15:59:59.999999Z",
        "extension_number": 1, "extended_days": 10})
    case.hold_joint_meeting(date(2026, 3, 6), ["法院", "派出所"], ["议题"],
                            [{"decision": "勘查", "owner": "司法所", "due_on": date(2026, 3, 9)}],
                            NOW, TZ)
    case.assign({"unit": "410611001"}, "reassigned")
    case.fail("r", "public_security", "H-3", NOW)
    case.close_handed_off("H-3", None, NOW)
    flows.append(case)
    case = ready()
    case.withdraw("r", NOW)
    case.rate_by_petitioner("dissatisfied", None, NOW)
    flows.append(case)
    case = ready()
    case.fail("r", "none", None, NOW)
    flows.append(case)
    case = petition_case()
    case.decide_acceptance("accepted", date(2026, 3, 5), NOW, TZ, NOTICE_DUE)
    case.answer_petition("not_support", "诉求缺乏依据", date(2026, 3, 9), NOW, TZ)
    case.request_review("review", date(2026, 3, 10), date(2026, 3, 9), *REVIEW_DUES, NOW, TZ)
    case.decide_review("review", "upheld", "维持原处理意见", date(2026, 3, 10), NOW, TZ)
    flows.append(case)
    case = petition_case()
    case.decide_acceptance("declined", date(2026, 3, 5), NOW, TZ, NOTICE_DUE,
                           reason="属于诉讼程序解决的事项", route="litigation")
    flows.append(case)
    seen = set()
    for case in flows:
        for event in case.pending:
            schema = event_schema("mediation", EVENT_TYPES[event.type])()
            schema.load(dict(event.data))
            seen.add(event.type)
    case_types = {t for t in EVENT_TYPES if not t.startswith("HandOff")
                  and t != "ConfirmationRuled"}
    assert seen == case_types


# -- a petition matter (信访事项): 受理, 处理意见书, 复查, 复核 -----------------------------------

NOTICE_DUE = datetime(2026, 3, 17, 23, 59, 59, 999999, tzinfo=TZ)  # 15 days from 2 March
REVIEW_DUES = (datetime(2026, 4, 8, 23, 59, 59, 999999, tzinfo=TZ),  # request by
               datetime(2026, 4, 9, 23, 59, 59, 999999, tzinfo=TZ))  # decision by


def petition_case(**reg) -> MediationCase:
    """A letter about a land-use dispute: a petition matter on the administrative track."""
    case = MediationCase("case-p")
    case.open(registration(case_id="case-p", source_agency=None, referral_id=None, kind=None,
                           procedure=None, channel="letter", category="land_forest", **reg))
    case.assign(assignment(track="administrative", level="township", unit="410611100",
                           handler="H410611100-03", petition_matter=True), "assigned")
    return case


def test_a_petition_matter_is_accepted_first_then_worked_on():
    case = petition_case()
    for command in (lambda: case.hold_session(date(2026, 3, 5), "x", NOW, TZ),
                    lambda: case.reach_agreement("t", date(2026, 3, 5), NOW, TZ),
                    lambda: case.answer_petition("support", "s", date(2026, 3, 9), NOW, TZ),
                    lambda: case.fail("r", "none", None, NOW)):
        with pytest.raises(DomainError, match="acceptance"):
            command()
    case.decide_acceptance("accepted", date(2026, 3, 5), NOW, TZ, NOTICE_DUE, simple=True)
    accepted = case.pending[-1]
    assert accepted.type == "PetitionAccepted"
    assert accepted.data == {"case_id": "case-p", "accepted_on": "2026-03-05", "simple": True,
                             "notified_on": "2026-03-05",
                             "notice_due_at": "2026-03-17T15:59:59.999999Z", "timely": True}
    case.hold_session(date(2026, 3, 6), "听取信访人陈述", NOW, TZ)
    with pytest.raises(DomainError, match="already accepted"):
        case.decide_acceptance("accepted", date(2026, 3, 6), NOW, TZ, NOTICE_DUE)


def test_a_late_notice_is_recorded_as_late():
    case = petition_case()
    case.decide_acceptance("accepted", date(2026, 3, 10), datetime(2026, 3, 20, tzinfo=TZ),
                           TZ, datetime(2026, 3, 9, 23, 59, 59, tzinfo=TZ))
    assert case.pending[-1].data["timely"] is False


def test_not_accepting_closes_the_case_naming_the_route():
    case = petition_case()
    with pytest.raises(InvalidValue) as exc:
        case.decide_acceptance("declined", date(2026, 3, 5), NOW, TZ, NOTICE_DUE,
                               reason="应通过诉讼解决", route="elsewhere")
    assert exc.value.field == "route"
    case.decide_acceptance("declined", date(2026, 3, 5), NOW, TZ, NOTICE_DUE,
                           reason="应通过诉讼解决", route="litigation")
    assert types(case)[-2:] == ["PetitionDeclined", "CaseClosed"]
    assert (case.closure["outcome"], case.closure["resolved"]) == ("declined", False)


def test_the_written_answer_closes_it_and_review_then_re_review_follow():
    case = petition_case()
    case.decide_acceptance("accepted", date(2026, 3, 3), NOW, TZ, NOTICE_DUE)
    case.answer_petition("support", "支持信访人的合理诉求", date(2026, 3, 9), NOW, TZ)
    assert types(case)[-2:] == ["PetitionAnswered", "CaseClosed"]
    assert (case.closure["outcome"], case.closure["resolved"]) == ("answered", True)
    with pytest.raises(DomainError, match="against a 复查 decision"):
        case.request_review("re_review", date(2026, 3, 10), date(2026, 3, 9), *REVIEW_DUES,
                            NOW, TZ)
    case.request_review("review", date(2026, 3, 10), date(2026, 3, 9), *REVIEW_DUES, NOW, TZ)
    assert case.pending[-1].data["due_at"] == "2026-04-09T15:59:59.999999Z"
    with pytest.raises(DomainError, match="already requested"):
        case.request_review("review", date(2026, 3, 10), date(2026, 3, 9), *REVIEW_DUES,
                            NOW, TZ)
    case.decide_review("review", "upheld", "维持", date(2026, 3, 10), NOW, TZ)
    assert case.pending[-1].data["final"] is False
    case.request_review("re_review", date(2026, 3, 10), date(2026, 3, 10), *REVIEW_DUES,
                        NOW, TZ)
    case.decide_review("re_review", "upheld", "维持", date(2026, 3, 10), NOW, TZ)
    assert case.pending[-1].data["final"] is True
    with pytest.raises(DomainError, match="final"):
        case.request_review("re_review", date(2026, 3, 10), date(2026, 3, 10), *REVIEW_DUES,
                            NOW, TZ)
    assert replayed(case).petition["final"] is True


def test_a_review_must_be_asked_for_within_30_days():
    case = petition_case()
    case.decide_acceptance("accepted", date(2026, 3, 3), NOW, TZ, NOTICE_DUE)
    case.answer_petition("explain", "解释说明", date(2026, 3, 9), NOW, TZ)
    request_due = datetime(2026, 3, 8, 23, 59, 59, tzinfo=TZ)  # as if received long ago
    with pytest.raises(DomainError, match="within 30 days"):
        case.request_review("review", date(2026, 3, 9), date(2026, 3, 9),
                            request_due, REVIEW_DUES[1], NOW, TZ)


def test_the_same_matter_is_not_accepted_again_after_re_review():
    case = petition_case()
    with pytest.raises(DomainError, match="not accepted again"):
        case.decide_acceptance("accepted", date(2026, 3, 5), NOW, TZ, NOTICE_DUE,
                               final_earlier="case-old")
    case.decide_acceptance("declined", date(2026, 3, 5), NOW, TZ, NOTICE_DUE,
                           reason="同一事实和理由，复核后不再受理", route="final_after_re_review")
    assert case.closure["outcome"] == "declined"


def test_only_a_petition_matter_has_the_petition_workflow():
    with pytest.raises(DomainError, match="not a petition matter"):
        ready().decide_acceptance("accepted", date(2026, 3, 5), NOW, TZ, NOTICE_DUE)


# -- the HTTP / RPC body -------------------------------------------------------------------

@pytest.mark.parametrize("given", [1, 3, 5, "satisfied", "basically_satisfied", "dissatisfied"])
def test_follow_up_body_takes_a_score_or_a_level(given):
    from gm_mediation.schemas import FollowUpBody

    assert FollowUpBody().load({"satisfaction": given, "petition_ceased": False}) == {
        "satisfaction": given, "petition_ceased": False}


@pytest.mark.parametrize("given", [0, 6, True, 4.0, "4", "满意", "SATISFIED", None, [], {}])
def test_follow_up_body_refuses_anything_else(given):
    from marshmallow import ValidationError

    from gm_mediation.schemas import FollowUpBody

    with pytest.raises(ValidationError) as info:
        FollowUpBody().load({"satisfaction": given, "petition_ceased": True})
    assert set(info.value.messages) == {"satisfaction"}


# -- the petitioner's rating (CONTRACT §8) ----------------------------------------------

def test_the_petitioner_rates_a_closed_case_once():
    case = ready()
    with pytest.raises(DomainError, match="not closed"):
        case.rate_by_petitioner("satisfied", None, NOW)
    case.withdraw("settled", NOW)
    case.rate_by_petitioner("basically_satisfied", "调解员很耐心", NOW, actor="petitioner")
    [event] = [e for e in case.pending if e.type == "PetitionerRated"]
    assert event.data == {"rating": "basically_satisfied", "comment": "调解员很耐心",
                          "rated_at": "2026-03-10T02:00:00.000000Z"}
    event_schema("mediation", "PetitionerRated")().load(dict(event.data))
    again = replayed(case)
    assert again.rating == dict(event.data)
    for rating in ("satisfied", "basically_satisfied"):
        with pytest.raises(DomainError, match="rated already"):
            again.rate_by_petitioner(rating, None, NOW)
    # a follow-up visit is a different thing: still allowed once
    again.record_follow_up("satisfied", True, NOW)


@pytest.mark.parametrize("rating, comment", [("good", None), ("", None), (5, None),
                                             ("satisfied", "x" * 1001), ("satisfied", 7)])
def test_a_rating_is_one_of_three_levels_with_a_short_comment(rating, comment):
    case = ready()
    case.withdraw("settled", NOW)
    with pytest.raises(InvalidValue):
        case.rate_by_petitioner(rating, comment, NOW)
    assert case.rating is None
