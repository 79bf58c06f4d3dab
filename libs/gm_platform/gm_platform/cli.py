"""`gm`: the operator's command line.

    gm dlq list --service intake          parked messages of a service
    gm dlq replay --service intake ID     publish one again where it arrived
    gm broker provision --agency court --password ...   a per-agency broker user
    gm broker provision --service intake --password ... a per-service broker user
    gm broker provision --operator --password ...       the operator's (for `gm` itself)
    gm projections status | rebuild [NAME]             reporting's projections (plugin)

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


def _rpc(service: str, method: str, *args):
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    uri = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")
    with ClusterRpcProxy({"AMQP_URI": uri}, timeout=15) as cluster:
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
    click.echo(f"replayed {letter_id} to {replayed['routing_key'] or replayed['source']}")


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
