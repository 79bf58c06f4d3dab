"""The acceptance criterion of issue #7: the compose stack and the Kubernetes manifests
name every environment variable the services read, and nothing else.

What the services read is gm_platform.config.ENV_VARS, and the first test keeps that
list honest by reading the source: every literal `_env(...)`, `_float(...)`,
`os.environ.get(...)`, `os.environ[...]` and `os.getenv(...)` in the libraries and the
services (test helpers aside). Two variables may be left out of a deployment, each for
a stated reason (conftest.DELIBERATELY_DEFAULTED); every other one must be named for
every service, and with a value the service accepts.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gm_platform import config

READER_FUNCTIONS = {"_env", "_float", "_int", "_bool", "getenv"}


def _is_environ(node: ast.AST) -> bool:
    """os.environ (or a bare `environ`), not a WSGI request's `request.environ`."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _literal(node: ast.AST):
    """A variable name as written: "GM_X", or f"GM_{upper}_PORT" as "GM_{SERVICE}_PORT"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{SERVICE}"
                       for part in node.values)
    return None  # a variable (e.g. _float's own `_env(name)`): its callers are counted


def env_reads(source: str) -> set:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            environ_get = (isinstance(func, ast.Attribute) and func.attr == "get"
                           and _is_environ(func.value))
            if environ_get or name in READER_FUNCTIONS:
                names.add(_literal(node.args[0]))
        if isinstance(node, ast.Call):  # click options read a variable: envvar="GM_TOKEN"
            names.update(_literal(k.value) for k in node.keywords if k.arg == "envvar")
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            names.add(_literal(node.slice))
    names.discard(None)
    return names


def product_modules(repo: Path):
    """Every module of our packages that ships in an image (not tests, not test helpers)."""
    for package in sorted([*repo.glob("libs/*/gm_*"), *repo.glob("services/*/gm_*")]):
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(package).parts
            if "testing" in parts or "tests" in parts or path.stem == "testing":
                continue
            yield path


def test_the_registry_lists_exactly_what_the_source_reads(repo):
    service_reads, cli_reads = set(), set()
    for path in product_modules(repo):
        reads = env_reads(path.read_text(encoding="utf-8"))
        is_cli = path.name == "cli.py" or "commands" in path.parts  # `gm` and its commands
        (cli_reads if is_cli else service_reads).update(reads)
    assert service_reads == set(config.ENV_VARS), (
        "gm_platform.config.ENV_VARS is out of step with the code: "
        f"read but not listed {sorted(service_reads - set(config.ENV_VARS))}, "
        f"listed but not read {sorted(set(config.ENV_VARS) - service_reads)}; "
        "update ENV_VARS, then deploy/ (compose, k8s) and the README's table")
    assert cli_reads == set(config.CLI_ENV_VARS)


def test_the_source_scan_sees_the_forms_the_code_uses():
    source = ("import os\n_env('A')\n_float('B', 1.0)\nos.environ.get('C')\n"
              "os.environ['D']\nos.getenv('E')\n_env(f'GM_{upper}_PORT')\n_env(name)\n"
              "click.option('--token', envvar='F')\nrequest.environ['wsgi.x']\n")
    assert env_reads(source) == {"A", "B", "C", "D", "E", "F", "GM_{SERVICE}_PORT"}


def _check(named: set, service: str, env_contract, where: str):
    reads, required = env_contract(service)
    assert named <= reads, f"{where} names variables {service} never reads: {sorted(named - reads)}"
    assert required <= named, f"{where} leaves out variables {service} reads: {sorted(required - named)}"


def _loads(service: str, env: dict, monkeypatch) -> config.Settings:
    """The service's own configuration loader accepts these values."""
    for name in config.env_vars(service):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = config.load(service)
    settings.nameko_config()  # GM_MAX_WORKERS is read here
    return settings


@pytest.mark.parametrize("service", config.SERVICES)
def test_compose_names_every_variable_the_service_reads_and_nothing_else(
        service, compose, env_contract, monkeypatch):
    env = compose["services"][service]["environment"]
    assert isinstance(env, dict), "write each service's environment as a mapping"
    _check(set(env), service, env_contract, f"deploy/docker-compose.yml ({service})")
    settings = _loads(service, env, monkeypatch)
    assert settings.http_port == config.DEFAULT_PORTS[service]


def _container_env(deployment: dict, configmaps: dict) -> dict:
    """Name -> value (None for a Secret reference) of the service container's environment."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for source in container.get("envFrom", []):
        assert set(source) <= {"configMapRef", "prefix"} and "prefix" not in source, (
            "envFrom only from ConfigMaps, unprefixed: a Secret's keys cannot be checked here")
        env.update(configmaps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


@pytest.mark.parametrize("overlay", ["base", "production"])
def test_k8s_names_every_variable_the_service_reads_and_nothing_else(
        overlay, rendered, env_contract, monkeypatch):
    objects = rendered(overlay)
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objects
                  if o["kind"] == "ConfigMap"}
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert set(deployments) == set(config.SERVICES)
    for service, deployment in deployments.items():
        env = _container_env(deployment, configmaps)
        _check(set(env), service, env_contract, f"deploy/k8s/{overlay} ({service})")
        secret_backed = {name for name, value in env.items() if value is None}
        assert secret_backed == {f"GM_{service.upper()}_AMQP_URI",
                                 f"GM_{service.upper()}_STORE_URI",
                                 "GM_MASTER_KEY", "GM_QUERY_CODE_KEY"}, (
            "credentials (broker and store URIs, the master key, the query codes' key) come "
            "from Secrets, everything else is plain")
        stand_ins = {f"GM_{service.upper()}_AMQP_URI":
                     f"amqp://{service}:secret@gm-rabbitmq:5672/",
                     f"GM_{service.upper()}_STORE_URI": f"mongodb://gm-mongodb-svc/gm_{service}",
                     "GM_MASTER_KEY": "a2V5LWZvci10aGUtc3RhbmQtaW4tb2YtYS1zZWNyZXQ=",
                     "GM_QUERY_CODE_KEY": "a-stand-in-of-the-query-code-secret"}
        settings = _loads(service, {**env, **stand_ins}, monkeypatch)
        assert settings.http_port == config.DEFAULT_PORTS[service]


def test_the_shared_configmap_holds_only_settings_every_service_reads(rendered):
    shared = set.intersection(*(set(config.env_vars(s)) for s in config.SERVICES))
    for o in rendered("base"):
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("gm-config"):
            assert set(o["data"]) <= shared, sorted(set(o["data"]) - shared)
            break
    else:
        pytest.fail("no gm-config ConfigMap in deploy/k8s/base")


def test_compose_time_settings_are_not_mistaken_for_service_variables(repo):
    import re

    text = (repo / "deploy" / "docker-compose.yml").read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    everything_read = set().union(*(config.env_vars(s) for s in config.SERVICES))
    assert interpolated and all(name.startswith("DEPLOY_") for name in interpolated), interpolated
    assert not interpolated & everything_read
