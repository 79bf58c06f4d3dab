"""Mediation's handlers against a real SQLite store, through the application its
bootstrap builds: commands with concurrency and idempotency, the feeds from intake and
assignment, the process manager over the service's own log, agencies' replies, and the
hand-off watch. No broker: events are fed through `EventFeed`s exactly as the service
wires them (gm_platform.feed.Feeds.of_bus), with intake's and assignment's logs in memory."""
from __future__ import annotations

import json
from datetime import date

import pytest

from gm_contracts import all_events
from gm_contracts.mediation_events import CaseClosed
from gm_contracts.testing import inbound_data
from gm_kernel import ConcurrencyError, DomainError, NewEvent
from gm_mediation.commands import (
    AnswerPetition, DecideAcceptance, DecideReview, HoldSession, ReachAgreement, RecordDuty,
    RecordFailure, RequestConfirmation, RequestReview, Withdraw,
)
from gm_mediation.domain import CaseNotFound, HandOff, MediationCase
from gm_mediation.handlers import EVENTS, OUTBOX_RULES
from gm_mediation.service import rpc_caller
from gm_mediation.testing import (
    MEDIATOR, NOW, Interleaved, World, assignment, mediation_app, racing, registration,
)
from gm_platform.auth import Forbidden
from gm_platform.messagebus import Caller, IdempotencyKeyReused
from gm_platform.topology import MEDIATION_INBOUND_TYPES, SUBSCRIPTIONS



@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "mediation.db")
    yield w
    w.store.close()


def agreed(world: World, case_id: str = "case-1", **changes) -> None:
    world.ready(case_id, **changes)
    world.handle(HoldSession(case_id, date(2026, 3, 5), "both parties heard", MEDIATOR))
    for duty in ("investigation", "handling", "counselling", "cessation"):
        world.handle(RecordDuty(case_id, duty, f"{duty} done", MEDIATOR))
    world.handle(ReachAgreement(case_id, "李四 rebuilds the drain by April", date(2026, 3, 9),
                                MEDIATOR))


# -- opening -----------------------------------------------------------------------------

def test_case_opens_from_both_feeds_in_either_order(world):
    world.register("a")
    world.assign("a")
    world.assign("b")
    assert world.view("b")["status"] == "registered"
    world.register("b")
    for case_id in ("a", "b"):
        view = world.view(case_id)
        assert view["status"] == "assigned" and view["assignment"]["handler"] == "H410611-01"
    assert world.store.tracked_position("feed:intake") == 2
    assert world.store.tracked_position("feed:assignment") == 2
    assert world.types("mediation-b") == ["MediatorAssigned", "MediationOpened"]
    [opened] = [e for e in world.store.read_stream("mediation-a") if e.type == "MediationOpened"]
    assert opened.correlation_id == "a" and opened.causation_id == "case-a:1"
    assert opened.actor == "clerk-1"


def test_other_intake_events_and_late_assignment_changes_are_ignored(world):
    world._publish(world.intake, "ScreeningReportFiled", {"x": 1}, "screening-1", "intake")
    world.ready("a")
    world.handle(Withdraw("a", "settled privately", MEDIATOR))
    world.assign("a", "CaseEscalated", unit="410600", level="city", handler="H410600-01",
                 lead="L410600-01", due_at="2026-04-01T15:59:59.999999Z")
    assert world.types("mediation-a")[-1] == "CaseClosed"
    assert world.store.tracked_position("feed:assignment") == 2  # applied: nothing to do


def test_an_extended_deadline_reaches_the_mediator(world):
    """A leader's extension (DeadlineExtended) moves the deadline the mediator sees, as
    an escalation does: the mediator must not work to a deadline that no longer holds."""
    world.ready("a")
    world.assign("a", "DeadlineExtended", days=10, reason="parties abroad",
                 previous_due_at="2026-03-17T15:59:59.999999Z",
                 due_at="2026-03-27T15:59:59.999999Z", extension_number=1, extended_days=10)
    view = world.view("a")
    assert view["assignment"]["due_at"] == "2026-03-27T15:59:59.999999Z"
    assert view["assignment"]["handler"] == "H410611-01"  # the rest stays


def test_commands_on_an_unknown_or_unassigned_case(world):
    with pytest.raises(CaseNotFound):
        world.handle(HoldSession("nope", date(2026, 3, 5), "x", MEDIATOR))
    world.register("a")
    with pytest.raises(DomainError, match="not yet assigned"):
        world.handle(HoldSession("a", date(2026, 3, 5), "x", MEDIATOR))


def test_region_scope_is_checked_before_anything_is_recorded(world):
    world.ready("a")

    def only_another_county(region):
        if not region.startswith("410621"):
            raise Forbidden("this token does not cover the case's region")

    with pytest.raises(Forbidden):
        world.handle(Withdraw("a", "r", Caller("mediator-2", may_see=only_another_county)))
    assert world.types("mediation-a")[-1] == "MediatorAssigned"


def test_a_case_assigned_before_its_registration_arrived_is_not_yet_known_to_a_scoped_token(world):
    """Assignment's event can reach mediation before intake's: until the registration
    (and with it the region) arrives, a region-scoped mediator is told the case is not
    known here yet (404, to try again), not that it belongs to another region (403)."""
    world.assign("a")

    def only_qibin(region):  # as gm_platform.auth.Principal.require_region
        if not (region and region.startswith("410611")):
            raise Forbidden("this token does not cover the case's region")

    scoped = Caller("mediator-2", may_see=only_qibin)
    with pytest.raises(CaseNotFound):
        world.handle(HoldSession("a", date(2026, 3, 5), "x", scoped))
    world.register("a")  # region 410611...: now the scoped mediator works on it
    assert world.handle(HoldSession("a", date(2026, 3, 5), "x", scoped))["status"] == \
        "in_mediation"


# -- the court's delegated referral, to judicial confirmation ----------------------------

def test_court_referral_is_confirmed_and_the_court_told_the_outcome(world):
    agreed(world)
    view = world.handle(RequestConfirmation("case-1", MEDIATOR))
    assert view["status"] == "handed_off" and view["awaiting"]["kind"] == "judicial_confirmation"
    handoff_id = view["awaiting"]["handoff_id"]
    assert world.settle() > 0
    [(key, request)] = world.outbound()
    assert key == "court.handoff_requested"
    data = request["data"]
    assert data["handoff_id"] == handoff_id and data["kind"] == "judicial_confirmation"
    assert data["agreement"] == {"terms": "李四 rebuilds the drain by April",
                                 "signed_on": "2026-03-09"}
    # the court decides whether to accept the application within three days
    assert data["due_at"] == "2026-03-13T15:59:59.999999Z"
    assert data["parties"] == registration()["parties"]
    [requested] = world.store.read_stream(f"handoff-{handoff_id}")
    assert requested.actor == "mediator-1" and requested.correlation_id == "case-1"

    assert world.send("court", "handoff_reply", {"handoff_id": handoff_id,
                                                 "decision": "accepted"})[0] == "HandOffAccepted"
    world.settle()
    view = world.view("case-1")
    assert view["status"] == "handed_off"  # the court rules later: within 30 days of 立案
    assert view["handoffs"][0]["due_at"] == "2026-04-09T15:59:59.999999Z"
    outcome, ruling = world.send("court", "confirmation_ruling", {
        "handoff_id": handoff_id, "confirmed": True, "ruling_number": "(2026)豫0611民特1号"})
    assert outcome == "ConfirmationRuled"
    world.settle()
    view = world.view("case-1")
    assert view["status"] == "closed" and view["outcome"] == "confirmed" and view["resolved"]
    assert view["handoffs"][0]["status"] == "confirmed"
    closed = world.store.read_stream("mediation-case-1")[-1]
    assert closed.type == "CaseClosed" and closed.causation_id is not None
    assert closed.actor == "agency:court" and closed.agency == "court"
    key, message = world.outbound()[-1]
    assert key == "court.case_outcome"
    assert {k: message["data"][k] for k in ("referral_id", "case_id", "outcome")} == {
        "referral_id": "R-1", "case_id": "case-1", "outcome": "confirmed"}
    assert world.settle() == 0 or world.types(f"handoff-{handoff_id}")[-1] == "ConfirmationRuled"


def test_refused_confirmation_reopens_mediation(world):
    agreed(world)
    handoff_id = world.handle(RequestConfirmation("case-1", MEDIATOR))["awaiting"]["handoff_id"]
    world.settle()
    world.send("court", "handoff_reply", {"handoff_id": handoff_id, "decision": "accepted"})
    world.send("court", "confirmation_ruling", {"handoff_id": handoff_id, "confirmed": False,
                                                "reason": "terms unclear"})
    world.settle()
    view = world.view("case-1")
    assert view["status"] == "in_mediation" and view["agreement"] is None
    reopened = world.store.read_stream("mediation-case-1")[-1]
    assert reopened.type == "MediationReopened"
    assert reopened.data == {"reason": "the court refused judicial confirmation: terms unclear",
                             "handoff_id": handoff_id}
    world.handle(ReachAgreement("case-1", "clearer terms", date(2026, 3, 10), MEDIATOR))
    second = world.handle(RequestConfirmation("case-1", MEDIATOR))["awaiting"]["handoff_id"]
    world.settle()
    assert second != handoff_id
    assert [k for k, _ in world.outbound()] == ["court.handoff_requested"] * 2


# -- failure, handed to an agency --------------------------------------------------------

def test_police_referral_fails_back_to_the_police(world):
    world.ready("p", source_agency="police", kind="minor_dispute", referral_id="P-7",
                procedure=None)
    view = world.handle(RecordFailure("p", "assault suspected", "public_security", MEDIATOR))
    assert view["status"] == "handed_off"
    world.settle()
    [(key, request)] = world.outbound()
    assert key == "police.handoff_requested"
    assert request["data"]["kind"] == "public_security" and request["data"]["agreement"] is None
    handoff_id = request["data"]["handoff_id"]
    world.send("police", "handoff_reply", {"handoff_id": handoff_id, "decision": "accepted",
                                           "agency_case_number": "鹤公(治)字2026-12"})
    world.settle()
    view = world.view("p")
    assert view["status"] == "closed" and view["outcome"] == "handed_off"
    assert view["resolved"] is False
    key, message = world.outbound()[-1]
    assert key == "police.case_outcome" and message["data"]["outcome"] == "handed_off"
    assert message["data"]["referral_id"] == "P-7"


def test_rejected_handoff_reopens_and_another_next_step_can_follow(world):
    world.ready("a")
    world.handle(RecordFailure("a", "no agreement possible", "petition_handling", MEDIATOR))
    world.settle()
    handoff_id = world.outbound()[0][1]["data"]["handoff_id"]
    world.send("petition", "handoff_reply", {"handoff_id": handoff_id, "decision": "rejected",
                                             "reason": "not a petition matter"})
    world.settle()
    assert world.view("a")["status"] == "in_mediation"
    view = world.handle(RecordFailure("a", "no agreement possible", "none", MEDIATOR))
    assert view["outcome"] == "failed"
    assert world.outbound()[-1][0] == "court.case_outcome"  # the court referred case "a"


def test_a_case_registered_through_a_channel_tells_no_agency(world):
    world.ready("v", source_agency=None, referral_id=None, kind=None, procedure=None,
                channel="visit")
    world.handle(Withdraw("v", "settled privately", MEDIATOR))
    assert world.outbound() == []


# -- agencies' replies that cannot be taken --------------------------------------------

def requested_handoff(world: World, next_step: str = "public_security") -> str:
    world.ready("a")
    world.handle(RecordFailure("a", "r", next_step, MEDIATOR))
    world.settle()
    return world.outbound()[0][1]["data"]["handoff_id"]


@pytest.mark.parametrize("agency, type, data, field", [
    ("court", "handoff_reply", {"handoff_id": "H-404", "decision": "accepted"}, "handoff_id"),
    ("court", "handoff_reply", {"handoff_id": "{id}", "decision": "accepted"}, "handoff_id"),
    ("court", "confirmation_ruling", {"handoff_id": "{id}", "confirmed": True}, "handoff_id"),
    ("police", "handoff_reply", {"handoff_id": "{id}", "decision": "maybe"}, "decision"),
    ("police", "referral", None, "type"),
])
def test_replies_that_cannot_settle_the_handoff_are_rejected_and_kept(
        world, agency, type, data, field):
    handoff_id = requested_handoff(world)  # to police, kind public_security
    if data is not None:
        data = {k: (v.format(id=handoff_id) if isinstance(v, str) else v)
                for k, v in data.items()}
    else:
        data = inbound_data("police", "referral")
    outcome, sent = world.send(agency, type, data)
    assert outcome == "rejected"
    key, answer = world.outbound()[-1]
    assert key == f"{agency}.rejected"
    assert answer["data"]["message_id"] == sent["id"] and field in answer["data"]["errors"]
    assert world.store.count_dead_letters() == 1
    assert world.types(f"handoff-{handoff_id}") == ["HandOffRequested"]


def test_second_reply_and_ruling_before_acceptance_are_rejected(world):
    world.ready("c")
    world.handle(HoldSession("c", date(2026, 3, 5), "x", MEDIATOR))
    world.handle(ReachAgreement("c", "terms", date(2026, 3, 9), MEDIATOR))
    handoff_id = world.handle(RequestConfirmation("c", MEDIATOR))["awaiting"]["handoff_id"]
    world.settle()
    early, _ = world.send("court", "confirmation_ruling", {"handoff_id": handoff_id,
                                                           "confirmed": True})
    assert early == "rejected"
    assert "before ruling" in world.outbound()[-1][1]["data"]["errors"]["handoff_id"][0]
    world.send("court", "handoff_reply", {"handoff_id": handoff_id, "decision": "accepted"})
    again, _ = world.send("court", "handoff_reply", {"handoff_id": handoff_id,
                                                     "decision": "rejected"})
    assert again == "rejected"
    assert world.types(f"handoff-{handoff_id}") == ["HandOffRequested", "HandOffAccepted"]


def test_a_resent_message_changes_nothing_and_gets_its_first_answer(world):
    handoff_id = requested_handoff(world)
    reply = {"handoff_id": handoff_id, "decision": "accepted"}
    first, sent = world.send("police", "handoff_reply", reply)
    answered = len(world.outbound())
    assert world.send("police", "handoff_reply", reply, id=sent["id"])[0] == "duplicate"
    assert world.types(f"handoff-{handoff_id}") == ["HandOffRequested", "HandOffAccepted"]
    assert len(world.outbound()) == answered  # an accepted reply has no answer to repeat
    _, wrong = world.send("court", "handoff_reply", reply)
    world.send("court", "handoff_reply", reply, id=wrong["id"])
    (_, one), (_, two) = world.outbound()[-2:]
    assert one["data"] == two["data"] and one["id"] != two["id"]


# -- commands: idempotency and concurrency ----------------------------------------------

def test_idempotency_key_makes_a_retried_command_one_effect(world):
    world.ready("a")
    caller = Caller("mediator-1", idempotency_key="k-1")
    first = world.handle(HoldSession("a", date(2026, 3, 5), "first", caller))
    second = world.handle(HoldSession("a", date(2026, 3, 5), "first", caller))
    assert first == second
    assert world.types("mediation-a").count("SessionHeld") == 1
    with pytest.raises(IdempotencyKeyReused):
        world.handle(HoldSession("a", date(2026, 3, 6), "another", caller))
    other = Caller("mediator-2", idempotency_key="k-1")  # keys are per client
    world.handle(HoldSession("a", date(2026, 3, 5), "first", other))
    assert world.types("mediation-a").count("SessionHeld") == 2


def test_a_concurrent_command_is_decided_again_not_lost(world):
    world.ready("a")
    mediation, store = racing(world)
    store.competitor = lambda: world.handle(RecordDuty("a", "handling", "other replica",
                                                       MEDIATOR))
    mediation.bus.handle(RecordDuty("a", "investigation", "this replica", MEDIATOR))
    assert world.types("mediation-a")[-2:] == ["DutyRecorded", "DutyRecorded"]
    assert set(world.view("a")["missing_duties"]) == {"counselling", "cessation"}


def test_the_same_command_twice_concurrently_has_one_effect(world):
    world.ready("a")
    world.handle(HoldSession("a", date(2026, 3, 5), "x", MEDIATOR))
    caller = Caller("mediator-1", idempotency_key="agree-1")
    mediation, store = racing(world)
    store.competitor = lambda: world.handle(ReachAgreement("a", "terms", date(2026, 3, 9),
                                                           caller))
    view = mediation.bus.handle(ReachAgreement("a", "terms", date(2026, 3, 9), caller))
    assert view["agreement"] == {"terms": "terms", "signed_on": "2026-03-09",
                                 "confirmation_window_ends_at": "2026-04-08T15:59:59.999999Z"}
    assert world.types("mediation-a").count("AgreementReached") == 1
    # without a key the second is refused by the case itself, after deciding again
    store.competitor = lambda: world.handle(Withdraw("a", "gone", MEDIATOR))
    with pytest.raises(DomainError, match="closed"):
        mediation.bus.handle(Withdraw("a", "gone", MEDIATOR))
    assert world.types("mediation-a").count("MediationWithdrawn") == 1


def test_a_command_that_keeps_losing_the_race_gives_up_with_a_conflict(world):
    world.ready("a")

    class AlwaysBehind(Interleaved):
        def append(self, *args, **kwargs):
            world.handle(HoldSession("a", date(2026, 3, 5), "elsewhere", MEDIATOR))
            return self.store.append(*args, **kwargs)

    mediation = mediation_app(AlwaysBehind(world.store), world.clock, world.dir)
    with pytest.raises(ConcurrencyError):
        mediation.bus.handle(RecordDuty("a", "handling", "never lands", MEDIATOR))
    assert "DutyRecorded" not in world.types("mediation-a")


# -- exactly once across a crash --------------------------------------------------------

def test_a_handoff_decided_before_a_crash_is_requested_once_after_restart(world, tmp_path):
    agreed(world)
    world.settle()
    view = world.handle(RequestConfirmation("case-1", MEDIATOR))
    handoff_id = view["awaiting"]["handoff_id"]
    # the process died here: the case's commit is durable, the hand-off's not yet made
    world.store.close()
    restarted = World(tmp_path / "mediation.db")
    try:
        # ConfirmationRequested → the hand-off; the catch-up reads on to an empty page, so
        # it also takes the HandOffRequested it just committed (nothing more to do)
        assert restarted.settle() == 2
        assert restarted.settle() == 0
        last = json.dumps(restarted.store.read_log(0, 1000)[-1].to_dict()).encode()
        assert restarted.feeds["mediation"].deliver(last) == "duplicate"
        assert restarted.types(f"handoff-{handoff_id}") == ["HandOffRequested"]
        assert [k for k, _ in restarted.outbound()] == ["court.handoff_requested"]
    finally:
        restarted.store.close()


# -- the hand-off deadline watch ---------------------------------------------------------

def test_overdue_handoffs_are_marked_once(world):
    litigation = requested_handoff(world, "litigation")  # court files within 7 days
    world.ready("b")
    world.handle(RecordFailure("b", "r", "public_security", MEDIATOR))
    world.settle()
    police = world.outbound()[-1][1]["data"]["handoff_id"]
    assert world.app.watch_handoffs() == {"overdue": 0, "failed": 0}
    world.clock.advance(days=8)
    world.send("police", "handoff_reply", {"handoff_id": police, "decision": "accepted"})
    assert world.app.watch_handoffs() == {"overdue": 1, "failed": 0}
    assert world.app.watch_handoffs() == {"overdue": 0, "failed": 0}
    overdue = world.store.read_stream(f"handoff-{litigation}")[-1]
    assert overdue.type == "HandOffOverdue" and overdue.correlation_id == "a"
    assert overdue.data["due_at"] == "2026-03-17T15:59:59.999999Z"
    assert world.types(f"handoff-{police}")[-1] == "HandOffAccepted"
    assert world.view("a")["handoffs"][0]["overdue"] is True
    # a watcher on another replica, reading the same log, finds nothing left to do
    other = mediation_app(world.store, world.clock, world.dir)
    assert other.watch_handoffs() == {"overdue": 0, "failed": 0}


def test_every_event_of_a_case_carries_its_audit_trail(world):
    agreed(world)
    handoff_id = world.handle(RequestConfirmation("case-1", MEDIATOR))["awaiting"]["handoff_id"]
    world.settle()
    world.send("court", "handoff_reply", {"handoff_id": handoff_id, "decision": "accepted"})
    world.send("court", "confirmation_ruling", {"handoff_id": handoff_id, "confirmed": True})
    world.settle()
    events = world.store.read_log(0, 1000)
    assert {e.correlation_id for e in events} == {"case-1"}
    assert all(e.actor and e.causation_id for e in events)
    commands = [e for e in events if e.actor == "mediator-1"]
    assert {e.type for e in commands} >= {"SessionHeld", "DutyRecorded", "AgreementReached",
                                          "ConfirmationRequested", "HandOffRequested"}
    assert HandOff.load(handoff_id, world.store.read_stream(f"handoff-{handoff_id}")).settled


# -- a petition matter: the notice's 15 days, review windows, and finality ------------------

def petition_matter(world: World, case_id: str, **changes) -> None:
    world.register(case_id, source_agency=None, referral_id=None, kind=None, procedure=None,
                   channel="letter", category="land_forest", **changes)
    world.assign(case_id, **assignment(track="administrative", level="township",
                                       unit="410611100", handler="H410611100-03",
                                       petition_matter=True))


def test_the_notice_is_due_15_days_after_registration(world):
    petition_matter(world, "p-1")  # registered 2 March (Beijing)
    view = world.handle(DecideAcceptance("p-1", "accepted", date(2026, 3, 9), MEDIATOR))
    assert view["petition"] == {"decision": "accepted", "accepted_on": "2026-03-09",
                                "simple": False, "timely": True}
    [accepted] = [e for e in world.store.read_stream("mediation-p-1")
                  if e.type == "PetitionAccepted"]
    assert accepted.data["notice_due_at"] == "2026-03-17T15:59:59.999999Z"


def test_the_review_windows_are_counted_on_the_calendar(world):
    petition_matter(world, "p-2")
    world.handle(DecideAcceptance("p-2", "accepted", date(2026, 3, 3), MEDIATOR))
    world.handle(AnswerPetition("p-2", "not_support", "诉求缺乏依据", date(2026, 3, 9), MEDIATOR))
    view = world.handle(RequestReview("p-2", "review", date(2026, 3, 10), None, MEDIATOR))
    [review] = view["reviews"]
    assert review["due_at"] == "2026-04-09T15:59:59.999999Z"  # 30 days from the request
    [requested] = [e for e in world.store.read_stream("mediation-p-2")
                   if e.type == "ReviewRequested"]
    # requested against the answer received on its date (9 March): by 8 April
    assert requested.data["received_on"] == "2026-03-09"
    assert requested.data["request_due_at"] == "2026-04-08T15:59:59.999999Z"


def test_a_matter_finally_decided_on_re_review_is_not_accepted_again(world):
    petition_matter(world, "p-old")
    world.handle(DecideAcceptance("p-old", "accepted", date(2026, 3, 3), MEDIATOR))
    world.handle(AnswerPetition("p-old", "not_support", "诉求缺乏依据", date(2026, 3, 4), MEDIATOR))
    world.handle(RequestReview("p-old", "review", date(2026, 3, 5), None, MEDIATOR))
    world.handle(DecideReview("p-old", "review", "upheld", "维持", date(2026, 3, 6), MEDIATOR))
    world.handle(RequestReview("p-old", "re_review", date(2026, 3, 7), None, MEDIATOR))
    world.handle(DecideReview("p-old", "re_review", "upheld", "维持", date(2026, 3, 9), MEDIATOR))
    # the same applicant and matter again: intake links the earlier case (repeat_of)
    petition_matter(world, "p-new", repeat=True,
                    repeat_of=[{"case_id": "p-old", "case_number": "410611-2026-000001",
                                "registered_at": "2026-03-02T01:00:00+00:00"}])
    with pytest.raises(DomainError, match="not accepted again"):
        world.handle(DecideAcceptance("p-new", "accepted", date(2026, 3, 10), MEDIATOR))
    view = world.handle(DecideAcceptance("p-new", "declined", date(2026, 3, 10), MEDIATOR,
                                         reason="同一事实和理由，复核后不再受理",
                                         route="final_after_re_review"))
    assert (view["status"], view["outcome"]) == ("closed", "declined")


# -- the tables the bus runs -------------------------------------------------------------------

def test_a_closed_referred_case_tells_its_agency_the_outcome_and_no_other_does():
    """OUTBOX_RULES: CaseClosed of a case an agency referred → `<agency>.case_outcome`, in
    the commit that closes it; a case from a channel tells nobody."""
    case = MediationCase("case-1")
    case.open(registration(source_agency="police", referral_id="P-7", kind="minor_dispute",
                           procedure=None))
    case.assign(assignment(), "assigned")
    case.withdraw("settled privately", NOW)
    closed = case.pending[-1]
    message = OUTBOX_RULES[CaseClosed](closed)
    assert (message.exchange, message.routing_key) == ("gm.outbound", "police.case_outcome")
    assert message.body["type"] == "case_outcome" and message.body["agency"] == "police"
    assert message.body["data"] == {
        "referral_id": "P-7", "case_id": "case-1", "outcome": "withdrawn",
        "closed_at": closed.data["closed_at"], "summary": "settled privately"}
    unreferred = NewEvent(type="CaseClosed", data=dict(closed.data, source_agency=None,
                                                       referral_id=None))
    assert OUTBOX_RULES[CaseClosed](unreferred) is None


def test_one_event_table_serves_three_sources_whose_type_names_do_not_clash():
    """EVENTS holds intake's, assignment's and mediation's own events by type name alone
    (the bus does not know the feed): each must be published by one source only."""
    sources = SUBSCRIPTIONS["mediation"]
    publishers = {}
    for (service, event_type, _), _schema in all_events().items():
        if service in sources:
            publishers.setdefault(event_type, set()).add(service)
    assert {t: s for t, s in publishers.items() if len(s) > 1} == {}
    assert {schema.event_service for schema in EVENTS} == set(sources)


def test_the_agency_messages_mediation_takes_are_the_ones_routed_to_it(world):
    assert set(world.app.inbound) == set(MEDIATION_INBOUND_TYPES)


@pytest.mark.parametrize("actor", ["", "  ", None, 7])
def test_an_rpc_command_names_its_actor(actor):
    with pytest.raises(ValueError, match="actor"):
        rpc_caller(actor, None)
    assert rpc_caller(" cli:ops-1 ", "k") == Caller("cli:ops-1", "k")


# -- the parties name a mediator from the roster at the first session (调解员名册) --------------

def test_the_parties_may_name_a_roster_mediator_at_the_first_session_only(world):
    from gm_kernel import Refused

    world.ready()  # a court referral from 大赉店镇 on the judicial track of 淇滨区
    for mediator, error in (
            ("M410611-04", "M410611-04 mediates on track people, not judicial"),
            ("M410621-01", "M410621-01 serves 410621, not region 410611100"),
            ("M999999-01", "'M999999-01' is not on the mediator roster")):
        with pytest.raises(Refused) as refused:
            world.handle(HoldSession("case-1", date(2026, 3, 5), "双方到场", MEDIATOR, mediator))
        assert refused.value.errors == {"mediator": [error]}
    assert "SessionHeld" not in world.types("mediation-case-1")
    world.handle(HoldSession("case-1", date(2026, 3, 5), "双方到场，选定特邀调解员", MEDIATOR,
                             "M410611-01"))
    [held] = [e for e in world.store.read_stream("mediation-case-1") if e.type == "SessionHeld"]
    assert held.data["mediator"] == "M410611-01"
    with pytest.raises(Refused) as refused:
        world.handle(HoldSession("case-1", date(2026, 3, 6), "第二次", MEDIATOR, "M410611-02"))
    assert refused.value.errors == {"mediator": [
        "the parties name a mediator at the first session, not at session 2"]}
    world.handle(HoldSession("case-1", date(2026, 3, 6), "第二次", MEDIATOR))
    assert "mediator" not in world.store.read_stream("mediation-case-1")[-1].data
