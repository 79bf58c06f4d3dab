"""12-factor configuration: every setting comes from an environment variable.

The README's configuration table lists each variable read here; keep them in step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

SERVICES = ("intake", "assignment", "mediation", "reporting")
DEFAULT_PORTS = {"intake": 8001, "assignment": 8002, "mediation": 8003, "reporting": 8004}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = _env(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    service: str
    amqp_uri: str
    data_dir: str
    store_uri: str | None
    http_host: str
    http_port: int
    tokens_file: str | None
    directory_file: str
    rules_file: str
    calendar_file: str
    timezone: str
    shutdown_grace: float
    relay_interval: float
    relay_lease: float
    retention_days: float
    prune_interval: float
    watch_interval: float
    catchup_interval: float
    rpc_timeout: float
    log_level: str
    log_format: str
    http_max_body: int = 256 * 1024
    health_interval: float = 5.0
    # Never in a repr (logs, tracebacks).
    master_key: str | None = field(default=None, repr=False)
    query_code_key: str | None = None
    status_limit: int = 10

    @property
    def web_address(self) -> str:
        return f"{self.http_host}:{self.http_port}"

    def nameko_config(self) -> dict:
        return {
            "AMQP_URI": self.amqp_uri,
            "WEB_SERVER_ADDRESS": self.web_address,
            "GM_SETTINGS": self,
            # Workers per service process; SQLite serialises writes anyway.
            "max_workers": int(_env("GM_MAX_WORKERS", "20")),
        }


def _int(name: str, default: int) -> int:
    raw = _env(name)
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def load(service: str) -> Settings:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    upper = service.upper()
    port = _int(f"GM_{upper}_PORT", DEFAULT_PORTS[service])
    return Settings(
        service=service,
        # A per-service URI wins: each service its own broker user (README, "Broker users").
        amqp_uri=_env(f"GM_{upper}_AMQP_URI",
                      _env("AMQP_URI", "amqp://guest:guest@localhost:5672/")),
        data_dir=_env("GM_DATA_DIR", "./var"),
        # A per-service URI wins over the shared one; none means SQLite under GM_DATA_DIR.
        store_uri=_env(f"GM_{upper}_STORE_URI", _env("GM_STORE_URI")),
        http_host=_env("GM_HTTP_HOST", "0.0.0.0"),
        http_port=port,
        tokens_file=_env("GM_TOKENS_FILE"),
        directory_file=_env("GM_DIRECTORY_FILE", "deploy/directory.yaml"),
        rules_file=_env("GM_RULES_FILE", "deploy/rules.yaml"),
        # The working-day calendar (statutory holidays and make-up working days per year).
        calendar_file=_env("GM_CALENDAR_FILE", "deploy/calendar.yaml"),
        timezone=_env("GM_TIMEZONE", "Asia/Shanghai"),
        shutdown_grace=_float("GM_SHUTDOWN_GRACE", 8.0),
        relay_interval=_float("GM_RELAY_INTERVAL", 0.5),
        # Replicas: one relay publishes, holding a lease it renews; another takes over
        # within this many seconds of the holder's death.
        relay_lease=_float("GM_RELAY_LEASE", 10.0),
        # Sent messages, idempotency keys and superseded tracking records are forgotten
        # after this many days (an agency re-sending a message within them gets the same
        # answer), checked every GM_PRUNE_INTERVAL seconds.
        retention_days=_float("GM_RETENTION_DAYS", 90.0),
        prune_interval=_float("GM_PRUNE_INTERVAL", 3600.0),
        # Assignment's deadline watch runs this often (one replica acts per tick).
        watch_interval=_float("GM_WATCH_INTERVAL", 60.0),
        # How often a consumer of another service's events reads that service's log for
        # anything the broker did not deliver (catch-up), and how long such a read waits.
        catchup_interval=_float("GM_CATCHUP_INTERVAL", 30.0),
        rpc_timeout=_float("GM_RPC_TIMEOUT", 10.0),
        log_level=_env("GM_LOG_LEVEL", "INFO").upper(),
        log_format=_env("GM_LOG_FORMAT", "json"),
        # HTTP request bodies larger than this many bytes are refused with 413 before
        # they are read whole (CONTRACT.md §7: 256 KiB).
        http_max_body=_int("GM_HTTP_MAX_BODY", 256 * 1024),
        # /health answers from a readiness check run this often, never from a broker
        # connection opened per request.
        health_interval=_float("GM_HEALTH_INTERVAL", 5.0),
        # Base64 of 32 bytes, the same for every service: wraps the data keys that seal
        # personal data at rest (gm_kernel.privacy). Unset: a development key generated
        # into GM_DATA_DIR, with a warning — never in a deployment.
        master_key=_env("GM_MASTER_KEY"),
        # The key of the petitioners' query codes' digests (gm_platform.query_codes):
        # intake and reporting need the same secret; unset, a development key is used.
        query_code_key=_env("GM_QUERY_CODE_KEY"),
        # Reporting's public status page: requests one client address may make in a
        # burst, refilled at that many per minute (a token bucket; 429 beyond it).
        status_limit=_int("GM_STATUS_LIMIT", 10),
    )


# Every environment variable a service process reads (load() and nameko_config() above,
# the store factory's GM_DATA_DIR, the supervisor's GM_SHUTDOWN_GRACE). "{SERVICE}" is the
# service's name in upper case (GM_INTAKE_PORT, ...). deploy/ names these and nothing else;
# tests/deploy checks this list against the source and against the compose file and the
# Kubernetes manifests, so add a variable here when you add one above.
ENV_VARS = (
    "AMQP_URI", "GM_{SERVICE}_AMQP_URI", "GM_DATA_DIR", "GM_STORE_URI",
    "GM_{SERVICE}_STORE_URI", "GM_HTTP_HOST",
    "GM_{SERVICE}_PORT", "GM_TOKENS_FILE", "GM_DIRECTORY_FILE", "GM_RULES_FILE", "GM_CALENDAR_FILE",
    "GM_TIMEZONE", "GM_SHUTDOWN_GRACE", "GM_RELAY_INTERVAL", "GM_RELAY_LEASE",
    "GM_RETENTION_DAYS", "GM_PRUNE_INTERVAL", "GM_WATCH_INTERVAL",
    "GM_CATCHUP_INTERVAL", "GM_RPC_TIMEOUT", "GM_MAX_WORKERS", "GM_LOG_LEVEL", "GM_LOG_FORMAT",
    "GM_HTTP_MAX_BODY", "GM_HEALTH_INTERVAL", "GM_QUERY_CODE_KEY", "GM_STATUS_LIMIT",
    "GM_MASTER_KEY",
)
# Read by the command line `gm` (cli.py, commands/) only, not by the services: the broker,
# RabbitMQ's management API, the bearer token, and where each service answers
# (GM_{SERVICE}_URL, else localhost on GM_{SERVICE}_PORT).
CLI_ENV_VARS = ("AMQP_URI", "GM_RABBIT_API", "GM_TOKEN", "GM_{SERVICE}_URL",
                "GM_{SERVICE}_PORT")


def env_vars(service: str) -> tuple:
    """The environment variables `service` reads: ENV_VARS with its name filled in."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return tuple(name.replace("{SERVICE}", service.upper()) for name in ENV_VARS)
