"""Write the generated parts of the architecture documentation from the code:

- docs/events.md: the event catalogue — every domain event registered in gm_contracts,
  its producer, its consumers (the services' handler tables and reporting's projections,
  over the queues gm_platform.topology declares) and its fields with their types;
- in docs/architecture.md, between `<!-- generated: NAME -->` and
  `<!-- end generated: NAME -->`: the broker topology (gm_platform.topology) and the
  aggregates' lifecycles (checked against the aggregates' own event types and statuses).

`make docs` runs it; tests/test_docs.py fails while either file is stale.

    python docs/make_architecture_doc.py [--events docs/events.md] [--architecture docs/architecture.md]
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec import APISpec
from marshmallow import fields as mfields

from gm_contracts.inbound import INBOUND_TYPES
from gm_contracts.outbound import OUTBOUND_TYPES
from gm_contracts.registry import EVENT_MODULES, all_events
from gm_contracts.vocabulary import AGENCIES, CASE_STATUSES
from gm_platform import topology
from gm_platform.config import DEFAULT_PORTS, SERVICES

ROOT = Path(__file__).resolve().parents[1]

#: The handler tables (`EVENTS`: event schema → handler) of each service that acts on
#: events, and what agencies are told of one (`OUTBOX_RULES`).
HANDLER_MODULES = {"intake": "gm_intake.handlers", "assignment": "gm_assignment.handlers",
                   "mediation": "gm_mediation.handlers"}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _first_paragraph(doc: str | None) -> str:
    text = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(text.split())


# -- the event catalogue --------------------------------------------------------------------
def _events() -> Dict[Tuple[str, str, int], type]:
    for module in EVENT_MODULES:
        importlib.import_module(module)
    return all_events()


class _Types:
    """A field's JSON type, as the AsyncAPI document states it (apispec's converter)."""

    def __init__(self) -> None:
        self.plugin = MarshmallowPlugin()
        APISpec(title="gm", version="1", openapi_version="3.1.0", plugins=[self.plugin])
        self.nested: Dict[str, type] = {}  # object types met, shown once at the end

    def describe(self, field: mfields.Field) -> str:
        return self._describe(self.plugin.converter.field2property(field), field)

    def _describe(self, prop: dict, field: mfields.Field | None = None) -> str:
        kind = prop.get("type")
        kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k and k != "null"]
        text = "/".join(kinds) or "any"
        if isinstance(field, mfields.Nested):
            text = f"object ({self._object(field)})"
        elif isinstance(field, mfields.List):
            inner = field.inner
            if isinstance(inner, mfields.Nested):
                text = f"list of {self._object(inner)}"
            else:
                text = "list of " + self._describe(
                    self.plugin.converter.field2property(inner), inner)
        if prop.get("format"):
            text += f" ({prop['format']})"
        if prop.get("pattern"):
            text += f" matching `{prop['pattern']}`"
        bounds = [(prop.get(lo), prop.get(hi), what) for lo, hi, what in (
            ("minLength", "maxLength", "characters"), ("minItems", "maxItems", "items"),
            ("minimum", "maximum", ""))]
        for low, high, what in bounds:
            if low is not None or high is not None:
                span = f"{low if low is not None else 0}–{high}" if high is not None else f"≥ {low}"
                text += f", {span} {what}".rstrip()
        if prop.get("enum"):
            text += ": " + ", ".join(f"`{v}`" for v in prop["enum"] if v is not None)
        return text

    def _object(self, field: mfields.Nested) -> str:
        schema = type(field.schema)
        self.nested.setdefault(schema.__name__, schema)
        return f"[{schema.__name__}](#object-{schema.__name__.lower()})"

    def table(self, schema_cls: type) -> List[str]:
        out = ["| field | type | required | description |", "|---|---|---|---|"]
        for name, field in schema_cls._declared_fields.items():
            required = "**required**" if field.required else "optional"
            if field.allow_none:
                required += ", *nullable*"
            out.append("| " + " | ".join(_cell(x) for x in (
                f"`{field.data_key or name}`", self.describe(field), required,
                (field.metadata or {}).get("description", ""))) + " |")
        return out


def _consumers(service: str, event_type: str) -> List[Tuple[str, str]]:
    """Who acts on `service`'s `event_type`, and how (the handler or the projection):
    (who, what it does — the handler's docstring)."""
    from gm_reporting.domain import casefile, screening

    out = []
    for consumer in SERVICES:
        if service not in topology.followed_logs(consumer):
            continue
        how = ("queue `%s.from.%s`" % (consumer, service)
               if service in topology.SUBSCRIPTIONS.get(consumer, ()) else "catch-up only")
        if consumer in HANDLER_MODULES:
            table = importlib.import_module(HANDLER_MODULES[consumer]).EVENTS
            for schema, handler in table.items():
                if schema.event_service == service and schema.event_type == event_type:
                    out.append((f"{consumer}: `{handler.__name__}` ({how})",
                                _first_paragraph(handler.__doc__)))
        elif consumer == "reporting":
            if event_type in casefile.CASE_FILE_TYPES:
                out.append((f"reporting: the case file ({how})",
                            "changes the case's view, ledger row and figures (`cases`)"))
            elif event_type in (screening.REPORT_FILED, screening.RISK_ASSESSED):
                out.append((f"reporting: screening ({how})", "screening coverage (`screening`)"))
            elif service != "intake":
                out.append((f"reporting: the case's timeline only ({how})", ""))
    return out


def _agency_messages(service: str, event_type: str) -> List[Tuple[str, str]]:
    if service not in HANDLER_MODULES:
        return []
    rules = getattr(importlib.import_module(HANDLER_MODULES[service]), "OUTBOX_RULES", {})
    return [(f"agencies: `<agency>.{rule.__name__}` on `{topology.OUTBOUND.name}`, in the "
             f"event's commit (`OUTBOX_RULES`)", _first_paragraph(rule.__doc__))
            for schema, rule in rules.items() if schema.event_type == event_type]


def render_events() -> str:
    types = _Types()
    events = _events()
    out = [
        "# The event catalogue",
        "",
        "Generated by `make docs` (docs/make_architecture_doc.py) from the schemas in",
        "`libs/gm_contracts` and the services' handler tables; do not edit by hand.",
        "",
        "Each service publishes its domain events on its exchange `<service>.events`",
        "(topic, routing key = the event type) from its outbox, and serves its log over RPC",
        "(`read_log`). A consumer reads them from its queue `<consumer>.from.<source>` and,",
        "for anything the broker did not bring, from the source's log (catch-up). Every",
        "event is a `DomainEventRecord` (`id`, `stream_id`, `version`, `position`, `type`,",
        "`schema_version`, `occurred_at`, `actor`, `agency`, `correlation_id` = the case,",
        "`causation_id`); the tables below are its `data`. **required**: the key must be",
        "present; *nullable*: its value may be null. Agencies never see these events: what",
        "they receive is in docs/asyncapi.yaml and docs/agency-integration.md.",
        "",
        "| event | producer | consumers |",
        "|---|---|---|",
    ]
    for (service, event_type, version), schema_cls in events.items():
        consumers = _consumers(service, event_type) + _agency_messages(service, event_type)
        anchor = f"{service}-{event_type}-v{version}".lower()
        out.append(f"| [{event_type}](#{anchor}) v{version} | {service} | "
                   + (_cell("; ".join(who for who, _ in consumers)) or "—") + " |")
    for (service, event_type, version), schema_cls in events.items():
        consumers = _consumers(service, event_type) + _agency_messages(service, event_type)
        out += ["", f"## {service} {event_type} v{version}", "",
                f"Exchange `{topology.events_exchange(service).name}`, routing key "
                f"`{event_type}`, schema `{schema_cls.__module__}.{schema_cls.__name__}`.", "",
                _first_paragraph(schema_cls.__doc__), "",
                "Consumed by:" if consumers else "Consumed by no service (kept in the log, "
                                                 "read where a reader asks for it).", "",
                *[f"- {who}" + (f": {what}" if what else "") for who, what in consumers],
                *([""] if consumers else []),
                *types.table(schema_cls)]
    shown: set = set()
    while set(types.nested) - shown:  # objects inside objects, each once
        for name in sorted(set(types.nested) - shown):
            shown.add(name)
            schema = types.nested[name]
            out += ["", f"## object {name}", "", f"`{schema.__module__}.{name}`"
                    + (": " + _first_paragraph(schema.__doc__) if schema.__doc__ else ""), "",
                    *types.table(schema)]
    return "\n".join(out) + "\n"


# -- the broker topology ------------------------------------------------------------------
def _id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name)


def _publishers() -> Tuple[str, ...]:
    return tuple(dict.fromkeys(service for service, _, _ in _events()))


def render_agency_topology() -> str:
    """Agencies, gm.inbound, gm.outbound and the services that answer them."""
    lines = ["```mermaid", "flowchart LR"]
    lines.append("  subgraph agencies")
    for agency in AGENCIES:
        lines.append(f'    ag_{agency}(["{agency}"])')
    lines.append("  end")
    for exchange in (topology.INBOUND, topology.OUTBOUND):
        lines.append(f'  {_id(exchange.name)}{{{{"{exchange.name}<br/>{exchange.type} exchange"}}}}')
    answering = [s for s in SERVICES if topology.inbound_queue(s) is not None]
    for service in answering:
        queue = topology.inbound_queue(service)
        lines.append(f'  {_id(queue.name)}[["{queue.name}<br/>quorum queue"]]')
        lines.append(f'  svc_{service}["{service}<br/>HTTP :{DEFAULT_PORTS[service]}"]')
    for agency in AGENCIES:
        types = ", ".join(INBOUND_TYPES[agency])
        lines.append(f'  ag_{agency} -- "{agency}.{{{types}}}" --> {_id(topology.INBOUND.name)}')
    for service in answering:
        queue = topology.inbound_queue(service)
        keys = sorted(b.routing_key for b in queue.bindings) or [queue.routing_key]
        lines.append(f'  {_id(topology.INBOUND.name)} -- "{", ".join(keys)}" --> {_id(queue.name)}')
        lines.append(f"  {_id(queue.name)} --> svc_{service}")
        lines.append(f'  svc_{service} -- "answers" --> {_id(topology.OUTBOUND.name)}')
    for agency in AGENCIES:
        inbox = topology.agency_inbox(agency)
        lines.append(f'  {_id(inbox.name)}[["{inbox.name}<br/>the agency\'s inbox"]]')
        lines.append(f'  {_id(topology.OUTBOUND.name)} -- "{inbox.routing_key}" --> {_id(inbox.name)}')
        lines.append(f"  {_id(inbox.name)} --> ag_{agency}")
    lines.append("```")
    lines.append("")
    lines.append("Routing keys the suite publishes to an agency: "
                 + ", ".join(f"`<agency>.{t}`" for t in OUTBOUND_TYPES) + ".")
    return "\n".join(lines)


def render_internal_topology() -> str:
    """Events exchanges, `<consumer>.from.<source>` queues, RPC, parking and the stores."""
    lines = ["```mermaid", "flowchart LR"]
    for service in SERVICES:
        lines.append(f'  svc_{service}["{service}"]')
        lines.append(f'  db_{service}[("{service} store: events, outbox,<br/>dead letters, '
                     f'positions<br/>GM_DATA_DIR/{service}.db or gm_{service}")]')
        lines.append(f"  svc_{service} --- db_{service}")
    lines.append('  db_reporting_projections[("reporting projections<br/>'
                 'GM_DATA_DIR/reporting-projections.db<br/>or gm_reporting.projection_*")]')
    lines.append("  svc_reporting --- db_reporting_projections")
    for source in _publishers():
        exchange = topology.events_exchange(source)
        lines.append(f'  {_id(exchange.name)}{{{{"{exchange.name}<br/>{exchange.type} exchange"}}}}')
        lines.append(f'  svc_{source} -- "outbox relay, confirms" --> {_id(exchange.name)}')
    consumed = []
    for consumer, sources in topology.SUBSCRIPTIONS.items():
        for source in sources:
            queue = topology.events_queue(consumer, source)
            consumed.append(queue.name)
            lines.append(f'  {_id(queue.name)}[["{queue.name}"]]')
            keys = "<br/>".join(topology.event_binding_keys(consumer, source))
            lines.append(f'  {_id(topology.events_exchange(source).name)} -- "{keys}" '
                         f"--> {_id(queue.name)}")
            lines.append(f"  {_id(queue.name)} --> svc_{consumer}")
    for consumer in SERVICES:
        for source in topology.followed_logs(consumer):
            lines.append(f'  svc_{consumer} -. "RPC {source}.read_log (catch-up)" .-> svc_{source}')
    parked = topology.PARKED
    lines.append(f'  {_id(parked.name)}{{{{"{parked.name}<br/>{parked.type} exchange"}}}}')
    inbound = [q.name for s in SERVICES for q in [topology.inbound_queue(s)] if q is not None]
    lines.append(f'  consumed["every consumed queue:<br/>{"<br/>".join(inbound + consumed)}'
                 f'<br/>quorum, x-delivery-limit {topology.DELIVERY_LIMIT}"]')
    lines.append(f'  consumed -. "dead-lettered, routing key = owner" .-> {_id(parked.name)}')
    for service in SERVICES:
        queue = topology.parking_queue(service)
        lines.append(f'  {_id(queue.name)}[["{queue.name}"]]')
        lines.append(f'  {_id(parked.name)} -- "{queue.routing_key}" --> {_id(queue.name)}')
        lines.append(f'  {_id(queue.name)} -- "into the dead-letter store" --> svc_{service}')
    lines.append('  gm(["gm dlq / gm projections"])')
    for service in SERVICES:
        lines.append(f'  gm -. "RPC" .-> svc_{service}')
    lines.append("```")
    return "\n".join(lines)


# -- lifecycles -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One transition of a lifecycle: the events recorded, in order, and a note."""

    source: str
    target: str
    events: Tuple[str, ...]
    note: str = ""

    def label(self) -> str:
        text = " + ".join(self.events)
        if not text:
            return self.note
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Lifecycle:
    title: str
    aggregates: Tuple[str, ...]  # "module:Class" whose event types the steps must cover
    steps: Tuple[Step, ...]
    states: Tuple[str, ...] = ()  # the code's own statuses, when it has them: all shown
    notes: Tuple[str, ...] = ()

    def events(self) -> set:
        return {e for s in self.steps for e in s.events}

    def shown_states(self) -> set:
        return {x for s in self.steps for x in (s.source, s.target)} - {"[*]"}


def _applied(aggregates: Iterable[str]) -> set:
    applied = set()
    for ref in aggregates:
        module, name = ref.split(":")
        applied |= set(getattr(importlib.import_module(module), name).appliers)
    return applied


def lifecycles() -> Tuple[Lifecycle, ...]:
    from gm_mediation.domain import handoff

    S = Step
    return (
        Lifecycle(
            "intake: Case, ScreeningReport, RiskAssessment (streams `case-`, `screening-`, `risk-`)",
            ("gm_intake.domain.case:Case", "gm_intake.domain.screening:ScreeningReport",
             "gm_intake.domain.screening:RiskAssessment"),
            (S("[*]", "registered", ("CaseRegistered",), "any channel, a referral, a finding"),
             S("[*]", "filed", ("ScreeningReportFiled",), "排查; each finding registers a case"),
             S("[*]", "assessed", ("RiskAssessmentRecorded",), "稳评"),
             S("assessed", "registered", ("CaseRegistered",),
               "high risk: the preventive case, by intake's own feed"),
             S("registered", "[*]", ())),
            notes=("A case's stream holds its registration only; what follows lives in "
                   "assignment's and mediation's streams, correlated by the case id.",)),
        Lifecycle(
            "assignment: Assignment (stream `assignment-<case id>`)",
            ("gm_assignment.domain.assignment:Assignment",),
            (S("[*]", "on_time", ("AssignmentMade",), "四定, on intake's CaseRegistered"),
             S("[*]", "failed", ("AssignmentFailed",), "no unit, rule or handler fits"),
             S("on_time", "warned", ("DeadlineWarningRaised",), "预警, once per deadline"),
             S("on_time", "on_time", ("DeadlineExtended",), "within the rule"),
             S("warned", "on_time", ("DeadlineExtended",), "a new deadline"),
             S("on_time", "on_time", ("CaseReassigned",),
               "a leader, with a reason; or the parties' choice at the first session"),
             S("on_time", "on_time", ("MediatorChoiceDeclined",),
               "the roster mediator chosen at the first session cannot take it"),
             S("on_time", "on_time", ("JointHandlingArranged",), "联合接访 / 联席会议"),
             S("on_time", "on_time", ("HandlingPeriodStarted",),
               "a petition matter accepted: its period"),
             S("warned", "supervised", ("SupervisionOrdered",), "督办: the deadline passed"),
             S("on_time", "supervised", ("SupervisionOrdered",), "passed unwarned"),
             S("supervised", "supervised", ("SupervisionReminded",), "催办, every few days"),
             S("supervised", "on_time", ("HandlingPeriodStarted",), "a new deadline"),
             S("supervised", "on_time", ("CaseEscalated",),
               "older versions only: a level up, a fresh deadline"),
             S("on_time", "closed", ("AssignmentClosed",), "mediation's CaseClosed"),
             S("warned", "closed", ("AssignmentClosed",)),
             S("supervised", "closed", ("AssignmentClosed",), "not on time"),
             S("closed", "[*]", ()), S("failed", "[*]", ())),
            notes=("The states are what the deadline watch (`watch()`) sees: `on_time` "
                   "before the warning window, `warned` inside it, `supervised` once the "
                   "deadline passed. Reassignment and joint handling leave the deadline as "
                   "it is, in whichever state; the unit stays responsible when overdue "
                   "(属地管理).",)),
        Lifecycle(
            "mediation: MediationCase (stream `mediation-<case id>`), its `status`",
            ("gm_mediation.domain.case:MediationCase",),
            (S("[*]", "registered", ("MediationOpened",), "intake's CaseRegistered"),
             S("[*]", "registered", ("MediatorAssigned",), "assignment's event came first"),
             S("registered", "assigned", ("MediatorAssigned",), "AssignmentMade"),
             S("registered", "assigned", ("MediationOpened",), "the other one"),
             S("assigned", "in_mediation", ("SessionHeld",)),
             S("assigned", "in_mediation", ("DutyRecorded",), "四包"),
             S("in_mediation", "in_mediation", ("SessionHeld",)),
             S("in_mediation", "in_mediation", ("DutyRecorded",)),
             S("in_mediation", "in_mediation", ("MediatorAssigned",),
               "reassigned, extended, a petition's period"),
             S("assigned", "agreement", ("AgreementReached",)),
             S("in_mediation", "agreement", ("AgreementReached",)),
             S("agreement", "closed", ("FollowUpRecorded", "CaseClosed"), "outcome agreement"),
             S("in_mediation", "in_mediation", ("JointMeetingHeld",), "联席会议"),
             S("agreement", "agreement", ("DocumentIssued",),
               "a document (文书) downloaded the first time, in any status"),
             S("agreement", "handed_off", ("ConfirmationRequested",), "to the court"),
             S("in_mediation", "handed_off", ("MediationFailed",), "next: an agency"),
             S("handed_off", "closed", ("CaseClosed",), "handed_off, or confirmed"),
             S("handed_off", "in_mediation", ("MediationReopened",),
               "the agency rejected, the court refused"),
             S("in_mediation", "closed", ("MediationFailed", "CaseClosed"), "next: none"),
             S("in_mediation", "closed", ("MediationWithdrawn", "CaseClosed"), "withdrawn"),
             S("closed", "closed", ("FollowUpRecorded",), "回访, once"),
             S("closed", "closed", ("PetitionerRated",), "the petitioner rates, once (查询码)"),
             S("closed", "[*]", ())),
            states=CASE_STATUSES,
            notes=("Every failure, withdrawal, hand-off and agreement possible from "
                   "`in_mediation` is possible from `assigned` too (and a failure from "
                   "`agreement`); they are drawn once. DocumentIssued leaves any status "
                   "as it was (drawn once, on `agreement`). A key case is resolved (agreement, "
                   "confirmation) only with its four duties (四包) recorded. The petition "
                   "steps are in the next diagram.",)),
        Lifecycle(
            "mediation: a petition matter (信访事项), steps of its MediationCase",
            ("gm_mediation.domain.case:MediationCase",),
            (S("[*]", "awaiting_decision", ("MediatorAssigned",), "petition_matter"),
             S("awaiting_decision", "accepted", ("PetitionAccepted",),
               "受理, told within 15 days"),
             S("awaiting_decision", "declined", ("PetitionDeclined", "CaseClosed"),
               "不予受理, with the route"),
             S("accepted", "accepted", ("SessionHeld",), "the work, as any case"),
             S("accepted", "answered", ("PetitionAnswered", "CaseClosed"),
               "信访处理意见书, within 60 (+30) days"),
             S("answered", "review_requested", ("ReviewRequested",), "复查, within 30 days"),
             S("review_requested", "reviewed", ("ReviewDecided",), "within 30 days"),
             S("reviewed", "re_review_requested", ("ReviewRequested",), "复核, within 30 days"),
             S("re_review_requested", "final", ("ReviewDecided",), "not accepted again"),
             S("declined", "[*]", ()), S("answered", "[*]", ()), S("reviewed", "[*]", ()),
             S("final", "[*]", ())),
            notes=("Acceptance also starts assignment's handling period "
                   "(HandlingPeriodStarted), which moves the case's deadline.",)),
        Lifecycle(
            "mediation: HandOff (stream `handoff-<handoff id>`), its `status`",
            ("gm_mediation.domain.handoff:HandOff",),
            (S("[*]", handoff.REQUESTED, ("HandOffRequested",),
               "by mediation's own feed, from ConfirmationRequested or MediationFailed"),
             S(handoff.REQUESTED, handoff.ACCEPTED, ("HandOffAccepted",), "handoff_reply"),
             S(handoff.REQUESTED, handoff.REJECTED, ("HandOffRejected",), "handoff_reply"),
             S(handoff.REQUESTED, handoff.REQUESTED, ("HandOffOverdue",), "the agency's time passed"),
             S(handoff.ACCEPTED, handoff.ACCEPTED, ("HandOffOverdue",), "no ruling in time"),
             S(handoff.ACCEPTED, handoff.CONFIRMED, ("ConfirmationRuled",),
               "court.confirmation_ruling, confirmed"),
             S(handoff.ACCEPTED, handoff.REFUSED, ("ConfirmationRuled",), "confirmed: false"),
             S(handoff.ACCEPTED, "[*]", (), "not a confirmation: settled"),
             S(handoff.REJECTED, "[*]", ()), S(handoff.CONFIRMED, "[*]", ()),
             S(handoff.REFUSED, "[*]", ())),
            states=(handoff.REQUESTED, handoff.ACCEPTED, handoff.REJECTED, handoff.CONFIRMED,
                    handoff.REFUSED),
            notes=("Every answer settles the case it was for, once, by mediation's own feed: "
                   "accepted (not a confirmation) closes it `handed_off`, confirmed closes it "
                   "`confirmed`, rejected or refused reopens it.",)),
    )


def check(cycles: Sequence[Lifecycle]) -> None:
    """Each diagram uses only event types its aggregates apply, and, together, the
    diagrams of an aggregate show every one; a diagram of a status shows every status."""
    covered: Dict[str, set] = {}
    for cycle in cycles:
        applied = _applied(cycle.aggregates)
        unknown = cycle.events() - applied
        if unknown:
            raise ValueError(f"{cycle.title}: not applied by {cycle.aggregates}: {sorted(unknown)}")
        covered.setdefault(cycle.aggregates, set()).update(cycle.events())
        if cycle.states and cycle.shown_states() != set(cycle.states):
            raise ValueError(f"{cycle.title}: states {sorted(cycle.shown_states())} are not "
                             f"the code's {sorted(cycle.states)}")
    for aggregates, events in covered.items():
        missing = _applied(aggregates) - events
        if missing:
            raise ValueError(f"{aggregates}: no diagram shows {sorted(missing)}")


def render_lifecycles() -> str:
    cycles = lifecycles()
    check(cycles)
    out = []
    for cycle in cycles:
        out += [f"### {cycle.title}", "", "```mermaid", "stateDiagram-v2"]
        for step in cycle.steps:
            label = step.label()
            out.append(f"  {step.source} --> {step.target}" + (f" : {label}" if label else ""))
        out += ["```", ""]
        out += [" ".join(cycle.notes), ""] if cycle.notes else []
    return "\n".join(out).rstrip("\n")


# -- the files --------------------------------------------------------------------------------
GENERATED = {
    "agency-topology": render_agency_topology,
    "internal-topology": render_internal_topology,
    "lifecycles": render_lifecycles,
}
_BLOCK = re.compile(r"(<!-- generated: ([a-z-]+) -->\n)(?:.*?\n)?(<!-- end generated: \2 -->)",
                    re.DOTALL)


def fill(text: str) -> str:
    """`text` with every generated block rewritten; ValueError for a block unknown here."""
    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in GENERATED:
            raise ValueError(f"no generator for block {name!r}")
        return match.group(1) + GENERATED[name]() + "\n" + match.group(3)

    return _BLOCK.sub(replace, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default=str(ROOT / "docs/events.md"))
    parser.add_argument("--architecture", default=str(ROOT / "docs/architecture.md"))
    args = parser.parse_args(argv)
    Path(args.events).write_text(render_events(), encoding="utf-8")
    path = Path(args.architecture)
    path.write_text(fill(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
