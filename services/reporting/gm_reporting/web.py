"""The dashboard page (研判看板): static files of this package and Plotly's bundle.

The page holds no data: it asks for a token and reads the same token-protected JSON API
as every other client, so it needs no session handling of its own.
"""
from __future__ import annotations

import mimetypes
from functools import lru_cache
from importlib import resources
from pathlib import Path

from werkzeug.wrappers import Response

from gm_platform.http import json_response

DASHBOARD_FILES = ("index.html", "dashboard.js", "dashboard.css",
                   "status.html", "status.js")  # status: the petitioner's page (查询)
# Pages must not be framed by other sites, nor load scripts from anywhere but here.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; "
                                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@lru_cache(maxsize=None)
def _read(name: str) -> bytes:
    if name not in DASHBOARD_FILES:
        raise FileNotFoundError(name)
    return resources.files("gm_reporting").joinpath("dashboard", name).read_bytes()


@lru_cache(maxsize=1)
def _plotly() -> bytes:
    import plotly  # the wheel carries its JS bundle

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def _response(body: bytes, name: str, max_age: int) -> Response:
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    resp = Response(body, status=200, content_type=content_type, headers=SECURITY_HEADERS)
    resp.headers["Cache-Control"] = f"public, max-age={max_age}" if max_age else "no-cache"
    return resp


def page() -> Response:
    return _response(_read("index.html"), "index.html", 0)


def status_page() -> Response:
    """The petitioner's page (CONTRACT §8): enter the query code, read the public status,
    rate the handling once the case is closed. It holds no data either."""
    return _response(_read("status.html"), "status.html", 0)


def asset(name: str) -> Response:
    try:
        return _response(_read(name), name, 0)
    except FileNotFoundError:
        return json_response({"error": "no such file"}, 404)  # errors are JSON (§5)


def plotly_js() -> Response:
    return _response(_plotly(), "plotly.min.js", 86400)
