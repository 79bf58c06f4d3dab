"""`gm projections ...`: reporting's projections from the command line.

    gm projections status              generations, positions, lag behind the sources
    gm projections rebuild [NAME]      rebuild from every source's log, then switch over

Registered under `gm` through the `gm.commands` entry point (services/reporting's
pyproject.toml). Runs where reporting's store is reachable (the same GM_DATA_DIR /
GM_REPORTING_STORE_URI as the service) and reads the source logs over RPC at AMQP_URI —
never the broker's queues — while the service keeps serving the old generation.
"""
from __future__ import annotations

import sys
import time

import click

PROJECTION_NAMES = ("cases", "screening")


def _patch():
    import eventlet

    eventlet.monkey_patch()


def _open():
    from gm_platform import config

    from gm_kernel.privacy import open_vault

    from .store import open_private_projection_store

    settings = config.load("reporting")
    # A rebuild writes case files: with the parties sealed, as the service does.
    vault = open_vault(settings.store_uri, "reporting", settings.data_dir, settings.master_key)
    return settings, open_private_projection_store(settings.store_uri, vault, "reporting",
                                                   settings.data_dir)


@click.group("projections")
def projections():
    """Reporting's projections (read models): status and rebuild."""


@projections.command("rebuild")
@click.argument("name", required=False, type=click.Choice(PROJECTION_NAMES))
@click.option("--force", is_flag=True,
              help="Take over from a rebuild that died (another one is marked in progress).")
@click.option("--page-size", default=1000, show_default=True,
              help="Events read from a source log per call (at most 1000).")
def rebuild(name, force, page_size):
    """Rebuild NAME (default: every projection) from the source services' logs into a new
    generation, then switch queries over to it in one step."""
    _patch()
    from rich.console import Console
    from rich.table import Table

    from .store.layout import PROJECTIONS
    from .rebuild import Rebuilder, rpc_logs
    from .store import RebuildInProgress

    console = Console()
    settings, store = _open()
    specs = [PROJECTIONS[name]] if name else list(PROJECTIONS.values())
    sources = sorted({s for spec in specs for s in spec.sources})
    try:
        with rpc_logs(settings.amqp_uri, sources, max(settings.rpc_timeout, 30.0)) as logs, \
                RichProgress(console) as progress:
            results = Rebuilder(store, specs, logs, page_size=min(page_size, 1000),
                                progress=progress, force=force).run()
    except RebuildInProgress as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(1)
    except Exception as exc:  # a source down, the store unreachable: nothing switched
        console.print(f"[red]rebuild failed, the live projections are unchanged: "
                      f"{type(exc).__name__}: {exc}[/red]")
        sys.exit(1)
    finally:
        store.close()
    table = Table(title="projections rebuilt")
    for col in ("projection", "generation", "events", "seconds", "events/s", "positions"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, str(r.generation), f"{r.events:,}", f"{r.seconds:.1f}",
                      f"{r.rate:,.0f}", ", ".join(f"{s} {p}" for s, p in r.positions.items()))
    console.print(table)


@projections.command("status")
@click.option("--no-sources", is_flag=True, help="Do not ask the sources for their positions.")
def status(no_sources):
    """Active and building generations, and how far each is behind its sources."""
    _patch()
    from rich.console import Console
    from rich.table import Table

    from .store.layout import PROJECTIONS

    settings, store = _open()
    last = {}
    if not no_sources:
        from .rebuild import rpc_logs

        sources = sorted({s for spec in PROJECTIONS.values() for s in spec.sources})
        try:
            with rpc_logs(settings.amqp_uri, sources, 5.0) as logs:
                for s, log_ in logs.items():
                    try:
                        last[s] = log_.last_position()
                    except Exception:
                        last[s] = None
        except Exception:
            pass
    table = Table(title=f"projections in {store!r}")
    for col in ("projection", "generation", "version", "state", "source", "position", "behind"):
        table.add_column(col)
    try:
        for spec in PROJECTIONS.values():
            for gen in store.generations(spec.name):
                state = "active" if gen.active else (
                    "previous" if gen.activated_at else "building")
                for source in spec.sources:
                    pos = store.position(spec.name, source, gen.number)
                    behind = "?" if last.get(source) is None else str(last[source] - pos)
                    table.add_row(spec.name, str(gen.number),
                                  f"{gen.version}" + ("" if gen.version == spec.version
                                                      else f" (code {spec.version})"),
                                  state, source, str(pos), behind)
    finally:
        store.close()
    Console().print(table)


class RichProgress:
    """A rich progress bar per projection, with an events/s figure."""

    def __init__(self, console):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[rate]} events/s"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        self.tasks, self.started = {}, {}

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def start(self, name, total):
        self.started[name] = time.perf_counter()
        self.tasks[name] = self.bar.add_task(name, total=total or None, rate="-")

    def advance(self, name, events):
        task = self.tasks[name]
        self.bar.advance(task, events)
        done = next(t.completed for t in self.bar.tasks if t.id == task)
        elapsed = max(time.perf_counter() - self.started[name], 1e-9)
        self.bar.update(task, rate=f"{done / elapsed:,.0f}")

    def done(self, result):
        task = self.tasks[result.name]
        self.bar.update(task, total=max(result.events, 1), completed=max(result.events, 1),
                        rate=f"{result.rate:,.0f}")
