"""Every service publishes /openapi.json: each route it serves with its auth, roles,
request schemas and refusals, generated from its @api decorators and the schemas that
validate its requests (gm_platform.openapi). The running documents are fuzzed in
tests/test_http_fuzz.py."""
from __future__ import annotations

import pytest
import schemathesis

from gm_platform.openapi import document, served_routes
from gm_platform.serve import load_service_class

SERVICES = ("intake", "assignment", "mediation", "reporting")


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_is_documented_with_its_auth_and_refusals(name):
    cls = load_service_class(name)
    doc = document(cls)
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.0 meta-schema
    routes = list(served_routes(cls))
    assert {(m, p) for m, p, _, _ in routes} == {
        (m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for method, path, _, handler in routes:
        op = doc["paths"][path][method.lower()]
        responses = set(op["responses"])
        if handler.public:
            assert op["security"] == [], path
        else:
            assert op["security"] == [{"bearer": []}] and "401" in responses, path
            assert op["x-roles"] == (list(handler.roles) or ["any"]), path
            assert ("403" in responses) == bool(handler.roles), path
        if "requestBody" in op:
            assert {"400", "413"} <= responses, path
        if "{case_id}" in path:
            assert "404" in responses, path
        if method == "POST":
            assert "409" in responses and "requestBody" in op, path
