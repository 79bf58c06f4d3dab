"""`gm`: the operator's command line.

    gm dlq list --service intake          parked messages of a service
    gm dlq replay --service intake ID     publish one again where it arrived
    gm audit verify [--service intake]    walk the services' hash chains (exit 1 if broken)
    gm broker provision --agency court --password ...   a per-agency broker user
    gm broker provision --service intake --password ... a per-service broker user
    gm broker provision --operator --password ...       the operator's (for `gm` itself)
    gm projections status | rebuild [NAME]             reporting's projections (plugin)
    gm privacy erase --id-number ID       erase a person's personal data in every service

Talks to running services over RPC (AMQP_URI: the operator's broker user) and to the
RabbitMQ management API (GM_RABBIT_API, default http://guest:guest@localhost:15672/api).
"""
from __future__ import annotations

import json
import os
import sys

import click
from rich.console import Console
from rich.table import Table

from . import config, topology

console = Console()


def _rpc(service: str, method: str, *args, timeout: float = 15):
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    uri = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")
    with ClusterRpcProxy({"AMQP_URI": uri}, timeout=timeout) as cluster:
        return getattr(getattr(cluster, service), method)(*args)


@click.group()
def main():
    """Grand Mediation Linkage operations."""


@main.group()
def dlq():
    """The dead-letter store: messages that could not be handled or answered."""


@dlq.command("list")
@click.option("--service", type=click.Choice(config.SERVICES), required=True)
@click.option("--limit", default=50, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def dlq_list(service, limit, offset, as_json):
    page = _rpc(service, "list_dead_letters", limit, offset)
    # a reply holds at most RPC_PAGE_BYTES (gm_platform.base): read on up to `limit`
    while page["items"] and len(page["items"]) < min(limit, page["total"] - offset):
        more = _rpc(service, "list_dead_letters", limit - len(page["items"]),
                    offset + len(page["items"]))
        if not more["items"]:
            break
        page["items"] += more["items"]
    if as_json:
        click.echo(json.dumps(page, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{service}: {page['total']} parked")
    for col in ("id", "parked_at", "routing_key", "reason"):
        table.add_column(col)
    for item in page["items"]:
        table.add_row(item["id"], item["parked_at"], item["routing_key"] or "",
                      item["reason"][:80])
    console.print(table)


@dlq.command("replay")
@click.option("--service", type=click.Choice(config.SERVICES), required=True)
@click.argument("letter_id")
def dlq_replay(service, letter_id):
    replayed = _rpc(service, "replay_dead_letter", letter_id)
    if replayed is None:
        click.echo(f"no parked message {letter_id!r} in {service}", err=True)
        sys.exit(1)
    if replayed.get("refused"):
        click.echo(f"not replayed {letter_id}: {replayed['refused']}", err=True)
        sys.exit(1)
    click.echo(f"replayed {letter_id} to {replayed['routing_key'] or replayed['source']}")


@main.group()
def audit():
    """The tamper-evident record: each service's hash chain over its event log."""


@audit.command("verify")
@click.option("--service", type=click.Choice(config.SERVICES), default=None,
              help="One service (default: every one).")
@click.option("--timeout", default=300.0, show_default=True,
              help="Seconds a service may take to walk its chain (about 12,000 events/s).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def audit_verify(service, timeout, as_json):
    """Walk each service's chain from its first commit to its head. Exit 1 and the first
    broken link when a chain is broken, 2 when a service did not answer."""
    reports = {}
    for name in [service] if service else config.SERVICES:
        try:
            reports[name] = _rpc(name, "verify_chain", timeout=timeout)
        except Exception as exc:  # the others are still worth walking
            reports[name] = {"service": name, "ok": None,
                             "error": f"{type(exc).__name__}: {exc}"}
    if as_json:
        click.echo(json.dumps(reports, ensure_ascii=False, indent=2))
    else:
        _print_chains(reports)
    if any(r["ok"] is False for r in reports.values()):
        sys.exit(1)
    if any(r["ok"] is None for r in reports.values()):
        sys.exit(2)


def _print_chains(reports: dict) -> None:
    table = Table(title="hash chains of the event logs")
    table.add_column("service", no_wrap=True, min_width=10)
    for col in ("chain", "commits", "events", "up to", "hash", "migrated"):
        table.add_column(col, no_wrap=True)
    for name, r in reports.items():
        if r["ok"] is None:
            table.add_row(name, "[yellow]no answer[/]", "", "", "", "", "")
            continue
        status = "[green]OK[/]" if r["ok"] else "[red]BROKEN[/]"
        migrated = f"1..{r['migrated_through']}" if r["migrated_through"] else "-"
        # Counts and the last position of the links verified (before a break, if any).
        table.add_row(name, status, str(r["commits"]), str(r["events"]),
                      str(r["head_position"]), r["head_hash"][:8], migrated)
    console.print(table)
    # Whole lines, never wrapped: the head to note elsewhere (a tail cut off, or a log
    # rewritten with its hashes, shows only against it), and what broke.
    for name, r in reports.items():
        if r["ok"] is None:
            click.echo(f"{name}: did not answer: {r['error']}")
        elif r["ok"]:
            click.echo(f"{name}: head at position {r['head_position']}: {r['head_hash']}")
        else:
            click.echo(f"{name}: first broken link: {r['broken']['description']}")


@main.group()
def broker():
    """Broker users: agencies (CONTRACT.md §1), services, the operator."""


@broker.command("provision")
@click.option("--agency", type=click.Choice(topology.AGENCIES), default=None)
@click.option("--service", type=click.Choice(config.SERVICES), default=None)
@click.option("--operator", is_flag=True, help="The operator's user, for `gm` itself.")
@click.option("--password", required=True, help="The user's broker password.")
@click.option("--vhost", default="/", show_default=True)
@click.option("--user", default=None,
              help="Broker user name (default: the agency's or service's name, `operator`).")
def broker_provision(agency, service, operator, password, vhost, user):
    """Create or update one broker user with exactly its rights (README, "Broker users"):
    an agency publishes to gm.inbound only under `<agency>.`, consumes only from
    gm.outbound.<agency> and configures nothing; a service declares, publishes to and
    consumes what its place in the topology needs; the operator makes RPC calls to the
    services' operations. Idempotent."""
    from . import provision

    if sum((agency is not None, service is not None, operator)) != 1:
        raise click.UsageError("give exactly one of --agency, --service, --operator")
    api = os.environ.get("GM_RABBIT_API", "http://guest:guest@localhost:15672/api")
    if agency:
        provision.provision_agency(api, agency, password, vhost, user)
        kind, name = "agency", user or agency
    elif service:
        provision.provision_service(api, service, password, vhost, user)
        kind, name = "service", user or service
    else:
        provision.provision_operator(api, password, vhost, user)
        kind, name = "operator", user or provision.OPERATOR
    click.echo(f"{kind} user {name!r} provisioned on vhost {vhost!r}")


@main.group()
def privacy():
    """Personal data: encrypted at rest under per-person keys, erased by destroying them."""


@privacy.command("erase")
@click.option("--id-number", required=True, help="The person's resident id number.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def privacy_erase(id_number, as_json):
    """Erase a person in every service: their names, id numbers and phones (and the
    id-less parties of the cases where they are the main party, and dead letters naming
    them) read `[erased]` from now on, everywhere; cases, counts and figures stay.
    Idempotent: run again, it erases nothing more and says what was erased before.
    The id number travels to each service over RPC (the broker's connection) only."""
    results, failed = {}, []
    for service in config.SERVICES:
        try:
            results[service] = _rpc(service, "erase_person", id_number)
        except Exception as exc:  # report every service, then fail
            failed.append(service)
            results[service] = {"error": f"{type(exc).__name__}: {exc}"}
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        table = Table(title="erased")
        for col in ("service", "destroyed now", "erased in all", "first erased at"):
            table.add_column(col)
        for service, r in results.items():
            if "error" in r:
                table.add_row(service, "[red]" + r["error"], "", "")
                continue
            table.add_row(service, _kinds(r["destroyed"]), _kinds(r["erased_in_all"]),
                          r.get("first_erased_at") or "")
        console.print(table)
    if failed:
        click.echo(f"not erased in: {', '.join(failed)} (run again when they answer)",
                   err=True)
        sys.exit(1)


def _kinds(counts: dict) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"


def _add_plugin_commands() -> None:
    """Commands other packages register under `gm` (entry point group `gm.commands`),
    e.g. `gm projections` from the reporting service."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="gm.commands"):
        try:
            main.add_command(entry.load(), entry.name)
        except Exception as exc:  # one broken plugin must not take `gm` down
            print(f"gm: cannot load command {entry.name!r}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)


_add_plugin_commands()

if __name__ == "__main__":
    main()
