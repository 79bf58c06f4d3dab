"""docs/rules.md is generated from the rules the services load (`make docs`): it must be
what the generator writes now, so the page never drifts from the data."""
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
