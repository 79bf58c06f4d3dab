"""load_body: any body is a dict the schema loaded, or a 400 naming the fields at fault
whose answer can always be sent."""
from __future__ import annotations

import json

import pytest
from marshmallow import Schema, fields
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gm_platform.http import BadRequest, json_response, load_body


class Reassignment(Schema):
    unit = fields.String()
    participants = fields.List(fields.String())


def post(raw: bytes) -> Request:
    return Request(EnvironBuilder(method="POST", data=raw,
                                  content_type="application/json").get_environ())


@pytest.mark.parametrize("raw,errors", [
    # Found by fuzzing (tests/test_http_fuzz.py): a lone surrogate escape is valid JSON;
    # it was loaded, echoed in a 409 ("unit \ud800 is not in the directory") and the
    # answer could not be encoded: a bare 500.
    (b'{"unit": "x\\ud800"}', {"unit"}),
    (b'{"participants": ["a", "\\udfff"]}', {"participants.1"}),
    (b'{"\\ud800": 1}', {"?"}),
])
def test_text_that_is_not_utf8_is_refused_by_field(raw, errors):
    with pytest.raises(BadRequest) as refused:
        load_body(post(raw), Reassignment())
    assert set(refused.value.errors) == errors
    answer = json_response(refused.value.body(), refused.value.status)
    assert json.loads(answer.get_data())["errors"].keys() == errors


def test_paired_surrogates_are_text():
    assert load_body(post(b'{"unit": "\\ud83d\\ude00"}'), Reassignment()) == {"unit": "😀"}
