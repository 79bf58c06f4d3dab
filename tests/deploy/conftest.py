"""Fixtures of the deployment tests: the parsed compose file, Dockerfiles and rendered
Kubernetes manifests, and what the services read from the environment.

Everything here reads files (and runs `kubectl kustomize`, which needs no cluster), so
these tests run everywhere in a few seconds; only test_compose_e2e.py needs Docker.
"""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gm_platform import config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DEFINITIONS_FILE = DEPLOY / "rabbitmq" / "definitions.json"
K8S = DEPLOY / "k8s"
KUSTOMIZATIONS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists()
                                      else None)

# Variables the services read that deploy/ leaves out on purpose, and why. Everything
# else in gm_platform.config.ENV_VARS must be named for every service, with its value.
DELIBERATELY_DEFAULTED = {
    "GM_STORE_URI": "every service gets its own GM_<SERVICE>_STORE_URI instead",
    "AMQP_URI": "every service connects as its own broker user, GM_<SERVICE>_AMQP_URI",
    "GM_DATA_DIR": "only the embedded SQLite store uses it; deployments use MongoDB",
}


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def compose() -> dict:
    with COMPOSE_FILE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="session")
def definitions() -> dict:
    return json.loads(DEFINITIONS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def deliberately_defaulted() -> dict:
    return dict(DELIBERATELY_DEFAULTED)


@pytest.fixture(scope="session")
def env_contract():
    """For a service: (the names it reads, the names a deployment must give it)."""

    def contract(service: str):
        reads = set(config.env_vars(service))
        return reads, reads - set(DELIBERATELY_DEFAULTED)

    return contract


@pytest.fixture(scope="session")
def rendered():
    """`rendered("base")` / `rendered("production")`: the objects kustomize builds."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (it renders deploy/k8s with its kustomize)")
    cache: dict = {}

    def render(name: str) -> list:
        if name not in cache:
            result = subprocess.run([KUBECTL, "kustomize", str(KUSTOMIZATIONS[name])],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, (
                f"`kubectl kustomize {KUSTOMIZATIONS[name]}` failed:\n{result.stderr}")
            cache[name] = [d for d in yaml.safe_load_all(result.stdout) if d]
        return cache[name]

    return render


def parse_dockerfile(path: Path) -> list:
    """A Dockerfile as (stage index, INSTRUCTION, arguments) with continuations joined."""
    instructions, stage, pending = [], -1, ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append((stage, keyword, rest.strip()))
    return instructions


@pytest.fixture(scope="session")
def dockerfile():
    return lambda service: parse_dockerfile(REPO / "services" / service / "Dockerfile")


def _exec_form(arguments: str) -> list:
    """CMD / HEALTHCHECK CMD arguments: the JSON exec form, else shell words."""
    try:
        value = json.loads(arguments)
        return value if isinstance(value, list) else [value]
    except json.JSONDecodeError:
        return shlex.split(arguments)


@pytest.fixture(scope="session")
def exec_form():
    return _exec_form
