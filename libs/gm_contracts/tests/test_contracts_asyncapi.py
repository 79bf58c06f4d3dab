"""The AsyncAPI document: content, determinism, the CLI, and that docs/asyncapi.yaml is current."""
import json
import textwrap
from pathlib import Path

import pytest
import yaml

from gm_contracts import AGENCIES, INBOUND_TYPES, OUTBOUND_TYPES, parse_inbound
from gm_contracts.asyncapi import build_asyncapi, example_inbound, generate_asyncapi, main
from gm_contracts.registry import unregister_event

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def doc() -> dict:
    return build_asyncapi()


def resolve(document: dict, ref: str):
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_docs_asyncapi_yaml_is_up_to_date():
    assert DOC.exists(), "docs/asyncapi.yaml is missing: run `make contracts`"
    assert DOC.read_text(encoding="utf-8") == generate_asyncapi(), (
        "docs/asyncapi.yaml is out of date with the gm_contracts schemas: run `make contracts`")


def test_output_is_deterministic():
    assert generate_asyncapi() == generate_asyncapi()


def test_header_and_server(doc):
    assert doc["asyncapi"] == "2.6.0"
    assert doc["servers"]["broker"]["protocol"] == "amqp"
    assert doc["defaultContentType"] == "application/json"


def test_every_reference_resolves(doc):
    for ref in refs(doc):
        assert resolve(doc, ref) is not None, ref


def test_inbound_channels(doc):
    expected = {f"{a}.{t}" for a in AGENCIES for t in INBOUND_TYPES[a]}
    assert "court.confirmation_ruling" in expected and "police.confirmation_ruling" not in expected
    for key in expected:
        channel = doc["channels"][key]
        assert "publish" in channel and "subscribe" not in channel
        binding = channel["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        assert binding["exchange"] == {"name": "gm.inbound", "type": "topic", "durable": True,
                                       "autoDelete": False, "vhost": "/"}
    assert not any(k.endswith(".confirmation_ruling") for k in doc["channels"] if not k.startswith("court."))


def test_outbound_channels(doc):
    for agency in AGENCIES:
        for type in OUTBOUND_TYPES:
            channel = doc["channels"][f"{agency}.{type}"]
            assert "subscribe" in channel and "publish" not in channel
            binding = channel["bindings"]["amqp"]
            assert binding["exchange"]["name"] == "gm.outbound" and binding["exchange"]["type"] == "topic"
            assert binding["queue"]["name"] == f"gm.outbound.{agency}" and binding["queue"]["durable"] is True


def test_message_payload_is_envelope_with_typed_data(doc):
    message = resolve(doc, doc["channels"]["police.referral"]["publish"]["message"]["$ref"])
    envelope_ref, specific = message["payload"]["allOf"]
    assert envelope_ref == {"$ref": "#/components/schemas/Envelope"}
    assert specific["properties"]["type"] == {"const": "referral"}
    assert specific["properties"]["agency"] == {"const": "police"}
    data = resolve(doc, specific["properties"]["data"]["$ref"])
    assert data["properties"]["kind"]["enum"] == ["minor_dispute"]
    assert data["additionalProperties"] is False
    assert resolve(doc, "#/components/schemas/CourtReferralData")["properties"]["kind"]["enum"] == [
        "delegated", "entrusted"]


def test_envelope_schema(doc):
    envelope = doc["components"]["schemas"]["Envelope"]
    assert sorted(envelope["required"]) == ["agency", "data", "id", "sent_at", "type", "version"]
    assert envelope["properties"]["version"]["enum"] == [1]
    assert envelope["properties"]["sent_at"]["format"] == "date-time"


def test_handoff_kinds_per_agency(doc):
    schemas = doc["components"]["schemas"]
    assert schemas["CourtHandoffRequestedData"]["properties"]["kind"]["enum"] == ["judicial_confirmation", "litigation"]
    assert schemas["PoliceHandoffRequestedData"]["properties"]["kind"]["enum"] == ["public_security"]


def test_examples_are_admitted(doc):
    for key, message in doc["components"]["messages"].items():
        for example in message.get("examples", []):
            parse_inbound(key, json.dumps(example["payload"]).encode(), example["payload"]["id"])
    assert example_inbound("court", "referral")["data"]["kind"] == "delegated"


def test_registered_domain_events_are_included(tmp_path, monkeypatch):
    module = tmp_path / "gm_contracts_test_events.py"
    module.write_text(textwrap.dedent('''
        from marshmallow import Schema, fields
        from gm_contracts import register_event

        @register_event("testsvc", "case_registered")
        class CaseRegistered(Schema):
            """A case was registered (登记)."""
            case_id = fields.String(required=True)

        @register_event("testsvc", "case_closed", 2)
        class CaseClosed(Schema):
            case_id = fields.String(required=True)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        doc = build_asyncapi(["gm_contracts_test_events"])
    finally:
        unregister_event("testsvc", "case_registered")
        unregister_event("testsvc", "case_closed", 2)
    channel = doc["channels"]["testsvc.events"]
    assert channel["bindings"]["amqp"]["exchange"]["name"] == "testsvc.events"
    assert channel["subscribe"]["message"]["oneOf"] == [
        {"$ref": "#/components/messages/testsvc.case_closed.v2"},
        {"$ref": "#/components/messages/testsvc.case_registered.v1"},
    ]
    schema = doc["components"]["schemas"]["testsvc.case_registered.v1"]
    assert schema["required"] == ["case_id"] and schema["description"] == "A case was registered (登记)."
    assert "testsvc.events" not in build_asyncapi()["channels"]


class TestCli:
    def test_out_then_check(self, tmp_path, capsys):
        path = tmp_path / "docs" / "asyncapi.yaml"
        assert main(["--out", str(path)]) == 0
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["asyncapi"] == "2.6.0"
        assert main(["--check", str(path)]) == 0

    def test_check_fails_on_stale_or_missing_file(self, tmp_path, capsys):
        path = tmp_path / "asyncapi.yaml"
        assert main(["--check", str(path)]) == 1
        path.write_text("asyncapi: 2.0.0\n", encoding="utf-8")
        assert main(["--check", str(path)]) == 1
        assert "make contracts" in capsys.readouterr().err

    def test_prints_without_options(self, capsys):
        assert main([]) == 0
        assert capsys.readouterr().out == generate_asyncapi()

    def test_out_and_check_are_exclusive(self, tmp_path):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path / "a"), "--check", str(tmp_path / "b")])
