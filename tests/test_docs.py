"""The generated documentation (`make docs`) must be what its generators write now, so
the pages never drift from the code: docs/rules.md from the rules the services load,
docs/events.md from the event schemas and handler tables, and the generated blocks of
docs/architecture.md from the broker topology and the aggregates."""
from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_rules_md_is_up_to_date():
    render = runpy.run_path(str(ROOT / "docs/make_rules_doc.py"))["render"]
    assert (ROOT / "docs/rules.md").read_text(encoding="utf-8") == render(), \
        "docs/rules.md is stale: run `make docs`"


def test_the_page_lists_every_rule_with_its_basis_and_marks_local_defaults():
    text = (ROOT / "docs/rules.md").read_text(encoding="utf-8")
    for needle in ("police-referral", "petition-handling", "court-entrusted-ordinary",
                   "judicial-confirmation-acceptance", "《信访工作条例》", "**本地默认**",
                   "国办发明电〔2025〕7号", "provisional"):
        assert needle in text, needle


def _architecture():
    return runpy.run_path(str(ROOT / "docs/make_architecture_doc.py"))


def test_docs_events_md_is_up_to_date():
    assert (ROOT / "docs/events.md").read_text(encoding="utf-8") == \
        _architecture()["render_events"](), "docs/events.md is stale: run `make docs`"


def test_docs_architecture_md_generated_blocks_are_up_to_date():
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    assert text == _architecture()["fill"](text), \
        "docs/architecture.md is stale: run `make docs`"


def test_the_catalogue_names_every_event_with_its_producer_and_consumers():
    from gm_contracts.registry import all_events

    text = (ROOT / "docs/events.md").read_text(encoding="utf-8")
    for service, event_type, version in all_events():
        assert f"## {service} {event_type} v{version}" in text
    assert "assignment: `place_case` (queue `assignment.from.intake`)" in text
    assert "| `headcount` | integer | **required** |" in text


def test_the_topology_diagrams_name_every_queue_and_exchange_the_suite_declares():
    from gm_platform import topology

    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    for queue in topology.suite_queues():
        assert f'"{queue.name}' in text or f"<br/>{queue.name}<br/>" in text, queue.name
    for name in ("gm.inbound", "gm.outbound", "gm.parked", "intake.events",
                 "assignment.events", "mediation.events"):
        assert f'"{name}<br/>' in text, name


def test_a_lifecycle_naming_an_event_its_aggregate_does_not_apply_is_refused():
    module = _architecture()
    cycles = module["lifecycles"]()
    step = module["Step"]("[*]", "registered", ("CaseClosed",))
    wrong = cycles[0].__class__(cycles[0].title, cycles[0].aggregates,
                                (*cycles[0].steps, step))
    try:
        module["check"]((wrong, *cycles[1:]))
    except ValueError as exc:
        assert "CaseClosed" in str(exc)
    else:
        raise AssertionError("a diagram with an event its aggregate does not apply passed")
    missing = cycles[-1].__class__(cycles[-1].title, cycles[-1].aggregates,
                                   cycles[-1].steps[1:], cycles[-1].states)
    try:
        module["check"]((*cycles[:-1], missing))
    except ValueError as exc:
        assert "HandOffRequested" in str(exc)
    else:
        raise AssertionError("a diagram missing an applied event passed")


# -- the lifecycles' transitions, replayed on the aggregates that have a status -------------
_AT = "2026-03-10T02:00:00.000000Z"


def _event_data(event_type: str, step, is_last: bool) -> dict:
    """Data enough for the aggregate's applier (events are facts: appliers do not check)."""
    from gm_mediation.testing import assignment, registration

    failed_to = "none" if not is_last else "litigation"  # followed by CaseClosed: no next step
    return {
        "MediationOpened": registration(),
        "MediatorAssigned": {**assignment(), "reason": "assigned"},
        "SessionHeld": {"held_on": "2026-03-10", "notes": "", "number": 1},
        "DutyRecorded": {"duty": "investigation", "note": ""},
        "AgreementReached": {"terms": "t", "signed_on": "2026-03-10",
                             "confirmation_window_ends_at": None},
        "ConfirmationRequested": {"handoff_id": "h-1", "agency": "court",
                                  "kind": "judicial_confirmation"},
        "MediationFailed": {"reason": "r", "next": failed_to,
                            "handoff_id": None if failed_to == "none" else "h-2",
                            "agency": None if failed_to == "none" else "court"},
        "MediationWithdrawn": {"reason": "r"},
        "MediationReopened": {"reason": "r", "handoff_id": "h-2"},
        "FollowUpRecorded": {"satisfaction": 5, "satisfaction_level": "satisfied",
                             "petition_ceased": True, "visited_at": _AT},
        "PetitionerRated": {"rating": "satisfied", "comment": None, "rated_at": _AT},
        "JointMeetingHeld": {"number": 1, "held_on": "2026-03-10", "participants": ["a", "b"],
                             "agenda": ["x"], "decisions": []},
        "DocumentIssued": {"document": "agreement-1", "kind": "agreement",
                           "title": "人民调解协议书", "drawn_up_from": 4, "digest": "0" * 64,
                           "size": 1, "issued_at": _AT},
        "CaseClosed": {"outcome": "agreement"},
        "HandOffRequested": {"case_id": "c", "case_number": "n", "agency": "court",
                             "kind": "judicial_confirmation", "agreement": None,
                             "requested_at": _AT, "due_at": _AT},
        "HandOffAccepted": {"agency_case_number": "x", "due_at": None},
        "HandOffRejected": {"reason": "r"},
        "ConfirmationRuled": {"confirmed": step.target == "confirmed", "ruling_number": None,
                              "reason": None},
        "HandOffOverdue": {},
    }[event_type]


def _status_after(cycle, path) -> list:
    import importlib

    module, name = cycle.aggregates[0].split(":")
    agg = getattr(importlib.import_module(module), name)("c")
    statuses = []
    for step in path:
        for i, event_type in enumerate(step.events):
            agg._apply(event_type, _event_data(event_type, step, i == len(step.events) - 1))
        statuses.append(agg.status)
    return statuses


def _paths_to(cycle, state: str, depth: int = 6):
    """Paths of steps from the start to `state`, shortest first."""
    frontier = [[]]
    for _ in range(depth):
        following = []
        for path in frontier:
            at = path[-1].target if path else "[*]"
            if at == state and path:
                yield path
            following += [path + [s] for s in cycle.steps
                          if s.source == at and s.events and s not in path]
        frontier = following
        if state == "[*]":
            yield []
            return


def test_every_transition_drawn_is_one_the_aggregate_makes():
    """Replayed on MediationCase and HandOff (the aggregates with a `status`): for every
    step of their diagrams some path from the start reaches it with each state as drawn,
    and the step's events leave the aggregate in the state it points to."""
    cycles = [c for c in _architecture()["lifecycles"]() if c.states]
    assert {c.aggregates[0].rsplit(":", 1)[1] for c in cycles} == {"MediationCase", "HandOff"}
    for cycle in cycles:
        for step in cycle.steps:
            if not step.events:
                continue
            ok = any(_status_after(cycle, path + [step])
                     == [s.target for s in path] + [step.target]
                     for path in _paths_to(cycle, step.source))
            assert ok, f"{cycle.title}: {step.source} --{step.label()}--> {step.target}"


def test_the_readmes_broker_users_matrix_is_what_gm_broker_provision_grants():
    """Each configure / write / read cell of README's "Broker users" names exactly the
    exchanges and queues the user's permission matches (gm_platform.topology)."""
    import re

    from gm_platform import topology
    from gm_platform.config import SERVICES

    reply_queue = "rpc.reply-standalone_rpc_proxy-00000000-0000-0000-0000-000000000000"
    resources = {"gm.inbound", "gm.outbound", "gm.parked", "gm.replay", "nameko-rpc",
                 "amq.default", reply_queue, *(f"{s}.events" for s in SERVICES),
                 *(f"rpc-{s}" for s in SERVICES), *(q.name for q in topology.suite_queues())}
    accesses = {**{s: topology.service_access(s) for s in SERVICES},
                "operator": topology.operator_access(),
                "<agency>": topology.agency_access("court")}
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Broker users", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:4]
    assert set(accesses) <= set(rows), sorted(rows)

    def named(cell: str, agencies) -> set:
        if cell == "nothing":
            return set()
        names = set()
        for name in re.findall(r"`([^`]+)`", cell):
            name = name.replace("<uuid>", "00000000-0000-0000-0000-000000000000")
            names |= {name.replace("<agency>", a) for a in agencies}
        return names

    for user, access in accesses.items():
        agencies = ("court",) if user == "<agency>" else topology.AGENCIES
        granted = access.permissions()
        for column, cell in zip(("configure", "write", "read"), rows[user]):
            matching = {r for r in resources if re.fullmatch(granted[column], r)}
            assert named(cell, agencies) == matching, (user, column)
