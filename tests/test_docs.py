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
