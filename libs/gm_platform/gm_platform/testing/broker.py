"""A private RabbitMQ vhost for one test, deleted afterwards (keeps tests independent)."""
from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import requests

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
