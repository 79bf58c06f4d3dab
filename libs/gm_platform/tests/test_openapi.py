"""The OpenAPI generator: routes from the @api decorators, the rest from a Doc per route;
a route served without a Doc, or documented without being served, is an error."""
from __future__ import annotations

import pytest
from marshmallow import RAISE, Schema, fields

from gm_platform.base import PlatformService
from gm_platform.http import api
from gm_platform.openapi import Api, Doc, UndocumentedRoute, document, route_of


class Body(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(required=True)


class Answer(Schema):
    case_id = fields.String(required=True)


def service(routes):
    class Service(PlatformService):
        name = "example"
        http_api = Api("example", "An example.", routes)

        @api("POST", "/cases/<case_id>/notes", roles=("mediator", "leader"))
        def note(self, request, principal, case_id):
            return {"case_id": case_id}

    return Service


NOTE = Doc("Add a note", Answer, status=201, body=Body, idempotent=True,
           not_found="no such case", conflict="closed")


def test_each_route_with_its_auth_roles_body_and_refusals():
    doc = document(service({("POST", "/cases/{case_id}/notes"): NOTE}))
    note = doc["paths"]["/cases/{case_id}/notes"]["post"]
    assert note["security"] == [{"bearer": []}] and note["x-roles"] == ["mediator", "leader"]
    assert set(note["responses"]) == {"201", "400", "401", "403", "404", "409", "413", "422"}
    assert note["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Body"}
    assert doc["components"]["schemas"]["Body"]["additionalProperties"] is False
    params = {(p["in"], p["name"]) for p in note["parameters"]}
    assert params == {("path", "case_id"), ("header", "Idempotency-Key")}
    # what every service serves: health, liveness and metrics without a token
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert set(doc["paths"]["/health"]["get"]["responses"]) == {"200", "503"}
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert doc["paths"]["/openapi.json"]["get"]["x-roles"] == ["any"]
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http",
                                                              "scheme": "bearer"}


def test_a_route_served_without_a_doc_or_documented_without_being_served_is_an_error():
    with pytest.raises(UndocumentedRoute, match="POST /cases/{case_id}/notes"):
        document(service({}))
    with pytest.raises(UndocumentedRoute, match="GET /nowhere"):
        document(service({("POST", "/cases/{case_id}/notes"): NOTE,
                          ("GET", "/nowhere"): Doc("Nothing")}))


def test_a_command_takes_its_route_and_summary_from_its_body_schema():
    class Held(Schema):
        """`POST /cases/{case_id}/sessions`: a mediation session held, on the
        day given.

        More that is not the summary."""

    assert route_of(Held, conflict="closed") == (
        ("POST", "/cases/{case_id}/sessions"),
        Doc("A mediation session held, on the day given.", body=Held, conflict="closed"))
    with pytest.raises(ValueError, match="Body's docstring"):
        route_of(Body)
