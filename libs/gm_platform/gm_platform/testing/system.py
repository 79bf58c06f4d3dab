"""The suite as `make run` starts it, and the people who use it (tests/system, bench).

`Suite` runs `make -s run` in this checkout exactly as a user does — the supervisor, four
OS processes, JSON logs at INFO — on a fresh RabbitMQ vhost, a temporary GM_DATA_DIR,
ports free at run time and its own tokens file, and speaks to it only through the public
contract (CONTRACT.md): `AgencyClient` is an agency on plain kombu/py-amqp, `Suite.http`
is a clerk, mediator, leader or analyst with a bearer token. Operators' reads go through
the `gm` command (`gm dlq list`). What the tests count is what an agency or a user would:
answers per message, cases per referral, dead letters, error lines in the logs.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional
from zoneinfo import ZoneInfo

import amqp
import requests
from kombu import Connection, Exchange, Queue

from gm_contracts.vocabulary import AGENCIES  # noqa: F401  (for the system tests)

ROOT = Path(__file__).resolve().parents[4]  # the checkout: make run runs here
SERVICES = ("intake", "assignment", "mediation", "reporting")
SHANGHAI = ZoneInfo("Asia/Shanghai")

TOKENS = {"tokens": [
    {"token": "sys-clerk", "subject": "clerk-sys", "roles": ["clerk"]},
    {"token": "sys-mediator", "subject": "mediator-sys", "roles": ["mediator"]},
    {"token": "sys-leader", "subject": "leader-sys", "roles": ["leader"]},
    {"token": "sys-analyst", "subject": "analyst-sys", "roles": ["analyst"]},
]}
ROLE_TOKENS = {t["roles"][0]: t["token"] for t in TOKENS["tokens"]}


def free_ports(count: int) -> List[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def report(name: str, **figures) -> None:
    """The figures a test measured, printed (pytest -s) and appended to the JSON-lines
    file GM_SYSTEM_REPORT names, if any (for the figures a closing note quotes)."""
    line = json.dumps({"test": name, **figures}, ensure_ascii=False)
    print(f"\n[system report] {line}")
    path = os.environ.get("GM_SYSTEM_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def today_local() -> str:
    return datetime.now(timezone.utc).astimezone(SHANGHAI).date().isoformat()


class Suite:
    """`make run` on its own vhost, data directory, ports and tokens.

    `service_uris`: a broker URI per service (GM_<SERVICE>_AMQP_URI: each its own user);
    `amqp_uri` is then the operator's, for `gm` (and any service given none)."""

    def __init__(self, workdir: Path, amqp_uri: str,
                 service_uris: Optional[Dict[str, str]] = None,
                 settings: Optional[Dict[str, str]] = None):
        self.workdir = Path(workdir)
        self.amqp_uri = amqp_uri
        self.service_uris = dict(service_uris or {})
        self.settings = dict(settings or {})  # more GM_* variables, e.g. GM_WATCH_INTERVAL
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "run.log"
        self.tokens_file = self.workdir / "tokens.json"
        self.tokens_file.write_text(json.dumps(TOKENS), encoding="utf-8")
        self.ports = dict(zip(SERVICES, free_ports(len(SERVICES))))
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0

    @property
    def env(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GM_")}
        env.update({
            "AMQP_URI": self.amqp_uri,
            "GM_DATA_DIR": str(self.data_dir),
            "GM_TOKENS_FILE": str(self.tokens_file),
            "GM_LOG_LEVEL": "INFO",
            "GM_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **{f"GM_{s.upper()}_PORT": str(p) for s, p in self.ports.items()},
            **self.settings,
            **{f"GM_{s.upper()}_AMQP_URI": uri for s, uri in self.service_uris.items()},
        })
        return env

    # -- the processes ---------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> "Suite":
        announced = self._announcements()
        with open(self.log_path, "ab") as log:  # O_APPEND: the processes share it
            self.proc = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        wait_until(lambda: self._announcements() > announced or self._exited(), timeout,
                   "make run to report every service healthy")
        assert not self._exited(), f"make run exited ({self.proc.returncode}):\n{self.tail()}"
        return self

    def _announcements(self) -> int:
        return self.log_text().count("gm: all services healthy")

    def _exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self, timeout: float = 30.0) -> List[str]:
        """SIGTERM to make and everything it started, as Ctrl-C in a terminal or an
        orchestrator would; returns the services that did NOT report a graceful stop
        (`<service> stopped`, after flushing their outbox)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        logged = len(self.log_text())
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            wait_until(lambda: not self.service_pids(), timeout, "every service stopped")
        except (subprocess.TimeoutExpired, AssertionError):
            self.kill()
            raise AssertionError(f"make run still running {timeout:.0f}s after SIGTERM")
        after = self.log_text()[logged:]
        return [s for s in SERVICES if f'"msg": "{s} stopped"' not in after]

    def kill(self) -> None:
        """SIGKILL to make and everything it started: a power cut, for the processes."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)
        wait_until(lambda: not self.service_pids(), 10, "every service process gone")

    def service_pids(self) -> Dict[str, int]:
        """The service processes of this run (`python -m gm_platform.serve NAME`)."""
        if self.proc is None:
            return {}
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"gm_platform.serve" not in argv or os.getpgid(int(entry.name)) != self.proc.pid:
                    continue
                stat = (entry / "stat").read_text()
            except (OSError, ProcessLookupError):
                continue
            if stat.rsplit(")", 1)[1].split()[0] == "Z":  # a zombie is gone already
                continue
            found[argv[argv.index(b"gm_platform.serve") + 1].decode()] = int(entry.name)
        return found

    def kill_service(self, service: str, timeout: float = 60.0) -> None:
        """SIGKILL one service; the supervisor starts it again. Returns once it is ready."""
        old = self.service_pids()[service]
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: self.service_pids().get(service) not in (None, old), timeout,
                   f"{service} restarted by the supervisor")
        wait_until(lambda: self.healthy(service), timeout, f"{service} healthy again")

    def healthy(self, service: str) -> bool:
        try:
            return requests.get(self.url(service, "/health"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    # -- HTTP, as the people who use it ------------------------------------------------------
    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def http(self, method: str, service: str, path: str, role: str, *, body=None,
             params=None, headers=None) -> requests.Response:
        return requests.request(method, self.url(service, path), json=body, params=params,
                                headers={"Authorization": f"Bearer {ROLE_TOKENS[role]}",
                                         **(headers or {})}, timeout=15)

    def get_json(self, service: str, path: str, role: str, **params) -> Optional[dict]:
        reply = self.http("GET", service, path, role, params=params)
        return reply.json() if reply.status_code == 200 else None

    def ledger(self, **filters) -> List[dict]:
        """Every case of reporting's ledger (台账) matching the filters, all pages."""
        items, page = [], 1
        while True:
            got = self.get_json("reporting", "/cases", "analyst", page=page, page_size=200,
                                **filters)
            items += got["items"]
            if len(items) >= got["total"] or not got["items"]:
                return items
            page += 1

    # -- the operator's view -----------------------------------------------------------------
    def dead_letters(self, service: str) -> List[dict]:
        """`gm dlq list --service S --json`, all of them."""
        proc = self.gm("dlq", "list", "--service", service, "--json", "--limit", "1000")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["items"]

    def gm(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The operator's `gm ARGS` against this suite: its exit code and output."""
        gm = Path(sys.executable).with_name("gm")
        return subprocess.run([str(gm), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT)

    def rpc(self, service: str, method: str, *args):
        """A service's RPC (e.g. `read_log`, what other services and reporting's rebuild
        read) from a process of its own, as `gm` calls it; its JSON answer."""
        code = ("import json, sys\n"
                "from gm_platform.cli import _rpc\n"
                "print(json.dumps(_rpc(sys.argv[1], sys.argv[2], *json.loads(sys.argv[3])),"
                " ensure_ascii=False))")
        proc = subprocess.run([sys.executable, "-c", code, service, method, json.dumps(args)],
                              env=self.env, capture_output=True, text=True, timeout=60,
                              cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    # -- the logs --------------------------------------------------------------------------
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_records(self) -> List[dict]:
        records = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    records.append({"level": "unparsed", "msg": line})
        return records

    def error_lines(self) -> List[str]:
        """Lines at ERROR or worse, and any traceback, in every service's log."""
        return [line for line in self.log_text().splitlines()
                if '"level": "error"' in line or '"level": "critical"' in line
                or "Traceback" in line]


# -- agencies -------------------------------------------------------------------------------------

@dataclass
class Received:
    routing_key: str
    envelope: Optional[dict]
    properties: dict
    body: bytes

    @property
    def type(self) -> str:
        return self.routing_key.split(".", 1)[1]

    @property
    def data(self) -> dict:
        return (self.envelope or {}).get("data") or {}


def envelope(type: str, agency: str, data: dict, id: Optional[str] = None) -> dict:
    return {"id": id or str(uuid.uuid4()), "type": type, "version": 1,
            "sent_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "agency": agency, "data": data}


@dataclass
class AgencyClient:
    """One agency on plain kombu (and py-amqp for properties kombu would not send),
    publishing with confirms and keeping every message its inbox received."""

    amqp_uri: str
    name: str
    inbox: List[Received] = field(default_factory=list)
    #: False for an agency's own broker user, which may configure nothing (CONTRACT.md §1):
    #: it consumes its inbox as the suite declared it.
    declare: bool = True

    def __post_init__(self):
        self.conn = Connection(self.amqp_uri, transport_options={"confirm_publish": True})
        self.conn.connect()
        self.channel = self.conn.channel()
        self._raw = None
        self.exchange = Exchange("gm.inbound", type="topic", durable=True)
        # The suite declares the inbox; declaring it the plain way must agree with that.
        self.queue = Queue(f"gm.outbound.{self.name}",
                           Exchange("gm.outbound", type="topic", durable=True),
                           routing_key=f"{self.name}.#", durable=True)

    def close(self) -> None:
        self.conn.release()

    def send(self, type: str, data: dict, *, id: Optional[str] = None,
             routing_key: Optional[str] = None) -> dict:
        env = envelope(type, self.name, data, id)
        self.publish(routing_key or f"{self.name}.{type}", json.dumps(env).encode(),
                     message_id=env["id"])
        return env

    def publish(self, routing_key: str, body: bytes, **properties) -> None:
        """Publish raw bytes; properties may be bytes that are not UTF-8 (py-amqp sends
        them as they are). Persistent and JSON unless said otherwise."""
        properties.setdefault("content_type", "application/json")
        properties.setdefault("delivery_mode", 2)
        if self._raw is None or not self._raw.is_open:
            self._raw = self.conn.connection.channel()  # py-amqp's own channel
            self._raw.confirm_select()
        # confirm_publish on the connection: returns once the broker confirmed it
        self._raw.basic_publish(amqp.Message(body, **properties), exchange="gm.inbound",
                                routing_key=routing_key)

    def collect(self, until: Callable[[List[Received]], bool], timeout: float) -> List[Received]:
        """Take inbox messages until `until(self.inbox)` holds or `timeout` passes."""
        def on_message(message):
            body = message.body  # py-amqp decodes it already when content_encoding is set
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            try:
                env = json.loads(body)
            except ValueError:
                env = None
            self.inbox.append(Received(message.delivery_info["routing_key"], env,
                                       dict(message.properties), body))
            message.ack()

        deadline = time.monotonic() + timeout
        with self.conn.Consumer(self.queue, on_message=on_message, prefetch_count=500,
                                auto_declare=self.declare):
            while not until(self.inbox) and time.monotonic() < deadline:
                try:
                    self.conn.drain_events(timeout=0.2)
                except socket.timeout:
                    pass
        return self.inbox

    def settle(self, quiet: float = 3.0, timeout: float = 120.0) -> List[Received]:
        """Everything that arrives until nothing more has come for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = len(self.inbox)
            self.collect(lambda inbox: len(inbox) > before, quiet)
            if len(self.inbox) == before:
                break
        return self.inbox

    def of_type(self, type: str) -> List[Received]:
        return [r for r in self.inbox if r.routing_key == f"{self.name}.{type}"]


def referral_data(**overrides) -> dict:
    data = {"referral_id": f"R-{uuid.uuid4().hex[:16]}", "kind": "delegated",
            "category": "neighbour", "summary": "邻里之间因排水沟发生纠纷",
            "region": "410611100",
            "parties": [{"role": "applicant", "name": "张三"},
                        {"role": "respondent", "name": "李四"}]}
    data.update(overrides)
    return data


KINDS = {"court": "delegated", "procuratorate": "criminal_reconciliation",
         "police": "minor_dispute", "petition": "petition"}


def valid_referral(agency: str, **overrides) -> dict:
    return referral_data(**{"kind": KINDS[agency], **overrides})
