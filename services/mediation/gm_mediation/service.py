"""Nameko entrypoints of the mediation service: thin translations to `Mediation` calls."""
from __future__ import annotations

import logging
from typing import Callable, Optional

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from gm_platform import topology
from gm_platform.base import PlatformService
from gm_platform.clock import container_clock
from gm_platform.consumer import Delivery, consume
from gm_platform.feed import build_feeds, catch_up_all
from gm_platform.http import BadRequest, NotFound, Principal, api, load_body
from gm_platform.periodic import every
from gm_platform.store_provider import StoreHandle, find_relay, find_store

from . import schemas
from gm_directory.calendar_file import load_calendar

from .domain import InvalidValue
from .handlers import Caller, CaseNotFound, Mediation

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 200


class MediationProvider(DependencyProvider):
    """One `Mediation` and its feeds per process (the hand-off watch list stays warm)."""

    def setup(self):
        self.settings = self.container.config["GM_SETTINGS"]
        self.clock = container_clock(self.container)
        self._mediation: Optional[Mediation] = None

    def get_dependency(self, worker_ctx):
        if self._mediation is None:  # the store provider is set up by now
            store = StoreHandle(find_store(self.container), find_relay(self.container))
            mediation = Mediation(store, self.settings.timezone, self.clock.now,
                                  load_calendar(self.settings.calendar_file))
            mediation.feeds = build_feeds(self.container, "mediation", {
                "intake": mediation.on_intake_event,
                "assignment": mediation.on_assignment_event,
                "mediation": mediation.on_own_event,  # the process manager
            })
            self._mediation = mediation
        return self._mediation


def _known(call: Callable[[], dict]) -> dict:
    """Domain answers → CONTRACT.md §5 statuses (DomainError is 409 in gm_platform.http)."""
    try:
        return call()
    except CaseNotFound as exc:
        raise NotFound(f"no mediation case {exc}") from None
    except InvalidValue as exc:
        raise BadRequest({exc.field: [exc.message]}) from None


def _http_caller(request, principal: Principal) -> Caller:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not key.strip():
        raise BadRequest({"Idempotency-Key": ["must not be blank"]})
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest({"Idempotency-Key": [f"at most {MAX_IDEMPOTENCY_KEY} characters"]})
    return Caller(principal.subject, key, principal.require_region)


def _rpc_caller(actor: str, idempotency_key: Optional[str]) -> Caller:
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor: name who gives the command")
    return Caller(actor.strip(), idempotency_key)


class MediationService(PlatformService):
    """Sessions, the four duties, agreements, hand-offs to agencies, closure, follow-up."""

    name = "mediation"
    mediation = MediationProvider()

    @staticmethod
    def check_config(settings) -> None:
        PlatformService.check_config(settings)
        load_calendar(settings.calendar_file)

    # -- events: other services', and this service's own (the process manager) -----------
    @consume(queue=lambda: topology.events_queue("mediation", "intake"))
    def on_intake_event(self, delivery: Delivery):
        self.mediation.feeds["intake"].deliver(delivery.body)

    @consume(queue=lambda: topology.events_queue("mediation", "assignment"))
    def on_assignment_event(self, delivery: Delivery):
        self.mediation.feeds["assignment"].deliver(delivery.body)

    @consume(queue=lambda: topology.events_queue("mediation", "mediation"))
    def on_own_event(self, delivery: Delivery):
        self.mediation.feeds["mediation"].deliver(delivery.body)

    @every("catchup_interval")
    def catch_up(self):
        """Whatever the broker did not bring, read from the sources' logs."""
        return catch_up_all(self.mediation.feeds)

    @every("watch_interval", at_start=False)
    def handoff_watch(self):
        done = self.mediation.watch_handoffs()
        if done["overdue"] or done["failed"]:
            log.info("hand-off watch: %s", done)
        return done

    # -- agencies: hand-off replies and confirmation rulings ------------------------------
    @consume(queue=topology.mediation_inbound_queue)
    def on_inbound(self, delivery: Delivery):
        outcome = self.mediation.handle_inbound(delivery)
        log.info("inbound %s: %s", delivery.routing_key, outcome,
                 extra={"correlation_id": delivery.message_id})

    # -- HTTP (role mediator) ---------------------------------------------------------------
    @api("GET", "/cases/<case_id>/mediation", roles=("mediator", "leader"))
    def get_mediation(self, request, principal: Principal, case_id: str):
        return _known(lambda: self.mediation.view(case_id, principal.require_region))

    @api("POST", "/cases/<case_id>/sessions", roles=("mediator",))
    def post_session(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.SessionBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.hold_session(
            case_id, body["held_on"], body["notes"], caller))

    @api("POST", "/cases/<case_id>/duties/<duty>", roles=("mediator",))
    def post_duty(self, request, principal: Principal, case_id: str, duty: str):
        schemas.DutyName().load({"duty": duty})
        body = load_body(request, schemas.DutyBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.record_duty(case_id, duty, body["note"], caller))

    @api("POST", "/cases/<case_id>/agreement", roles=("mediator",))
    def post_agreement(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.AgreementBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.reach_agreement(
            case_id, body["terms"], body["signed_on"], caller))

    @api("POST", "/cases/<case_id>/confirmation-request", roles=("mediator",))
    def post_confirmation_request(self, request, principal: Principal, case_id: str):
        body = {}
        if request.get_data(cache=True).strip():  # no body, or a JSON object
            body = load_body(request, schemas.ConfirmationRequestBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.request_confirmation(
            case_id, caller, applicants=body.get("applicants"),
            applied_on=body.get("applied_on")))

    # -- a petition matter (信访事项): acceptance, answer, review (mediator or leader) -----
    @api("POST", "/cases/<case_id>/petition/acceptance", roles=("mediator", "leader"))
    def post_petition_acceptance(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.PetitionAcceptanceBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.decide_acceptance(
            case_id, body["decision"], body["notified_on"], caller, simple=body["simple"],
            reason=body.get("reason"), route=body.get("route")))

    @api("POST", "/cases/<case_id>/petition/answer", roles=("mediator", "leader"))
    def post_petition_answer(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.PetitionAnswerBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.answer_petition(
            case_id, body["opinion"], body["summary"], body["issued_on"], caller))

    @api("POST", "/cases/<case_id>/petition/review", roles=("mediator", "leader"))
    def post_review_request(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.ReviewRequestBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.request_review(
            case_id, body["stage"], body["requested_on"], body.get("received_on"), caller))

    @api("POST", "/cases/<case_id>/petition/review-decision", roles=("mediator", "leader"))
    def post_review_decision(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.ReviewDecisionBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.decide_review(
            case_id, body["stage"], body["opinion"], body["summary"], body["issued_on"],
            caller))

    @api("POST", "/cases/<case_id>/failure", roles=("mediator",))
    def post_failure(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.FailureBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.record_failure(
            case_id, body["reason"], body["next"], caller))

    @api("POST", "/cases/<case_id>/withdrawal", roles=("mediator",))
    def post_withdrawal(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.WithdrawalBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.withdraw(case_id, body["reason"], caller))

    @api("POST", "/cases/<case_id>/follow-up", roles=("mediator",))
    def post_follow_up(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.FollowUpBody())
        caller = _http_caller(request, principal)
        return _known(lambda: self.mediation.record_follow_up(
            case_id, body["satisfaction"], body["petition_ceased"], caller))

    # -- RPC: the same commands for tools (`actor` names who gives them) -------------------
    @rpc
    def mediation_case(self, case_id: str) -> dict:
        return self.mediation.view(case_id)

    @rpc
    def hold_session(self, case_id: str, held_on: str, notes: str, actor: str,
                     idempotency_key: Optional[str] = None) -> dict:
        body = schemas.SessionBody().load({"held_on": held_on, "notes": notes})
        return self.mediation.hold_session(case_id, body["held_on"], body["notes"],
                                           _rpc_caller(actor, idempotency_key))

    @rpc
    def record_duty(self, case_id: str, duty: str, note: str, actor: str,
                    idempotency_key: Optional[str] = None) -> dict:
        schemas.DutyName().load({"duty": duty})
        body = schemas.DutyBody().load({"note": note})
        return self.mediation.record_duty(case_id, duty, body["note"],
                                          _rpc_caller(actor, idempotency_key))

    @rpc
    def reach_agreement(self, case_id: str, terms: str, signed_on: str, actor: str,
                        idempotency_key: Optional[str] = None) -> dict:
        body = schemas.AgreementBody().load({"terms": terms, "signed_on": signed_on})
        return self.mediation.reach_agreement(case_id, body["terms"], body["signed_on"],
                                              _rpc_caller(actor, idempotency_key))

    @rpc
    def request_confirmation(self, case_id: str, actor: str,
                             idempotency_key: Optional[str] = None) -> dict:
        return self.mediation.request_confirmation(case_id, _rpc_caller(actor, idempotency_key))

    @rpc
    def record_failure(self, case_id: str, reason: str, next: str, actor: str,
                       idempotency_key: Optional[str] = None) -> dict:
        body = schemas.FailureBody().load({"reason": reason, "next": next})
        return self.mediation.record_failure(case_id, body["reason"], body["next"],
                                             _rpc_caller(actor, idempotency_key))

    @rpc
    def withdraw(self, case_id: str, reason: str, actor: str,
                 idempotency_key: Optional[str] = None) -> dict:
        body = schemas.WithdrawalBody().load({"reason": reason})
        return self.mediation.withdraw(case_id, body["reason"],
                                       _rpc_caller(actor, idempotency_key))

    @rpc
    def record_follow_up(self, case_id: str, satisfaction: int, petition_ceased: bool,
                         actor: str, idempotency_key: Optional[str] = None) -> dict:
        body = schemas.FollowUpBody().load({"satisfaction": satisfaction,
                                            "petition_ceased": petition_ceased})
        return self.mediation.record_follow_up(case_id, body["satisfaction"],
                                               body["petition_ceased"],
                                               _rpc_caller(actor, idempotency_key))
