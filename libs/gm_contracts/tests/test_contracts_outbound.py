"""CONTRACT §4 outbound schemas, make_envelope and the AMQP encoding helpers."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gm_contracts import (
    AGENCIES,
    HANDOFF_KINDS,
    OUTCOMES,
    Envelope,
    InvalidMessage,
    encode_envelope,
    make_envelope,
    message_properties,
    outbound_queue,
    outbound_schema,
    parse_rfc3339,
)
from gm_contracts.testing import VALID_RESIDENT_ID as VALID_ID

HANDOFF = {
    "handoff_id": "H-1", "case_id": "c-1", "case_number": "GM-2026-0001", "kind": "judicial_confirmation",
    "summary": "Agreement reached on the shared wall.",
    "parties": [{"role": "applicant", "name": "张三", "id_number": VALID_ID}],
    "agreement": {"terms": "rebuild the wall", "signed_on": "2026-03-01"},
    "due_at": "2026-03-31T00:00:00Z",
}
OUTCOME = {"referral_id": "R-1", "case_id": "c-1", "outcome": "agreement", "closed_at": "2026-03-02T10:00:00Z",
           "summary": "Settled."}


def invalid(type, agency, data) -> dict:
    with pytest.raises(InvalidMessage) as info:
        make_envelope(type, agency, data)
    assert isinstance(info.value, ValueError)
    return info.value.errors


class TestMakeEnvelope:
    def test_shape(self):
        env = make_envelope("referral_accepted", "police",
                            {"referral_id": "R-1", "case_id": "c-1", "case_number": "GM-1"})
        assert set(env) == {"id", "type", "version", "sent_at", "agency", "data"}
        assert uuid.UUID(env["id"]).version == 4
        assert env["sent_at"].endswith("Z")
        assert abs(parse_rfc3339(env["sent_at"]) - datetime.now(timezone.utc)) < timedelta(seconds=5)
        assert (env["type"], env["version"], env["agency"]) == ("referral_accepted", 1, "police")
        # The suite's envelopes satisfy the same envelope schema as the agencies'.
        assert Envelope().load(env)["id"] == env["id"]

    def test_new_id_every_time(self):
        data = {"referral_id": "R-1", "case_id": "c-1", "case_number": "GM-1"}
        assert make_envelope("referral_accepted", "court", data)["id"] != make_envelope("referral_accepted", "court", data)["id"]

    def test_blank_text_is_refused(self):
        assert invalid("referral_accepted", "court", {"referral_id": "  ", "case_id": "c", "case_number": "n"}) == {
            "referral_id": ["Must not be blank."]}

    def test_unknown_agency_and_type(self):
        assert list(invalid("referral_accepted", "army", {})) == ["agency"]
        assert list(invalid("referral", "court", {})) == ["type"]

    def test_invalid_data_raises_value_error_with_field_errors(self):
        assert invalid("referral_accepted", "court", {"referral_id": "R-1", "case_id": ""}) == {
            "case_id": ["Length must be between 1 and 64."],
            "case_number": ["Missing data for required field."],
        }

    def test_encoding_and_properties(self):
        env = make_envelope("case_outcome", "petition", OUTCOME)
        assert json.loads(encode_envelope(env).decode("utf-8")) == env
        assert message_properties(env) == {"message_id": env["id"], "content_type": "application/json",
                                           "content_encoding": "utf-8", "delivery_mode": 2}
        assert outbound_queue("petition") == "gm.outbound.petition"


class TestHandoffRequested:
    @pytest.mark.parametrize("agency", AGENCIES)
    def test_kind_per_agency(self, agency):
        for kind in HANDOFF_KINDS[agency]:
            assert make_envelope("handoff_requested", agency, dict(HANDOFF, kind=kind))["data"]["kind"] == kind
        others = {k for kinds in HANDOFF_KINDS.values() for k in kinds} - set(HANDOFF_KINDS[agency])
        for kind in others:
            assert list(invalid("handoff_requested", agency, dict(HANDOFF, kind=kind))) == ["kind"]

    def test_court_kinds(self):
        assert HANDOFF_KINDS["court"] == ("judicial_confirmation", "litigation")

    def test_agreement_may_be_null_or_omitted(self):
        assert make_envelope("handoff_requested", "court", dict(HANDOFF, agreement=None))["data"]["agreement"] is None
        data = {k: v for k, v in HANDOFF.items() if k != "agreement"}
        assert make_envelope("handoff_requested", "court", data)["data"]["agreement"] is None
        assert list(invalid("handoff_requested", "court", dict(HANDOFF, agreement="signed"))) == ["agreement"]

    def test_due_at_is_rfc3339_and_datetimes_are_formatted(self):
        assert list(invalid("handoff_requested", "court", dict(HANDOFF, due_at="2026-03-31"))) == ["due_at"]
        assert list(invalid("handoff_requested", "court", dict(HANDOFF, due_at=datetime(2026, 3, 31)))) == ["due_at"]
        due = datetime(2026, 3, 31, 8, tzinfo=timezone(timedelta(hours=8)))
        assert make_envelope("handoff_requested", "court", dict(HANDOFF, due_at=due))["data"]["due_at"] == \
            "2026-03-31T00:00:00.000000Z"

    def test_parties_are_checked(self):
        bad = dict(HANDOFF, parties=[{"role": "applicant", "name": "a", "id_number": "123"}])
        assert list(invalid("handoff_requested", "court", bad)) == ["parties.0.id_number"]
        assert list(invalid("handoff_requested", "court", dict(HANDOFF, parties=[]))) == ["parties"]


class TestCaseOutcome:
    @pytest.mark.parametrize("outcome", OUTCOMES)
    def test_outcomes(self, outcome):
        assert make_envelope("case_outcome", "court", dict(OUTCOME, outcome=outcome))["data"]["outcome"] == outcome

    def test_outcome_values(self):
        assert OUTCOMES == ("agreement", "confirmed", "failed", "withdrawn", "handed_off")
        assert list(invalid("case_outcome", "court", dict(OUTCOME, outcome="resolved"))) == ["outcome"]

    def test_closed_at(self):
        assert list(invalid("case_outcome", "court", dict(OUTCOME, closed_at="today"))) == ["closed_at"]


class TestRejected:
    def test_nullable_ids(self):
        data = {"message_id": None, "type": "referral", "referral_id": None, "errors": {"body": ["Not JSON."]}}
        assert make_envelope("rejected", "court", data)["data"] == data

    def test_errors_shape(self):
        data = {"message_id": "m", "type": "referral", "referral_id": None, "errors": {"body": "Not JSON."}}
        assert list(invalid("rejected", "court", data)) == ["errors.body.value"]

    def test_all_fields_required(self):
        assert sorted(invalid("rejected", "court", {})) == ["errors", "message_id", "referral_id", "type"]


def test_unknown_fields_rejected_on_outbound_too():
    assert invalid("case_outcome", "court", dict(OUTCOME, secret="x")) == {"secret": ["Unknown field."]}


def test_outbound_schema_lookup():
    assert outbound_schema("court", "handoff_requested").agency == "court"
    for args in (("court", "referral"), ("army", "rejected"), ("court", "rejected", 2)):
        with pytest.raises(KeyError):
            outbound_schema(*args)
