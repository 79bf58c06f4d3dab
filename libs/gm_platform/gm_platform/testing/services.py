"""Run services in the test process (eventlet), each with its own store, port and vhost."""
from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterable, Optional

import eventlet
import requests
from nameko.containers import ServiceContainer

from .. import config
from ..serve import load_service_class


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_settings(service: str, amqp_uri: str, data_dir: str, **overrides) -> config.Settings:
    base = config.load(service)
    repo = Path(__file__).resolve().parents[4]
    defaults = dict(amqp_uri=amqp_uri, data_dir=str(data_dir), store_uri=None,
                    http_host="127.0.0.1", http_port=free_port(), shutdown_grace=5.0,
                    relay_interval=0.1, directory_file=str(repo / "deploy/directory.yaml"),
                    rules_file=str(repo / "deploy/rules.yaml"),
                    calendar_file=str(repo / "deploy/calendar.yaml"), log_format="text")
    defaults.update(overrides)
    return replace(base, **defaults)


def unit_platform(service: str, store, clock, data_dir, **overrides):
    """What a service's bootstrap gets, for a test without Nameko or a broker: the
    shipped configuration files, `store` and `clock`."""
    from ..bootstrap import Platform

    settings = service_settings(service, "amqp://guest:guest@127.0.0.1:1//", data_dir,
                                **overrides)
    return Platform(service, settings, store, clock)


class RunningService:
    def __init__(self, container: ServiceContainer, settings: config.Settings):
        self.container = container
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.http_port}"

    def stop(self) -> None:
        if self.container.started:
            self.container.stop()

    def kill(self) -> None:
        self.container.kill()


def start_service(service: str, settings: config.Settings, service_cls=None,
                  wait_healthy: float = 20.0, extra_config: Optional[dict] = None
                  ) -> RunningService:
    """Start one service container; `extra_config` adds Nameko config (e.g. GM_CLOCK)."""
    cls = service_cls or load_service_class(service)
    container = ServiceContainer(cls, {**settings.nameko_config(), **(extra_config or {})})
    container.start()
    running = RunningService(container, settings)
    deadline = time.monotonic() + wait_healthy
    while time.monotonic() < deadline:
        try:
            if requests.get(running.url + "/health", timeout=2).status_code == 200:
                return running
        except requests.RequestException:
            pass
        time.sleep(0.1)
    running.stop()
    raise TimeoutError(f"{service} not healthy within {wait_healthy}s")


@contextmanager
def services(names: Iterable[str], amqp_uri: str, data_dir, tokens_file: Optional[str] = None,
             extra_config: Optional[dict] = None, **overrides):
    running: Dict[str, RunningService] = {}
    try:
        for name in names:
            settings = service_settings(name, amqp_uri, data_dir, tokens_file=tokens_file,
                                     **overrides)
            running[name] = start_service(name, settings, extra_config=extra_config)
        yield running
    finally:
        # All at once, as the supervisor stops them: one by one, each would wait for its
        # catch-up's read of a service already stopped (RpcSourceLog.MAX_WAIT).
        pile = eventlet.GreenPile()
        for svc in reversed(list(running.values())):
            pile.spawn(svc.stop)
        list(pile)


TEST_TOKENS = {
    "tokens": [
        {"token": "t-admin", "subject": "admin-1", "roles": ["admin"]},
        {"token": "t-clerk", "subject": "clerk-1", "roles": ["clerk"]},
        {"token": "t-clerk-qb", "subject": "clerk-qb", "roles": ["clerk"], "regions": ["410611"]},
        {"token": "t-mediator", "subject": "mediator-1", "roles": ["mediator"]},
        {"token": "t-leader", "subject": "leader-1", "roles": ["leader"]},
        {"token": "t-leader-qb", "subject": "leader-qb", "roles": ["leader"], "regions": ["410611"]},
        {"token": "t-analyst", "subject": "analyst-1", "roles": ["analyst"]},
    ]
}


def write_tokens(path) -> str:
    with open(path, "w") as fh:
        json.dump(TEST_TOKENS, fh)
    return os.fspath(path)
