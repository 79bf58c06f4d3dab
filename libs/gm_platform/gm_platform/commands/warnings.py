"""`gm warnings`: the early warnings (预警) leaders and analysts read, and leaders
acknowledge and close (CONTRACT.md §9, reporting).

    gm warnings list [--status open|acknowledged|closed] [--region 410611]
    gm warnings ack WARNING_ID --note "已安排研判"
    gm warnings close WARNING_ID --note "已化解"
"""
from __future__ import annotations

import click

from .http import call, console, json_option, key_option, rows_table, show, token_option

COLUMNS = ("warning_id", "rule", "level", "region", "raised_at", "status", "cases",
           "addressed_to")


@click.group()
def warnings():
    """Early warnings (预警): list them (leader, analyst), acknowledge and close (leader)."""


@warnings.command("list")
@click.option("--status", type=click.Choice(["open", "acknowledged", "closed"]), default=None)
@click.option("--region", default=None, help="division code prefix")
@token_option
@json_option
def warnings_list(status, region, token, as_json):
    """The warnings board (GET /warnings), oldest raised first."""
    doc = call("GET", "reporting", "/warnings", token,
               params={"status": status, "region": region})
    show(doc, as_json, lambda d: rows_table(
        f"warnings: {d['total']}", [{**w, "cases": len(w["evidence"]["case_ids"])}
                                     for w in d["items"]], COLUMNS))


def _step(step: str, warning_id: str, note: str, key, token, as_json) -> None:
    doc = call("POST", "reporting", f"/warnings/{warning_id}/{step}", token, {"note": note},
               key=key)
    show(doc, as_json, lambda d: console.print(f"warning {d['warning_id']}: {d['status']}"))


@warnings.command("ack")
@click.argument("warning_id")
@click.option("--note", required=True, help="what the leader is doing about it")
@key_option
@token_option
@json_option
def warnings_ack(warning_id, note, key, token, as_json):
    """Acknowledge a warning (leader; POST /warnings/{id}/acknowledgement)."""
    _step("acknowledgement", warning_id, note, key, token, as_json)


@warnings.command("close")
@click.argument("warning_id")
@click.option("--note", required=True, help="how it was settled")
@key_option
@token_option
@json_option
def warnings_close(warning_id, note, key, token, as_json):
    """Close a warning (leader; POST /warnings/{id}/closure)."""
    _step("closure", warning_id, note, key, token, as_json)
