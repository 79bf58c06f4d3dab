"""What /openapi.json says of assignment's routes beyond their decorators; the leaders'
commands take their routes and summaries from their body schemas (gm_platform.openapi)."""
from __future__ import annotations

from gm_platform.openapi import Api, Doc, route_of

from . import schemas

NO_CASE = "no such case (or not assigned yet)"
REFUSED = "the case's state does not allow it (closed, not assigned, ...)"

API = Api(
    title="assignment",
    description="四定 of every registered case: track, level, unit, lead, handler and "
                "deadline; leaders extend, reassign and arrange joint handling (role leader).",
    routes=dict([
        (("GET", "/cases/{case_id}/assignment"),
         Doc("The case's assignment", schemas.AssignmentView, not_found=NO_CASE,
             conflict="the case could not be assigned (the reason is said)")),
        (("GET", "/mediators"),
         Doc("The mediator roster (调解员名册): who is listed, and who takes a case today",
             schemas.RosterView, query=schemas.RosterQuery)),
        *(route_of(body, response=schemas.AssignmentView, idempotent=True,
                   not_found=NO_CASE, conflict=REFUSED)
          for body in (schemas.ExtensionBody, schemas.ReassignmentBody,
                       schemas.JointHandlingBody)),
    ]),
)
