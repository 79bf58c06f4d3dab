"""Generate the AsyncAPI 2.6 document from the same schemas that validate the messages.

    python -m gm_contracts.asyncapi                 # print the YAML
    python -m gm_contracts.asyncapi --out PATH      # write it
    python -m gm_contracts.asyncapi --check PATH    # exit 1 if PATH is not up to date

apispec's MarshmallowPlugin turns each schema into JSON Schema. The output is
deterministic (sorted keys, fixed examples, no timestamps) so it can be checked in
and compared.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from .envelope import AGENCIES, CONTENT_TYPE, INBOUND_EXCHANGE, OUTBOUND_EXCHANGE, PERSISTENT, Envelope, outbound_queue
from .inbound import INBOUND_TYPES, inbound_schema
from .outbound import OUTBOUND_TYPES, outbound_schema
from .registry import EVENT_MODULES, DomainEventRecord, all_events

ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.2.0"
_REF = "#/components/schemas/"

# Fixed example data: the document must not change from run to run.
_EXAMPLE_ID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
_EXAMPLE_SENT_AT = "2026-01-31T08:00:00Z"
_EXAMPLE_DATA: dict[str, dict[str, Any]] = {
    "referral": {
        "referral_id": "R-2026-0001",
        "category": "neighbour",
        "summary": "Dispute over a shared wall between neighbouring homesteads.",
        "region": "410611",
        "parties": [
            {"role": "applicant", "name": "张三", "id_number": "11010519491231002X", "phone": "13800000000"},
            {"role": "respondent", "name": "李四"},
        ],
        "headcount": 2,
    },
    "handoff_reply": {"handoff_id": "H-0001", "decision": "accepted", "agency_case_number": "(2026)豫0611民特1号"},
    "confirmation_ruling": {"handoff_id": "H-0001", "confirmed": True, "ruling_number": "(2026)豫0611民特1号"},
}
_EXAMPLE_KIND = {"court": "delegated", "procuratorate": "criminal_reconciliation",
                 "police": "minor_dispute", "petition": "petition"}


def example_inbound(agency: str, type: str) -> dict:
    """A valid inbound envelope, as shown in the document (tests check it is admitted)."""
    data = dict(_EXAMPLE_DATA[type])
    if type == "referral":
        data["kind"] = _EXAMPLE_KIND[agency]
    return {"id": _EXAMPLE_ID, "type": type, "version": 1, "sent_at": _EXAMPLE_SENT_AT,
            "agency": agency, "data": data}


def _doc(schema: Schema | type) -> str:
    """The first paragraph of a schema's docstring, on one line."""
    text = (schema.__doc__ or "").strip().split("\n\n", 1)[0]
    return " ".join(text.split())


def _exchange(name: str) -> dict:
    return {"name": name, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}


class _Schemas:
    """Collects JSON Schemas for components.schemas via apispec's converter."""

    def __init__(self) -> None:
        self.plugin = MarshmallowPlugin()
        # OpenAPI 3.1 output is JSON Schema proper (nullable as a "null" type), which is
        # what AsyncAPI 2.6 payloads use.
        self.spec = APISpec(title="gm", version="1", openapi_version="3.1.0", plugins=[self.plugin])
        self.own: dict[str, dict] = {}

    def add(self, name: str, schema: Schema) -> dict:
        json_schema = self.plugin.converter.schema2jsonschema(schema)
        description = _doc(schema)
        if description:
            json_schema["description"] = description
        self.own[name] = json_schema
        return {"$ref": _REF + name}

    def components(self) -> dict:
        nested = self.spec.to_dict().get("components", {}).get("schemas", {})
        clash = set(nested) & set(self.own)
        if clash:
            raise RuntimeError(f"schema names used twice: {sorted(clash)}")
        return {**nested, **self.own}


def _message(name: str, summary: str, payload: dict, message_type: str, examples: list | None = None) -> dict:
    message = {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "payload": payload,
        "bindings": {"amqp": {"messageType": message_type, "contentEncoding": "utf-8",
                              "bindingVersion": AMQP_BINDING_VERSION}},
    }
    if examples:
        message["examples"] = examples
    return message


def _enveloped(envelope_ref: dict, type: str, agency: str, data_ref: dict) -> dict:
    return {"allOf": [envelope_ref, {
        "type": "object",
        "properties": {"type": {"const": type}, "agency": {"const": agency}, "data": data_ref},
    }]}


def _data_schema_name(agency: str, type: str) -> str:
    # Schemas whose rules depend on the agency get one component per agency.
    per_agency = type in ("referral", "handoff_requested")
    base = type.title().replace("_", "") + "Data"
    return agency.title() + base if per_agency else base


def build_asyncapi(extra_modules: Iterable[str] = ()) -> dict:
    """The AsyncAPI document as a dict; imports EVENT_MODULES and `extra_modules` first."""
    for module in [*EVENT_MODULES, *extra_modules]:
        importlib.import_module(module)  # registers the module's domain events

    schemas = _Schemas()
    envelope_ref = schemas.add("Envelope", Envelope())
    channels: dict[str, dict] = {}
    messages: dict[str, dict] = {}
    data_refs: dict[str, dict] = {}

    def data_ref(agency: str, type: str, schema: Schema) -> dict:
        name = _data_schema_name(agency, type)
        if name not in data_refs:
            data_refs[name] = schemas.add(name, schema)
        return data_refs[name]

    for agency in AGENCIES:
        for type in INBOUND_TYPES[agency]:
            key = f"{agency}.{type}"
            schema = inbound_schema(agency, type)
            messages[key] = _message(
                key, _doc(schema), _enveloped(envelope_ref, type, agency, data_ref(agency, type, schema)),
                type, examples=[{"name": "example", "payload": example_inbound(agency, type)}],
            )
            channels[key] = {
                "description": f"{agency} publishes `{type}` to `{INBOUND_EXCHANGE}` with routing key `{key}`.",
                "bindings": {"amqp": {"is": "routingKey", "exchange": _exchange(INBOUND_EXCHANGE),
                                      "bindingVersion": AMQP_BINDING_VERSION}},
                "publish": {
                    "operationId": f"{agency}_{type}",
                    "summary": f"The suite receives {agency} {type} messages.",
                    "bindings": {"amqp": {"deliveryMode": PERSISTENT, "bindingVersion": AMQP_BINDING_VERSION}},
                    "message": {"$ref": f"#/components/messages/{key}"},
                },
            }
        for type in OUTBOUND_TYPES:
            key = f"{agency}.{type}"
            schema = outbound_schema(agency, type)
            messages[key] = _message(
                key, _doc(schema), _enveloped(envelope_ref, type, agency, data_ref(agency, type, schema)), type,
            )
            queue = outbound_queue(agency)
            channels[key] = {
                "description": (f"The suite publishes `{type}` to `{OUTBOUND_EXCHANGE}` with routing key "
                                f"`{key}`; {agency} consumes it from queue `{queue}` (bound with `{agency}.#`)."),
                "bindings": {"amqp": {
                    "is": "routingKey",
                    "exchange": _exchange(OUTBOUND_EXCHANGE),
                    "queue": {"name": queue, "durable": True, "exclusive": False, "autoDelete": False, "vhost": "/"},
                    "bindingVersion": AMQP_BINDING_VERSION,
                }},
                "subscribe": {
                    "operationId": f"{agency}_{type}",
                    "summary": f"{agency} receives {type} messages.",
                    "bindings": {"amqp": {"deliveryMode": PERSISTENT, "bindingVersion": AMQP_BINDING_VERSION}},
                    "message": {"$ref": f"#/components/messages/{key}"},
                },
            }

    events_by_service: dict[str, list[dict]] = {}
    record_ref = schemas.add("DomainEventRecord", DomainEventRecord())
    for (service, type, version), schema_cls in all_events().items():
        key = f"{service}.{type}.v{version}"
        payload = {"allOf": [record_ref, {"type": "object", "properties": {
            "type": {"const": type}, "schema_version": {"const": version},
            "data": schemas.add(key, schema_cls())}}]}
        messages[key] = _message(key, _doc(schema_cls), payload, type)
        events_by_service.setdefault(service, []).append({"$ref": f"#/components/messages/{key}"})
    for service, refs in events_by_service.items():
        exchange = f"{service}.events"
        channels[exchange] = {
            "description": f"Internal domain events of {service}; routing key is the event type.",
            "bindings": {"amqp": {"is": "routingKey", "exchange": _exchange(exchange),
                                  "bindingVersion": AMQP_BINDING_VERSION}},
            "subscribe": {
                "operationId": f"{service}_events",
                "summary": f"Services consume {service}'s domain events.",
                "message": refs[0] if len(refs) == 1 else {"oneOf": refs},
            },
        }

    component_schemas = schemas.components()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:gm:grand-mediation-linkage",
        "info": {
            "title": "Grand Mediation Linkage (大调解) agency messaging",
            "version": "1",
            "description": (
                "Messages between the grand-mediation suite and the linked agencies (court, "
                "procuratorate, police, petition bureau) over RabbitMQ, and the suite's internal "
                "domain events. Every message is a JSON envelope (UTF-8), content type "
                "application/json, persistent, with the AMQP message_id property equal to the "
                "envelope id. Invalid inbound messages are answered with <agency>.rejected; "
                "errors name data fields by their path inside data (e.g. parties.0.id_number), "
                "envelope fields as envelope.<field>, and body, routing_key, message_id and "
                "content_type for transport problems. Generated from gm_contracts; do not edit."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "broker": {
                "url": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ; each agency connects with its own user.",
                "variables": {"host": {"default": "localhost"}, "port": {"default": "5672"}},
                "security": [{"agencyUser": []}],
            },
        },
        "channels": channels,
        "components": {
            "schemas": component_schemas,
            "messages": messages,
            "securitySchemes": {
                "agencyUser": {
                    "type": "userPassword",
                    "description": ("Per-agency broker user: may publish only to gm.inbound with routing "
                                    "keys starting <agency>., consume only from gm.outbound.<agency>."),
                },
            },
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    """Writes shared sub-objects out in full instead of as YAML anchors (&id001)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def generate_asyncapi(extra_modules: Iterable[str] = ()) -> str:
    """The AsyncAPI document as YAML text (deterministic)."""
    document = build_asyncapi(extra_modules)
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=True, allow_unicode=True,
                     default_flow_style=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gm_contracts.asyncapi", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--out", type=Path, help="write the document to this file")
    mode.add_argument("--check", type=Path, help="exit 1 if this file differs from the generated document")
    parser.add_argument("--module", action="append", default=[],
                        help="also import this module (registers domain events); repeatable")
    args = parser.parse_args(argv)

    text = generate_asyncapi(args.module)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = args.check.read_text(encoding="utf-8") if args.check.exists() else None
        if current != text:
            print(f"{args.check} is out of date with the gm_contracts schemas; run `make contracts`.",
                  file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
