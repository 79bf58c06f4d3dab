"""What /openapi.json says of mediation's routes beyond their decorators: the commands'
routes and summaries come from their body schemas (gm_platform.openapi.route_of).

    python -m gm_platform.openapi mediation
"""
from __future__ import annotations

from gm_platform.openapi import Api, Doc, route_of

from . import schemas

NO_CASE = "no such case (or not yet in mediation)"
REFUSED = ("the case's state does not allow it (e.g. closed, no agreement, waiting on an "
           "agency)")


def command(body, **kw):
    """A mediator's command on a case: answered with the case as it now stands."""
    return route_of(body, response=schemas.MediationView, idempotent=True,
                    not_found=NO_CASE, conflict=REFUSED, **kw)


API = Api(
    title="mediation",
    description="Sessions, the four duties (四包), agreements and judicial confirmation, "
                "the petition workflow (受理, 答复, 复查, 复核), failure, withdrawal and "
                "follow-up (role mediator; the petition steps also leader).",
    routes=dict([
        (("GET", "/cases/{case_id}/mediation"),
         Doc("The case as mediation sees it", schemas.MediationView, not_found=NO_CASE)),
        (("GET", "/cases/{case_id}/documents"),
         Doc("The documents (文书) the case's events back, issued or not yet",
             schemas.DocumentList, not_found=NO_CASE)),
        (("GET", "/cases/{case_id}/documents/{document}.pdf"),
         Doc("A document as PDF (Chinese, the CJK font embedded)", content="application/pdf",
             path=schemas.DocumentName, not_found="no such case, or the case has no such "
             "document (yet)", conflict="issued before with another digest: a party's data "
             "erased, or the directory's names changed since; not served",
             description="The first download issues it (DocumentIssued, with the "
             "SHA-256 of the bytes); every later one gives the same bytes. Headers "
             "X-Document-Digest and X-Issued-At say which.")),
        command(schemas.DutyBody, path=schemas.DutyName),
        command(schemas.ConfirmationRequestBody, body_required=False, description=(
            "No body, or an empty one: all parties apply, today.")),
        *(command(body) for body in (
            schemas.SessionBody, schemas.AgreementBody, schemas.PetitionAcceptanceBody,
            schemas.PetitionAnswerBody, schemas.ReviewRequestBody, schemas.ReviewDecisionBody,
            schemas.FailureBody, schemas.WithdrawalBody, schemas.FollowUpBody,
            schemas.JointMeetingBody)),
    ]),
)
