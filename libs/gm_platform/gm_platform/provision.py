"""Broker users through the RabbitMQ management API: one per agency (CONTRACT.md §1), one
per service and one for the operator, each with exactly the rights gm_platform.topology
says it needs (`agency_access`, `service_access`, `operator_access`)."""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import requests

from . import topology
from .config import SERVICES

#: The operator's `gm` (dlq, projections) connects as this user by default.
OPERATOR = "operator"


def _session(api_uri: str):
    parts = urlsplit(api_uri)
    base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
                       parts.path.rstrip("/"), "", ""))
    session = requests.Session()
    session.auth = (parts.username or "guest", parts.password or "guest")
    return session, base


def provision(api_uri: str, username: str, password: str, access: topology.Access,
              vhost: str = "/") -> None:
    """Create or update `username` with exactly `access` on `vhost` (idempotent): its
    permissions, and topic permissions on the exchanges it may publish to and no others."""
    session, base = _session(api_uri)
    v, user = quote(vhost, safe=""), quote(username, safe="")

    def call(method, path, body=None):
        resp = session.request(method, base + path, json=body, timeout=10)
        if not (method == "DELETE" and resp.status_code == 404):
            resp.raise_for_status()
        return resp

    call("PUT", f"/users/{user}", {"password": password, "tags": ""})
    call("PUT", f"/permissions/{v}/{user}", access.permissions())
    granted = access.topic_permissions()
    # A topic exchange without a topic permission is open to the user: drop stale ones.
    for old in call("GET", f"/users/{user}/topic-permissions").json():
        if old["vhost"] == vhost and old["exchange"] not in granted:
            call("DELETE", f"/topic-permissions/{v}/{user}")  # all of them; re-granted below
            break
    for exchange, rights in granted.items():
        call("PUT", f"/topic-permissions/{v}/{user}", {"exchange": exchange, **rights})


def provision_agency(api_uri: str, agency: str, password: str, vhost: str = "/",
                     username: str | None = None) -> None:
    """Publish to gm.inbound only under `<agency>.`, consume only gm.outbound.<agency>,
    configure nothing."""
    provision(api_uri, username or agency, password, topology.agency_access(agency), vhost)


def provision_service(api_uri: str, service: str, password: str, vhost: str = "/",
                      username: str | None = None) -> None:
    """What `service` declares, publishes and consumes (topology.service_access); and its
    events exchange, as the deploy definitions declare it, so that the services following
    it can bind to it before it first starts."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    provision(api_uri, username or service, password, topology.service_access(service), vhost)
    declare_events_exchange(api_uri, service, vhost)


def declare_events_exchange(api_uri: str, service: str, vhost: str = "/") -> None:
    """`<service>.events`, if others follow it (idempotent)."""
    if not topology.publishes_events(service):
        return
    session, base = _session(api_uri)
    exchange = topology.events_exchange(service)
    resp = session.put(f"{base}/exchanges/{quote(vhost, safe='')}/{quote(exchange.name, safe='')}",
                       json={"type": exchange.type, "durable": True, "auto_delete": False,
                             "internal": False, "arguments": {}}, timeout=10)
    resp.raise_for_status()


def provision_operator(api_uri: str, password: str, vhost: str = "/",
                       username: str | None = None) -> None:
    """RPC calls to the services' operations (dlq, logs) and nothing else."""
    provision(api_uri, username or OPERATOR, password, topology.operator_access(), vhost)
