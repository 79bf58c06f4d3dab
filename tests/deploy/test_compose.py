"""deploy/docker-compose.yml: the single-host stack (`make up` / `make down`)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from gm_kernel.store.factory import mongo_database_name
from gm_kernel.testing.docker import compose_command
from gm_platform import config

INFRASTRUCTURE = ("rabbitmq", "mongo")
DEFAULT_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}")


def with_defaults(value: str) -> str:
    """A compose value as `docker compose` reads it when no DEPLOY_* variable is set."""
    return DEFAULT_INTERPOLATION.sub(lambda m: m.group(1), value)


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|s|m|h)", duration))


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL"), "healthcheck.test runs a command"
    return " ".join(test[1:])


def test_the_stack_has_the_broker_the_database_and_the_four_services(compose):
    assert set(compose["services"]) == {*INFRASTRUCTURE, *config.SERVICES}
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped"


def test_rabbitmq_loads_the_definitions_at_boot(compose, repo):
    rabbit = compose["services"]["rabbitmq"]
    assert rabbit["image"].startswith("rabbitmq:3.10-management")
    mounts = {m.split(":")[1]: (repo / "deploy" / m.split(":")[0]).resolve()
              for m in rabbit["volumes"] if m.startswith("./")}
    conf = mounts["/etc/rabbitmq/rabbitmq.conf"]
    assert conf == (repo / "deploy/rabbitmq/rabbitmq.conf").resolve() and conf.exists()
    (path,) = re.findall(r"^load_definitions\s*=\s*(\S+)", conf.read_text(), re.MULTILINE)
    assert mounts[path] == (repo / "deploy/rabbitmq/definitions.json").resolve()
    assert "rabbitmq-diagnostics" in healthcheck_command(rabbit)
    container_ports = {with_defaults(p).rsplit(":", 1)[1] for p in rabbit["ports"]}
    assert container_ports == {"5672", "15672"}


def test_mongo_is_a_replica_set_of_one_that_initiates_itself(compose):
    mongo = compose["services"]["mongo"]
    assert mongo["image"].split(":")[0] == "mongo" and mongo["image"].split(":")[1].startswith("7")
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    probe = healthcheck_command(mongo)
    assert "rs.initiate" in probe and "_id: 'rs0'" in probe and "host: 'mongo:27017'" in probe
    assert "isWritablePrimary" in probe, "healthy only once the member is primary"


@pytest.mark.parametrize("service", config.SERVICES)
def test_each_service_is_built_from_its_own_dockerfile_and_waits_for_its_backends(
        service, compose, repo):
    spec = compose["services"][service]
    build = spec["build"]
    assert (repo / "deploy" / build["context"]).resolve() == repo
    assert build["dockerfile"] == f"services/{service}/Dockerfile"
    assert (repo / build["dockerfile"]).exists()
    assert with_defaults(spec["image"]) == f"gm-{service}:dev"
    for backend in INFRASTRUCTURE:
        assert spec["depends_on"][backend]["condition"] == "service_healthy"

    port = config.DEFAULT_PORTS[service]
    assert [with_defaults(p).rsplit(":", 1)[1] for p in spec["ports"]] == [str(port)]
    assert f"127.0.0.1:{port}/health" in healthcheck_command(spec)
    assert seconds(spec["stop_grace_period"]) > float(spec["environment"]["GM_SHUTDOWN_GRACE"])

    env = spec["environment"]
    store = env[f"GM_{service.upper()}_STORE_URI"]
    parts = urlsplit(store)
    assert parts.scheme == "mongodb" and parts.hostname == "mongo"
    assert parse_qs(parts.query)["replicaSet"] == ["rs0"]
    assert mongo_database_name(store, service) == f"gm_{service}"
    amqp = urlsplit(env[f"GM_{service.upper()}_AMQP_URI"])
    assert amqp.hostname == "rabbitmq" and amqp.username == service  # its own broker user


def test_the_tokens_file_is_a_secret_defaulting_to_the_development_tokens(compose, repo):
    source = with_defaults(compose["secrets"]["gm_tokens"]["file"])
    assert (repo / "deploy" / source).resolve() == (repo / "deploy/dev-tokens.json").resolve()
    for service in config.SERVICES:
        spec = compose["services"][service]
        assert "gm_tokens" in spec["secrets"]
        assert spec["environment"]["GM_TOKENS_FILE"] == "/run/secrets/gm_tokens"


def test_data_files_point_at_the_copies_in_the_image(compose, dockerfile):
    for service in config.SERVICES:
        env = compose["services"][service]["environment"]
        copies = [a for _, k, a in dockerfile(service) if k == "COPY" and "directory.yaml" in a]
        destination = Path(copies[0].split()[-1])
        assert Path(env["GM_DIRECTORY_FILE"]) == destination / "directory.yaml"
        assert Path(env["GM_RULES_FILE"]) == destination / "rules.yaml"
        assert Path(env["GM_CALENDAR_FILE"]) == destination / "calendar.yaml"


def test_docker_compose_accepts_the_file(repo):
    """`docker compose config` validates the file against the Compose specification (no
    engine needed); skipped where Docker Compose is not installed."""
    command = compose_command(timeout=15)
    if command is None:
        pytest.skip("Docker Compose is not installed (neither `docker compose` nor docker-compose)")
    result = subprocess.run([*command.split(), "-f", str(repo / "deploy/docker-compose.yml"),
                             "config", "--quiet"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
