"""Nameko entrypoints of the mediation service: each a command or a view on the bus.

Intake's, assignment's and its own events, and agencies' replies on gm.inbound, arrive
through the consumers every service has (gm_platform.base); what they do is in
handlers.EVENTS and bootstrap (`inbound`)."""
from __future__ import annotations

import logging
from typing import Optional

from nameko.rpc import rpc
from werkzeug.wrappers import Response

from gm_kernel import DomainError, NotRecorded, Refused

from gm_platform.base import PlatformService
from gm_platform.bootstrap import Bootstrapped
from gm_platform.http import Principal, api, caller, load_body
from gm_platform.messagebus import Caller
from gm_platform.periodic import every

from . import openapi, schemas
from .bootstrap import bootstrap, load_config
from .commands import (
    AnswerPetition, DecideAcceptance, DecideReview, HoldJointMeeting, HoldSession,
    IssueDocument, RateCase,
    ReachAgreement,
    RecordDuty,
    RecordFailure, RecordFollowUp, RequestConfirmation, RequestReview, Withdraw,
)
from .adapters.pdf import MEDIA_TYPE
from .handlers import documents, mediation_view

log = logging.getLogger(__name__)


def rpc_caller(actor: str, idempotency_key: Optional[str]) -> Caller:
    """Who gives a command over RPC: the tool names its actor (e.g. `cli:ops-1`)."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor: name who gives the command")
    return Caller(actor.strip(), idempotency_key)


class MediationService(PlatformService):
    """Sessions, the four duties, agreements, hand-offs to agencies, closure, follow-up."""

    name = "mediation"
    app = Bootstrapped(bootstrap)
    http_api = openapi.API

    @staticmethod
    def check_config(settings) -> None:
        PlatformService.check_config(settings)
        load_config(settings)

    @every("watch_interval", at_start=False)
    def handoff_watch(self):
        done = self.app.watch_handoffs()
        if done["overdue"] or done["failed"]:
            log.info("hand-off watch: %s", done)
        return done

    # -- HTTP (role mediator) ---------------------------------------------------------------
    @api("GET", "/cases/<case_id>/mediation", roles=("mediator", "leader"))
    def get_mediation(self, request, principal: Principal, case_id: str):
        return self.app.bus.query(mediation_view, case_id,
                                  Caller(principal.subject, may_see=principal.require_region))

    @api("POST", "/cases/<case_id>/sessions", roles=("mediator",))
    def post_session(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.SessionBody())
        return self.app.bus.handle(HoldSession(case_id, body["held_on"], body["notes"],
                                               caller(request, principal), body["mediator"]))

    @api("POST", "/cases/<case_id>/duties/<duty>", roles=("mediator",))
    def post_duty(self, request, principal: Principal, case_id: str, duty: str):
        schemas.DutyName().load({"duty": duty})
        body = load_body(request, schemas.DutyBody())
        return self.app.bus.handle(RecordDuty(case_id, duty, body["note"],
                                              caller(request, principal)))

    @api("POST", "/cases/<case_id>/agreement", roles=("mediator",))
    def post_agreement(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.AgreementBody())
        return self.app.bus.handle(ReachAgreement(
            case_id, body["terms"], body["signed_on"], caller(request, principal),
            performance=body.get("performance"), perform_by=body.get("perform_by")))

    @api("POST", "/cases/<case_id>/confirmation-request", roles=("mediator",))
    def post_confirmation_request(self, request, principal: Principal, case_id: str):
        body = {}
        if request.get_data(cache=True).strip():  # no body, or a JSON object
            body = load_body(request, schemas.ConfirmationRequestBody())
        applicants = body.get("applicants")
        return self.app.bus.handle(RequestConfirmation(
            case_id, caller(request, principal),
            applicants=tuple(applicants) if applicants is not None else None,
            applied_on=body.get("applied_on")))

    @api("POST", "/cases/<case_id>/joint-meetings", roles=("mediator", "leader"))
    def post_joint_meeting(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.JointMeetingBody())
        return self.app.bus.handle(HoldJointMeeting(
            case_id, body["held_on"], tuple(body["participants"]), tuple(body["agenda"]),
            tuple(tuple(sorted(d.items())) for d in body["decisions"]),
            caller(request, principal)))

    # -- documents (文书), mediator or leader ------------------------------------------------
    @api("GET", "/cases/<case_id>/documents", roles=("mediator", "leader"))
    def get_documents(self, request, principal: Principal, case_id: str):
        return self.app.bus.query(documents, case_id,
                                  Caller(principal.subject, may_see=principal.require_region))

    @api("GET", "/cases/<case_id>/documents/<document>.pdf", roles=("mediator", "leader"))
    def get_document_pdf(self, request, principal: Principal, case_id: str, document: str):
        schemas.DocumentName().load({"document": document})
        issued = self.app.bus.handle(IssueDocument(
            case_id, document, Caller(principal.subject, may_see=principal.require_region)))
        name = f"{issued['case_number'] or case_id}-{document}.pdf"
        return Response(issued["pdf"], mimetype=MEDIA_TYPE, headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Document-Digest": issued["digest"], "X-Issued-At": issued["issued_at"]})

    # -- a petition matter (信访事项): acceptance, answer, review (mediator or leader) -----
    @api("POST", "/cases/<case_id>/petition/acceptance", roles=("mediator", "leader"))
    def post_petition_acceptance(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.PetitionAcceptanceBody())
        return self.app.bus.handle(DecideAcceptance(
            case_id, body["decision"], body["notified_on"], caller(request, principal),
            simple=body["simple"], reason=body.get("reason"), route=body.get("route")))

    @api("POST", "/cases/<case_id>/petition/answer", roles=("mediator", "leader"))
    def post_petition_answer(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.PetitionAnswerBody())
        return self.app.bus.handle(AnswerPetition(
            case_id, body["opinion"], body["summary"], body["issued_on"],
            caller(request, principal)))

    @api("POST", "/cases/<case_id>/petition/review", roles=("mediator", "leader"))
    def post_review_request(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.ReviewRequestBody())
        return self.app.bus.handle(RequestReview(
            case_id, body["stage"], body["requested_on"], body.get("received_on"),
            caller(request, principal)))

    @api("POST", "/cases/<case_id>/petition/review-decision", roles=("mediator", "leader"))
    def post_review_decision(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.ReviewDecisionBody())
        return self.app.bus.handle(DecideReview(
            case_id, body["stage"], body["opinion"], body["summary"], body["issued_on"],
            caller(request, principal)))

    @api("POST", "/cases/<case_id>/failure", roles=("mediator",))
    def post_failure(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.FailureBody())
        return self.app.bus.handle(RecordFailure(case_id, body["reason"], body["next"],
                                                 caller(request, principal)))

    @api("POST", "/cases/<case_id>/withdrawal", roles=("mediator",))
    def post_withdrawal(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.WithdrawalBody())
        return self.app.bus.handle(Withdraw(case_id, body["reason"],
                                            caller(request, principal)))

    @api("POST", "/cases/<case_id>/follow-up", roles=("mediator",))
    def post_follow_up(self, request, principal: Principal, case_id: str):
        body = load_body(request, schemas.FollowUpBody())
        return self.app.bus.handle(RecordFollowUp(
            case_id, body["satisfaction"], body["petition_ceased"], caller(request, principal)))

    # -- RPC: the same commands for tools (`actor` names who gives them) -------------------
    @rpc
    def mediation_case(self, case_id: str) -> dict:
        return self.app.bus.query(mediation_view, case_id, Caller("rpc"))

    @rpc
    def hold_session(self, case_id: str, held_on: str, notes: str, actor: str,
                     idempotency_key: Optional[str] = None,
                     mediator: Optional[str] = None) -> dict:
        body = schemas.SessionBody().load({"held_on": held_on, "notes": notes,
                                           "mediator": mediator})
        return self.app.bus.handle(HoldSession(case_id, body["held_on"], body["notes"],
                                               rpc_caller(actor, idempotency_key),
                                               body["mediator"]))

    @rpc
    def record_duty(self, case_id: str, duty: str, note: str, actor: str,
                    idempotency_key: Optional[str] = None) -> dict:
        schemas.DutyName().load({"duty": duty})
        body = schemas.DutyBody().load({"note": note})
        return self.app.bus.handle(RecordDuty(case_id, duty, body["note"],
                                              rpc_caller(actor, idempotency_key)))

    @rpc
    def reach_agreement(self, case_id: str, terms: str, signed_on: str, actor: str,
                        idempotency_key: Optional[str] = None) -> dict:
        body = schemas.AgreementBody().load({"terms": terms, "signed_on": signed_on})
        return self.app.bus.handle(ReachAgreement(case_id, body["terms"], body["signed_on"],
                                                  rpc_caller(actor, idempotency_key)))

    @rpc
    def request_confirmation(self, case_id: str, actor: str,
                             idempotency_key: Optional[str] = None) -> dict:
        return self.app.bus.handle(RequestConfirmation(case_id,
                                                       rpc_caller(actor, idempotency_key)))

    @rpc
    def record_failure(self, case_id: str, reason: str, next: str, actor: str,
                       idempotency_key: Optional[str] = None) -> dict:
        body = schemas.FailureBody().load({"reason": reason, "next": next})
        return self.app.bus.handle(RecordFailure(case_id, body["reason"], body["next"],
                                                 rpc_caller(actor, idempotency_key)))

    @rpc
    def withdraw(self, case_id: str, reason: str, actor: str,
                 idempotency_key: Optional[str] = None) -> dict:
        body = schemas.WithdrawalBody().load({"reason": reason})
        return self.app.bus.handle(Withdraw(case_id, body["reason"],
                                            rpc_caller(actor, idempotency_key)))

    @rpc
    def record_follow_up(self, case_id: str, satisfaction: int, petition_ceased: bool,
                         actor: str, idempotency_key: Optional[str] = None) -> dict:
        body = schemas.FollowUpBody().load({"satisfaction": satisfaction,
                                            "petition_ceased": petition_ceased})
        return self.app.bus.handle(RecordFollowUp(
            case_id, body["satisfaction"], body["petition_ceased"],
            rpc_caller(actor, idempotency_key)))

    @rpc
    def rate_case(self, case_id: str, rating: str, comment: Optional[str],
                  idempotency_key: Optional[str] = None) -> dict:
        """The petitioner's rating, forwarded by reporting's POST /status/{code}/rating
        (which resolved the code): {"rated": rating} or {"refused": why} — a case not
        closed or rated already is the petitioner's 409, not an error of this call."""
        try:
            self.app.bus.handle(RateCase(case_id, rating, comment,
                                         Caller("petitioner", idempotency_key)))
        except NotRecorded:  # not opened here yet (its registration is on its way)
            return {"unknown": True}
        except Refused as exc:  # a value that can never be right (400)
            return {"refused": str(exc), "errors": exc.errors}
        except DomainError as exc:
            return {"refused": str(exc)}
        return {"rated": rating}
