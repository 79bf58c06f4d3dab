"""A private RabbitMQ vhost for one test, deleted afterwards (keeps tests independent)."""
from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Dict
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

if TYPE_CHECKING:
    from gm_platform.topology import Access

BROKER_URI = os.environ.get("GM_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT_URI = os.environ.get("GM_TEST_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")


def _api(method: str, path: str, **kw):
    parts = urlsplit(MANAGEMENT_URI)
    base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
                       parts.path, "", ""))
    return requests.request(method, base + path, auth=(parts.username or "guest",
                                                       parts.password or "guest"),
                            timeout=10, **kw)


def _vhost_uri(vhost: str) -> str:
    parts = urlsplit(BROKER_URI)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


def create_vhost(name: str) -> None:
    user = urlsplit(BROKER_URI).username or "guest"
    try:
        _api("PUT", f"/vhosts/{quote(name, safe='')}").raise_for_status()
        _api("PUT", f"/permissions/{quote(name, safe='')}/{user}",
             json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    except requests.RequestException:
        # No management plugin: the CLI works too when the tests run as root.
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, user,
                        ".*", ".*", ".*"], check=True)


def delete_vhost(name: str) -> None:
    try:
        _api("DELETE", f"/vhosts/{quote(name, safe='')}")
    except requests.RequestException:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False)


@contextmanager
def private_vhost(prefix: str = "gm-test"):
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    create_vhost(name)
    try:
        yield _vhost_uri(name)
    finally:
        delete_vhost(name)


def vhost_of(amqp_uri: str) -> str:
    return unquote(urlsplit(amqp_uri).path[1:]) or "/"


def with_user(amqp_uri: str, user: str, password: str) -> str:
    """`amqp_uri` (its host and vhost) as another user."""
    parts = urlsplit(amqp_uri)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@contextmanager
def broker_users(amqp_uri: str, accesses: Dict[str, "Access"]):
    """Users with exactly the given rights (gm_platform.topology.Access) on the vhost of
    `amqp_uri`, made through the management API as `gm broker provision` makes them, under
    names unique to the test; yields {name: AMQP URI}; deleted afterwards."""
    from gm_platform.provision import provision

    vhost, tag = vhost_of(amqp_uri), uuid.uuid4().hex[:8]
    made: Dict[str, str] = {}
    try:
        for name, access in accesses.items():
            user, password = f"{name}-{tag}", uuid.uuid4().hex
            provision(MANAGEMENT_URI, user, password, access, vhost)
            made[name] = with_user(amqp_uri, user, password)
        yield made
    finally:
        for name in accesses:
            _api("DELETE", f"/users/{quote(f'{name}-{tag}', safe='')}")


def suite_users(amqp_uri: str):
    """broker_users for the four services, the operator and the four agencies, each with
    exactly what `gm broker provision` grants it (gm_platform.topology), and the services'
    events exchanges as `gm broker provision --service` declares them."""
    from gm_platform import topology
    from gm_platform.config import SERVICES
    from gm_platform.provision import declare_events_exchange

    for service in SERVICES:
        declare_events_exchange(MANAGEMENT_URI, service, vhost_of(amqp_uri))
    return broker_users(amqp_uri, {
        **{s: topology.service_access(s) for s in SERVICES},
        "operator": topology.operator_access(),
        **{a: topology.agency_access(a) for a in topology.AGENCIES},
    })
