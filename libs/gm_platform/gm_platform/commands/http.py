"""What every HTTP command shares: where each service answers, the token, one request with
its errors turned into messages and exit codes, and printing (JSON or rich)."""
from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any, Callable, Optional

import click
import requests
from rich.console import Console
from rich.table import Table

from .. import config

console = Console()

REFUSED = 1  # the suite answered 4xx: the request was wrong or not allowed
UNREACHABLE = 3  # no answer from the service

NO_TOKEN = ("no token: pass --token or set GM_TOKEN (the development tokens `make run` uses "
            "are in deploy/dev-tokens.json, e.g. GM_TOKEN=dev-admin)")


def service_url(service: str) -> str:
    """GM_<SERVICE>_URL, else localhost on the port the service itself reads
    (GM_<SERVICE>_PORT, default CONTRACT.md's)."""
    upper = service.upper()
    url = os.environ.get(f"GM_{upper}_URL")
    if url:
        return url.rstrip("/")
    port = os.environ.get(f"GM_{upper}_PORT") or config.DEFAULT_PORTS[service]
    return f"http://127.0.0.1:{port}"


token_option = click.option("--token", envvar="GM_TOKEN", help="Bearer token (env GM_TOKEN).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the answer as JSON instead of a table.")
key_option = click.option("--idempotency-key", "key", default=None,
                          help="Send again with the same key to be answered once "
                               "(default: a new key per call).")


def call(method: str, service: str, path: str, token: Optional[str], body: Any = None,
         params: Optional[dict] = None, key: Optional[str] = None,
         raw: bool = False) -> Any:
    """One request; the decoded answer (`raw`: the response itself, e.g. a PDF's bytes
    and headers), or exit with the suite's errors printed."""
    if not token:
        fail(NO_TOKEN, 2)
    headers = {"Authorization": f"Bearer {token}"}
    if method == "POST":
        headers["Idempotency-Key"] = key or str(uuid.uuid4())
    url = service_url(service) + path
    try:
        resp = requests.request(method, url, json=body, headers=headers,
                                params={k: v for k, v in (params or {}).items()
                                        if v is not None}, timeout=30)
    except requests.RequestException as exc:
        fail(f"{service} does not answer at {service_url(service)}: {type(exc).__name__} "
             f"(is `make run` running? set GM_{service.upper()}_URL otherwise)", UNREACHABLE)
    if resp.status_code >= 400:
        fail(describe_refusal(resp), REFUSED if resp.status_code < 500 else UNREACHABLE)
    if raw:
        return resp
    if resp.headers.get("Content-Type", "").startswith("application/json"):
        return resp.json()
    return resp.text


def describe_refusal(resp: requests.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(doc, dict) and isinstance(doc.get("errors"), dict):
        lines = [f"HTTP {resp.status_code}: invalid request"]
        lines += [f"  {field}: {'; '.join(map(str, problems))}"
                  for field, problems in doc["errors"].items()]
        return "\n".join(lines)
    error = doc.get("error") if isinstance(doc, dict) else doc
    return f"HTTP {resp.status_code}: {error}"


def fail(message: str, code: int) -> None:
    click.echo(f"gm: {message}", err=True)
    sys.exit(code)


def show(doc: Any, as_json: bool, render: Optional[Callable[[Any], None]] = None) -> None:
    if as_json or render is None:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        render(doc)


def fields_table(title: str, doc: dict, fields) -> None:
    """One object as a two-column table of the named fields (nested values as JSON)."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name in fields:
        if name in doc:
            table.add_row(name, text(doc[name]))
    console.print(table)


def rows_table(title: str, rows, columns) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(text(row.get(col)) for col in columns))
    console.print(table)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
