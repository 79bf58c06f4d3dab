"""`gm agency <court|procuratorate|police|petition> refer|inbox|reply|rule`: an agency on
the public contract over plain AMQP (gm_platform.agency_client), for trying the contract
out and for agencies' own operators.

    gm agency court refer --file referral.json --wait
    gm agency court inbox --timeout 5
    gm agency police reply HANDOFF_ID --decision accepted --case-number "鹤公(淇)调字123号"
    gm agency court rule HANDOFF_ID --confirmed --ruling-number "(2026)豫0611民特1号"

The broker is AMQP_URI (an agency's own user in production: `gm broker provision`).
"""
from __future__ import annotations

import json
import os
import sys

import click

from ..agency_client import AGENCIES, AgencyClient, Delivered
from .http import UNREACHABLE, console, fail, json_option


def _client(agency: str) -> AgencyClient:
    uri = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")
    try:
        return AgencyClient(uri, agency)
    except Exception as exc:  # the broker's refusal or absence, said in one line
        fail(f"cannot reach the broker as {agency}: {type(exc).__name__}: {exc}", UNREACHABLE)


def _print(item: Delivered, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"routing_key": item.routing_key, "envelope": item.envelope},
                              ensure_ascii=False))
        return
    data = item.data
    style = "red" if item.type == "rejected" else "green"
    console.print(f"[{style}]{item.routing_key}[/{style}] "
                  + json.dumps(data, ensure_ascii=False)[:400])


@click.group()
@click.argument("agency", type=click.Choice(AGENCIES))
@click.pass_context
def agency(ctx, agency):
    """Speak the public contract as AGENCY over AMQP."""
    ctx.obj = agency


@agency.command("refer")
@click.option("--file", "path", type=click.File("r", encoding="utf-8"), required=True,
              help="the referral's data as JSON (CONTRACT.md §3), '-' for stdin")
@click.option("--id", "message_id", default=None,
              help="the envelope id (default: new); re-send with the same id to be "
                   "answered with the first answer")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="read the inbox until the answer arrives")
@click.option("--timeout", default=30.0, show_default=True)
@json_option
@click.pass_obj
def refer(agency_name, path, message_id, wait, timeout, as_json):
    """Refer a dispute (<agency>.referral); exit 1 when it is rejected."""
    try:
        data = json.load(path)
    except ValueError as exc:
        fail(f"{path.name}: not JSON: {exc}", 2)
    with _client(agency_name) as client:
        sent = client.refer(data, message_id)
        if not as_json:
            console.print(f"sent {agency_name}.referral id {sent['id']}")
        if not wait:
            return
        answer = client.answer_to(sent, timeout, on_message=lambda m: _print(m, as_json))
    if answer is None:
        fail(f"no answer within {timeout} s (it stays in the inbox: gm agency "
             f"{agency_name} inbox)", UNREACHABLE)
    if answer.type == "rejected":
        sys.exit(1)


@agency.command("inbox")
@click.option("--timeout", default=5.0, show_default=True,
              help="seconds to wait for messages")
@click.option("--limit", type=int, default=None, help="stop after this many")
@json_option
@click.pass_obj
def inbox(agency_name, timeout, limit, as_json):
    """Take the messages waiting in gm.outbound.<agency> (each acknowledged once printed)."""
    with _client(agency_name) as client:
        got = client.receive(timeout, limit=limit, on_message=lambda m: _print(m, as_json))
    if not as_json:
        console.print(f"{len(got)} message(s)")


@agency.command("reply")
@click.argument("handoff_id")
@click.option("--decision", type=click.Choice(["accepted", "rejected"]), required=True)
@click.option("--case-number", default=None, help="the agency's own case number")
@click.option("--reason", default=None)
@json_option
@click.pass_obj
def reply(agency_name, handoff_id, decision, case_number, reason, as_json):
    """Answer a hand-off request (<agency>.handoff_reply)."""
    with _client(agency_name) as client:
        sent = client.reply_handoff(handoff_id, decision, case_number, reason)
    click.echo(json.dumps(sent, ensure_ascii=False) if as_json
               else f"sent {agency_name}.handoff_reply id {sent['id']}")


@agency.command("rule")
@click.argument("handoff_id")
@click.option("--confirmed/--refused", required=True)
@click.option("--ruling-number", default=None)
@click.option("--reason", default=None)
@json_option
@click.pass_obj
def rule(agency_name, handoff_id, confirmed, ruling_number, reason, as_json):
    """The court's ruling on a judicial-confirmation request (court.confirmation_ruling)."""
    if agency_name != "court":
        fail("only the court rules on judicial confirmation", 2)
    with _client(agency_name) as client:
        sent = client.rule(handoff_id, confirmed, ruling_number, reason)
    click.echo(json.dumps(sent, ensure_ascii=False) if as_json
               else f"sent court.confirmation_ruling id {sent['id']}")
