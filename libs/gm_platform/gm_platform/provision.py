"""Per-agency broker users through the RabbitMQ management API (CONTRACT.md §1)."""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from . import topology


def _session(api_uri: str):
    parts = urlsplit(api_uri)
    base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
                       parts.path.rstrip("/"), "", ""))
    session = requests.Session()
    session.auth = (parts.username or "guest", parts.password or "guest")
    return session, base


def provision_agency(api_uri: str, agency: str, password: str, vhost: str = "/",
                     username: str | None = None) -> None:
    if agency not in topology.AGENCIES:
        raise ValueError(f"unknown agency {agency!r}")
    session, base = _session(api_uri)
    v = quote(vhost, safe="")
    user = quote(username or agency, safe="")

    def put(path, body):
        resp = session.put(base + path, json=body, timeout=10)
        resp.raise_for_status()

    put(f"/users/{user}", {"password": password, "tags": ""})
    inbox = re.escape(topology.agency_inbox(agency).name)
    # configure: nothing; write: only the inbound exchange; read: only its own inbox.
    put(f"/permissions/{v}/{user}", {"configure": "^$", "write": "^gm\\.inbound$",
                                      "read": f"^{inbox}$"})
    # topic authorisation: routing keys must start with the agency's own name
    put(f"/topic-permissions/{v}/{user}", {"exchange": topology.INBOUND.name,
                                            "write": f"^{re.escape(agency)}\\.",
                                            "read": "^$"})
