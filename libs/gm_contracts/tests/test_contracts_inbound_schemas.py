"""CONTRACT §3 data schemas, rule by rule: referral, handoff_reply, confirmation_ruling."""
import pytest
from marshmallow import ValidationError

from gm_contracts import (
    CATEGORIES,
    ConfirmationRulingData,
    HandoffReplyData,
    ReferralData,
    inbound_schema,
)
from gm_contracts.fields import flatten_errors
from gm_contracts.testing import REFERRAL_KIND as KIND
from gm_contracts.testing import VALID_RESIDENT_ID as VALID_ID
from gm_contracts.testing import inbound_data
from gm_contracts.testing import valid_resident_id as resident_id


def referral(**changes) -> dict:
    data = inbound_data("court")
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def errors(schema, data) -> dict:
    with pytest.raises(ValidationError) as info:
        schema.load(data)
    return flatten_errors(info.value.messages)


COURT = ReferralData(agency="court")


class TestReferral:
    def test_valid_referral_is_normalised(self):
        loaded = COURT.load(referral(parties=[{"role": "applicant", "name": "张三", "id_number": VALID_ID[:17] + VALID_ID[17].lower()}]))
        assert loaded["headcount"] == 1
        assert loaded["requested_days"] is None
        assert loaded["procedure"] is None
        assert loaded["parties"] == [{"role": "applicant", "name": "张三", "id_number": VALID_ID.upper(), "phone": None}]

    def test_unknown_agency(self):
        with pytest.raises(ValueError):
            ReferralData(agency="army")

    @pytest.mark.parametrize("agency, kinds", [
        ("court", ["delegated", "entrusted"]), ("police", ["minor_dispute"]),
        ("procuratorate", ["criminal_reconciliation"]), ("petition", ["petition"]),
    ])
    def test_kind_is_allowed_per_agency(self, agency, kinds):
        schema = ReferralData(agency=agency)
        for kind in kinds:
            assert schema.load(referral(kind=kind))["kind"] == kind
        for other in {k for ks in KIND.values() for k in [ks]} | {"entrusted", "delegated", "x"}:
            if other not in kinds:
                assert "kind" in errors(schema, referral(kind=other))

    def test_kind_choices_do_not_leak_between_instances(self):
        ReferralData(agency="police")
        assert COURT.load(referral(kind="entrusted"))["kind"] == "entrusted"
        assert "kind" in errors(ReferralData(agency="police"), referral(kind="entrusted"))

    def test_entrusted_defaults_to_ordinary_procedure(self):
        assert COURT.load(referral(kind="entrusted"))["procedure"] == "ordinary"
        assert COURT.load(referral(kind="entrusted", procedure=None))["procedure"] == "ordinary"
        assert COURT.load(referral(kind="entrusted", procedure="simplified"))["procedure"] == "simplified"

    def test_procedure_values(self):
        assert errors(COURT, referral(kind="entrusted", procedure="summary")) == {
            "procedure": ["Must be one of: ordinary, simplified."]}

    @pytest.mark.parametrize("agency", ["court", "police"])
    def test_procedure_only_for_court_entrusted(self, agency):
        data = referral(kind=KIND[agency], procedure="ordinary")
        assert errors(ReferralData(agency=agency), data) == {
            "procedure": ["Only allowed on court entrusted referrals."]}

    def test_non_entrusted_referral_has_no_procedure(self):
        assert ReferralData(agency="police").load(referral(kind="minor_dispute"))["procedure"] is None

    def test_all_sixteen_categories(self):
        assert len(CATEGORIES) == 16
        for category in CATEGORIES:
            assert COURT.load(referral(category=category))["category"] == category
        assert list(errors(COURT, referral(category="Neighbour"))) == ["category"]

    @pytest.mark.parametrize("field, good, bad", [
        ("referral_id", ["r", "x" * 64], ["", "x" * 65, "   ", 7, None]),
        ("summary", ["s", "长" * 4000], ["", "s" * 4001, "\n\t", ["s"]]),
        ("region", ["410611", "410611001", "410611001002"], ["41061", "4106110", "41061a", "410611\n", 410611]),
        ("headcount", [1, 5, 100000], [0, 100001, "5", 5.0, True, None, -1]),
        ("requested_days", [1, 365, None], [0, 366, "30", 30.5, False]),
    ])
    def test_field_bounds(self, field, good, bad):
        for value in good:
            assert COURT.load(referral(**{field: value}))[field] == value
        for value in bad:
            assert list(errors(COURT, referral(**{field: value}))) == [field], value

    @pytest.mark.parametrize("field", ["referral_id", "kind", "category", "summary", "region", "parties"])
    def test_required(self, field):
        assert errors(COURT, referral(**{field: ...})) == {field: ["Missing data for required field."]}

    def test_unknown_field_is_rejected(self):
        assert errors(COURT, referral(priority="high")) == {"priority": ["Unknown field."]}

    def test_parties_length(self):
        applicant = {"role": "applicant", "name": "a"}
        assert len(COURT.load(referral(parties=[applicant] * 50))["parties"]) == 50
        assert errors(COURT, referral(parties=[])) == {"parties": ["Length must be between 1 and 50."]}
        assert errors(COURT, referral(parties=[applicant] * 51)) == {"parties": ["Length must be between 1 and 50."]}

    def test_too_many_bad_parties_give_one_error(self):
        assert errors(COURT, referral(parties=[1] * 5000)) == {"parties": ["Length must be between 1 and 50."]}

    def test_at_least_one_applicant(self):
        assert errors(COURT, referral(parties=[{"role": "respondent", "name": "a"}])) == {
            "parties": ["At least one party must be an applicant."]}

    @pytest.mark.parametrize("party, field", [
        ({"role": "witness", "name": "a"}, "role"),
        ({"name": "a"}, "role"),
        ({"role": "applicant"}, "name"),
        ({"role": "applicant", "name": ""}, "name"),
        ({"role": "applicant", "name": "a" * 101}, "name"),
        ({"role": "applicant", "name": "a", "id_number": VALID_ID[:17] + ("0" if VALID_ID[17] != "0" else "1")}, "id_number"),
        ({"role": "applicant", "name": "a", "id_number": "123"}, "id_number"),
        ({"role": "applicant", "name": "a", "id_number": resident_id("41061119801301123")}, "id_number"),
        ({"role": "applicant", "name": "a", "phone": "call me"}, "phone"),
        ({"role": "applicant", "name": "a", "phone": "1" * 33}, "phone"),
        ({"role": "applicant", "name": "a", "phone": "---"}, "phone"),
        ({"role": "applicant", "name": "a", "phone": 13800000000}, "phone"),
        ({"role": "applicant", "name": "a", "email": "a@b"}, "email"),
    ])
    def test_party_rules(self, party, field):
        data = referral(parties=[{"role": "applicant", "name": "ok"}, party])
        assert list(errors(COURT, data)) == [f"parties.1.{field}"]

    def test_party_not_an_object(self):
        assert errors(COURT, referral(parties=["张三"])) == {"parties.0": ["Invalid input type."]}

    def test_party_optional_fields(self):
        loaded = COURT.load(referral(parties=[{"role": "applicant", "name": "a", "id_number": None, "phone": None}]))
        assert loaded["parties"][0] == {"role": "applicant", "name": "a", "id_number": None, "phone": None}
        assert COURT.load(referral(parties=[{"role": "applicant", "name": "a", "phone": "0371-1234 5678"}]))


class TestHandoffReply:
    schema = HandoffReplyData()

    def test_valid(self):
        assert self.schema.load({"handoff_id": "H", "decision": "rejected", "reason": "outside jurisdiction"}) == {
            "handoff_id": "H", "decision": "rejected", "agency_case_number": None, "reason": "outside jurisdiction"}

    @pytest.mark.parametrize("data, field", [
        ({"decision": "accepted"}, "handoff_id"),
        ({"handoff_id": "", "decision": "accepted"}, "handoff_id"),
        ({"handoff_id": "h" * 65, "decision": "accepted"}, "handoff_id"),
        ({"handoff_id": "H"}, "decision"),
        ({"handoff_id": "H", "decision": "maybe"}, "decision"),
        ({"handoff_id": "H", "decision": "accepted", "agency_case_number": "n" * 65}, "agency_case_number"),
        ({"handoff_id": "H", "decision": "accepted", "reason": "r" * 2001}, "reason"),
        ({"handoff_id": "H", "decision": "accepted", "reason": 5}, "reason"),
        ({"handoff_id": "H", "decision": "accepted", "extra": 1}, "extra"),
    ])
    def test_invalid(self, data, field):
        assert list(errors(self.schema, data)) == [field]


class TestConfirmationRuling:
    schema = ConfirmationRulingData()

    @pytest.mark.parametrize("confirmed", [True, False])
    def test_valid(self, confirmed):
        assert self.schema.load({"handoff_id": "H", "confirmed": confirmed})["confirmed"] is confirmed

    @pytest.mark.parametrize("confirmed", [1, 0, "true", "false", "yes", None, [], {}])
    def test_confirmed_is_a_real_boolean(self, confirmed):
        assert list(errors(self.schema, {"handoff_id": "H", "confirmed": confirmed})) == ["confirmed"]

    def test_ruling_number_and_reason_bounds(self):
        assert list(errors(self.schema, {"handoff_id": "H", "confirmed": True, "ruling_number": "n" * 65})) == ["ruling_number"]
        assert list(errors(self.schema, {"handoff_id": "H", "confirmed": False, "reason": "r" * 2001})) == ["reason"]


class TestInboundSchemaLookup:
    def test_confirmation_ruling_is_court_only(self):
        assert isinstance(inbound_schema("court", "confirmation_ruling"), ConfirmationRulingData)
        for agency in ("police", "procuratorate", "petition"):
            with pytest.raises(KeyError):
                inbound_schema(agency, "confirmation_ruling")

    def test_unknown_type_and_version(self):
        with pytest.raises(KeyError):
            inbound_schema("court", "referral_accepted")
        with pytest.raises(KeyError):
            inbound_schema("court", "referral", 2)

    def test_referral_schema_is_per_agency(self):
        assert inbound_schema("police", "referral").agency == "police"
