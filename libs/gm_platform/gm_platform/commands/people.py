"""`gm case`, `gm stats`, `gm assignment`, `gm mediation`: what clerks, leaders, mediators
and analysts do over HTTP (CONTRACT.md §5), from a terminal.

    gm case register --channel visit --category neighbour --region 410611100201 \\
        --summary "邻里排水纠纷" --party applicant:王五
    gm case show CASE_ID            gm case timeline CASE_ID       gm case ledger --status assigned
    gm case documents CASE_ID       gm case documents CASE_ID --get agreement-1 -o 协议书.pdf
    gm stats monthly --month 2026-12
    gm stats performance-review --month 2026-11 [--by lead] [--csv > 实绩考核.csv]
    gm assignment show|extend|reassign|joint CASE_ID ...
    gm mediation show|session|duty|agreement|joint-meeting|confirm|handoff|close|follow-up CASE_ID ...
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Optional

import click

from .http import (
    call, console, fields_table, json_option, key_option, rows_table, show, token_option,
)

CASE_FIELDS = ("case_id", "case_number", "status", "channel", "source_agency", "referral_id",
               "category", "region", "collective", "repeat", "key_case", "assignment",
               "handoffs", "outcome", "parties")
ASSIGNMENT_FIELDS = ("case_id", "track", "level", "unit", "lead", "handler", "due_at",
                     "extended", "joint_handling")
LEDGER_COLUMNS = ("case_number", "status", "category", "region", "channel", "overdue")


def _today() -> str:
    return date.today().isoformat()


def _party(text: str) -> dict:
    """ROLE:NAME[:ID_NUMBER[:PHONE]]"""
    parts = text.split(":")
    if len(parts) < 2 or not parts[1]:
        raise click.BadParameter(f"{text!r}: expected ROLE:NAME[:ID_NUMBER[:PHONE]]")
    party = {"role": parts[0], "name": parts[1]}
    if len(parts) > 2 and parts[2]:
        party["id_number"] = parts[2]
    if len(parts) > 3 and parts[3]:
        party["phone"] = ":".join(parts[3:])
    return party


# -- gm case ----------------------------------------------------------------------------------
@click.group()
def case():
    """Register a case (clerk) and read cases (analyst)."""


@case.command("register")
@click.option("--channel", required=True, help="visit, letter, phone, website, "
              "newspaper_hotline, radio_hotline, leader_reception, screening")
@click.option("--category", required=True)
@click.option("--summary", required=True)
@click.option("--region", required=True, help="6, 9 or 12 digit division code")
@click.option("--party", "parties", multiple=True, required=True,
              help="ROLE:NAME[:ID_NUMBER[:PHONE]], once per party")
@click.option("--headcount", type=int, default=None)
@click.option("--leader", default=None, help="the receiving leader (leader_reception)")
@key_option
@token_option
@json_option
def case_register(channel, category, summary, region, parties, headcount, leader, key,
                  token, as_json):
    """Register a case at intake (POST /cases)."""
    body = {"channel": channel, "category": category, "summary": summary, "region": region,
            "parties": [_party(p) for p in parties]}
    if headcount is not None:
        body["headcount"] = headcount
    if leader:
        body["leader"] = leader
    made = call("POST", "intake", "/cases", token, body, key=key)
    show(made, as_json, lambda d: console.print(
        f"registered [bold]{d['case_number']}[/bold]  case_id {d['case_id']}"
        + (f"\nquery code for the petitioner (查询码): [bold]{d['query_code']}[/bold]"
           if d.get("query_code") else "")))


@case.command("show")
@click.argument("case_id")
@token_option
@json_option
def case_show(case_id, token, as_json):
    """The case view (reporting, GET /cases/{id})."""
    doc = call("GET", "reporting", f"/cases/{case_id}", token)
    show(doc, as_json, lambda d: fields_table(d.get("case_number") or case_id, d, CASE_FIELDS))


@case.command("timeline")
@click.argument("case_id")
@token_option
@json_option
def case_timeline(case_id, token, as_json):
    """What happened to a case, oldest first."""
    doc = call("GET", "reporting", f"/cases/{case_id}", token)
    show(doc.get("timeline", []), as_json, lambda rows: rows_table(
        doc.get("case_number") or case_id, rows, ("occurred_at", "type", "actor")))


@case.command("documents")
@click.argument("case_id")
@click.option("--get", "document", default=None, metavar="DOCUMENT",
              help="save this document's PDF (e.g. agreement-1, as the list names it); "
                   "the first download issues it")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="where to save the PDF (default: <case number>-<document>.pdf)")
@token_option
@json_option
def case_documents(case_id, document, output, token, as_json):
    """The case's documents (文书, mediation): list them, or save one as PDF."""
    if document is None:
        doc = call("GET", "mediation", f"/cases/{case_id}/documents", token)
        show(doc, as_json, lambda d: rows_table(
            f"documents of {case_id}", d["documents"],
            ("document", "title", "drawn_up_at", "issued_at", "digest")))
        return
    resp = call("GET", "mediation", f"/cases/{case_id}/documents/{document}.pdf", token,
                raw=True)
    path = Path(output or _attachment_name(resp) or f"{case_id}-{document}.pdf")
    path.write_bytes(resp.content)
    saved = {"document": document, "path": str(path), "size": len(resp.content),
             "digest": resp.headers.get("X-Document-Digest"),
             "issued_at": resp.headers.get("X-Issued-At")}
    show(saved, as_json, lambda d: console.print(
        f"saved {d['path']} ({d['size']} bytes)  sha256 {d['digest']}  issued {d['issued_at']}"))


def _attachment_name(resp) -> Optional[str]:
    """The file name the service suggests (Content-Disposition), without any directory."""
    found = re.search(r'filename="([^"/\\]+)"', resp.headers.get("Content-Disposition", ""))
    return found.group(1) if found else None


@case.command("ledger")
@click.option("--status", default=None)
@click.option("--region", default=None)
@click.option("--category", default=None)
@click.option("--overdue", type=click.Choice(["true", "false"]), default=None)
@click.option("--page", type=int, default=None)
@click.option("--page-size", type=int, default=None)
@token_option
@json_option
def case_ledger(status, region, category, overdue, page, page_size, token, as_json):
    """The ledger (台账), a page at a time (GET /cases)."""
    doc = call("GET", "reporting", "/cases", token, params={
        "status": status, "region": region, "category": category, "overdue": overdue,
        "page": page, "page_size": page_size})
    show(doc, as_json, lambda d: rows_table(
        f"ledger: {d['total']} cases, page {d.get('page')}", d["items"], LEDGER_COLUMNS))


# -- gm stats ---------------------------------------------------------------------------------
@click.group()
def stats():
    """Figures for leaders (analyst)."""


@stats.command("monthly")
@click.option("--month", default=lambda: date.today().strftime("%Y-%m"), show_default="this month")
@click.option("--region", default=None)
@token_option
@json_option
def stats_monthly(month, region, token, as_json):
    """The month's analysis (研判): received, closed, resolved, rates, hand-offs."""
    doc = call("GET", "reporting", "/stats/monthly", token,
               params={"month": month, "region": region})
    figures = [k for k, v in doc.items() if not isinstance(v, (dict, list))]
    show(doc, as_json, lambda d: fields_table(f"{month}" + (f" {region}" if region else ""),
                                              d, figures + ["by_channel", "by_category",
                                                            "handoffs"]))


@stats.command("performance-review")
@click.option("--month", default=lambda: date.today().strftime("%Y-%m"), show_default="this month")
@click.option("--by", type=click.Choice(["unit", "lead"]), default="unit", show_default=True,
              help="per unit, or per lead leader")
@click.option("--region", default=None)
@click.option("--csv", "as_csv", is_flag=True,
              help="Print the CSV export (UTF-8 with BOM, for Excel) instead of a table.")
@token_option
@json_option
def stats_performance_review(month, by, region, as_csv, token, as_json):
    """实绩考核: the month's scores, ranked, with each indicator as numerator/denominator →
    points (leader, analyst)."""
    params = {"month": month, "by": by, "region": region}
    if as_csv:
        click.echo(call("GET", "reporting", "/export/performance-review.csv", token,
                        params=params), nl=False)
        return
    doc = call("GET", "reporting", "/stats/performance-review", token, params=params)

    def render(d):
        rows = []
        for r in d["rows"]:
            row = {"rank": r["rank"], by: r[by], "name": r["name"], "score": r["score"],
                   "base": r["base"], "deducted": r["deducted"]}
            for i in r["indicators"]:
                row[i["name"]] = (f"{i['numerator']}/{i['denominator']} → {i['points']}"
                                  if i["denominator"] else "—")
            for x in r["deductions"]:
                row[x["name"]] = f"{x['count']} → -{x['points']}" if x["count"] else "0"
            rows.append(row)
        columns = list(rows[0]) if rows else ["rank", by, "name", "score"]
        rows_table(f"实绩考核 {month}" + (f" {region}" if region else ""), rows, columns)

    show(doc, as_json, render)


# -- gm assignment ----------------------------------------------------------------------------
@click.group()
def assignment():
    """A case's owner and deadline (四定; leader)."""


def _assignment_answer(doc, as_json):
    show(doc, as_json, lambda d: fields_table(f"assignment {d.get('case_id', '')}", d,
                                              ASSIGNMENT_FIELDS))


@assignment.command("show")
@click.argument("case_id")
@token_option
@json_option
def assignment_show(case_id, token, as_json):
    _assignment_answer(call("GET", "assignment", f"/cases/{case_id}/assignment", token), as_json)


@assignment.command("extend")
@click.argument("case_id")
@click.option("--days", type=int, required=True)
@click.option("--reason", required=True)
@key_option
@token_option
@json_option
def assignment_extend(case_id, days, reason, key, token, as_json):
    """延期: more time, within the rule's limits."""
    _assignment_answer(call("POST", "assignment", f"/cases/{case_id}/extension", token,
                            {"days": days, "reason": reason}, key=key), as_json)


@assignment.command("reassign")
@click.argument("case_id")
@click.option("--unit", default=None)
@click.option("--handler", default=None)
@click.option("--reason", required=True)
@key_option
@token_option
@json_option
def assignment_reassign(case_id, unit, handler, reason, key, token, as_json):
    """Another unit and/or handler, with a reason."""
    body = {"reason": reason, **({"unit": unit} if unit else {}),
            **({"handler": handler} if handler else {})}
    _assignment_answer(call("POST", "assignment", f"/cases/{case_id}/reassignment", token,
                            body, key=key), as_json)


@assignment.command("joint")
@click.argument("case_id")
@click.option("--with", "participants", multiple=True, required=True,
              help="an agency (court, procuratorate, police, petition) or a unit code; "
                   "at least two")
@click.option("--reason", required=True)
@click.option("--meeting/--no-meeting", default=None, help="a joint meeting (联席会议)")
@key_option
@token_option
@json_option
def assignment_joint(case_id, participants, reason, meeting, key, token, as_json):
    """联合接访: joint handling by several agencies or units."""
    body = {"participants": list(participants), "reason": reason}
    if meeting is not None:
        body["meeting"] = meeting
    _assignment_answer(call("POST", "assignment", f"/cases/{case_id}/joint-handling", token,
                            body, key=key), as_json)


# -- gm mediation -----------------------------------------------------------------------------
@click.group()
def mediation():
    """The mediator's steps on a case (mediator)."""


def _step(case_id: str, path: str, body, key, token, as_json) -> None:
    doc = call("POST", "mediation", f"/cases/{case_id}/{path}", token, body, key=key)
    _mediation_answer(doc, as_json)


def _mediation_answer(doc, as_json):
    show(doc, as_json, lambda d: fields_table(
        f"mediation {d.get('case_id', '')}", d,
        [k for k in d if k not in ("timeline", "sessions", "duties")]))


@mediation.command("show")
@click.argument("case_id")
@token_option
@json_option
def mediation_show(case_id, token, as_json):
    _mediation_answer(call("GET", "mediation", f"/cases/{case_id}/mediation", token), as_json)


@mediation.command("session")
@click.argument("case_id")
@click.option("--notes", required=True)
@click.option("--held-on", default=_today, show_default="today")
@key_option
@token_option
@json_option
def mediation_session(case_id, notes, held_on, key, token, as_json):
    """A mediation session held."""
    _step(case_id, "sessions", {"held_on": held_on, "notes": notes}, key, token, as_json)


@mediation.command("duty")
@click.argument("case_id")
@click.argument("duty", type=click.Choice(["investigation", "handling", "counselling",
                                           "cessation"]))
@click.option("--note", required=True)
@key_option
@token_option
@json_option
def mediation_duty(case_id, duty, note, key, token, as_json):
    """One of the four duties done (调查, 处置, 疏导, 息诉)."""
    _step(case_id, f"duties/{duty}", {"note": note}, key, token, as_json)


@mediation.command("agreement")
@click.argument("case_id")
@click.option("--terms", required=True)
@click.option("--signed-on", default=_today, show_default="today")
@click.option("--performance", default=None, help="how the terms are performed (履行方式)")
@click.option("--perform-by", default=None, help="the time limit of performance (履行期限)")
@key_option
@token_option
@json_option
def mediation_agreement(case_id, terms, signed_on, performance, perform_by, key, token,
                        as_json):
    """A mediation agreement (调解协议) signed."""
    body = {"terms": terms, "signed_on": signed_on}
    if performance:
        body["performance"] = performance
    if perform_by:
        body["perform_by"] = perform_by
    _step(case_id, "agreement", body, key, token, as_json)


def _decision(text: str) -> dict:
    """DECISION|OWNER|YYYY-MM-DD"""
    parts = text.split("|")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise click.BadParameter(f"{text!r}: expected DECISION|OWNER|YYYY-MM-DD")
    return {"decision": parts[0].strip(), "owner": parts[1].strip(), "due_on": parts[2].strip()}


@mediation.command("joint-meeting")
@click.argument("case_id")
@click.option("--held-on", default=_today, show_default="today")
@click.option("--participant", "participants", multiple=True, required=True,
              help="an agency, unit or person who took part; at least two")
@click.option("--agenda", multiple=True, required=True, help="an item of the agenda (议题)")
@click.option("--decision", "decisions", multiple=True, required=True,
              help="DECISION|OWNER|YYYY-MM-DD: what was decided, who sees to it, by when")
@key_option
@token_option
@json_option
def mediation_joint_meeting(case_id, held_on, participants, agenda, decisions, key, token,
                            as_json):
    """A joint meeting (联席会议) held on the case, for its minutes (联席会议纪要)."""
    body = {"held_on": held_on, "participants": list(participants), "agenda": list(agenda),
            "decisions": [_decision(d) for d in decisions]}
    _step(case_id, "joint-meetings", body, key, token, as_json)


@mediation.command("confirm")
@click.argument("case_id")
@key_option
@token_option
@json_option
def mediation_confirm(case_id, key, token, as_json):
    """Ask the court for judicial confirmation (司法确认) of the agreement."""
    _step(case_id, "confirmation-request", None, key, token, as_json)


@mediation.command("handoff")
@click.argument("case_id")
@click.option("--next", "next_", required=True,
              type=click.Choice(["litigation", "public_security", "criminal_reconciliation",
                                 "petition_handling", "none"]))
@click.option("--reason", required=True)
@key_option
@token_option
@json_option
def mediation_handoff(case_id, next_, reason, key, token, as_json):
    """Mediation failed: hand the case to the agency that takes the next step."""
    _step(case_id, "failure", {"reason": reason, "next": next_}, key, token, as_json)


@mediation.command("close")
@click.argument("case_id")
@click.option("--reason", required=True)
@key_option
@token_option
@json_option
def mediation_close(case_id, reason, key, token, as_json):
    """Close a case the parties withdrew from (撤回)."""
    _step(case_id, "withdrawal", {"reason": reason}, key, token, as_json)


@mediation.command("follow-up")
@click.argument("case_id")
@click.option("--satisfaction", required=True,
              help="satisfied, basically_satisfied, dissatisfied, or 1-5")
@click.option("--petition-ceased/--petition-continues", required=True)
@key_option
@token_option
@json_option
def mediation_follow_up(case_id, satisfaction, petition_ceased, key, token, as_json):
    """回访: the parties' satisfaction after closure."""
    value = int(satisfaction) if satisfaction.isdigit() else satisfaction
    _step(case_id, "follow-up", {"satisfaction": value, "petition_ceased": petition_ceased},
          key, token, as_json)


__all__ = ["case", "stats", "assignment", "mediation"]
