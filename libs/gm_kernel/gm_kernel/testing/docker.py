"""Is there a Docker engine with Compose here? Tests that need one skip with the reason.

Decided in well under a second where there is no engine, and never by letting a
pytest-docker fixture fail.
"""
from __future__ import annotations

import shutil
import subprocess
from typing import Optional


def run(*command: str, timeout: float = 20) -> Optional[subprocess.CompletedProcess]:
    """The command's result, or None if it cannot be run or exceeds `timeout` seconds."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def compose_command(timeout: float = 20) -> Optional[str]:
    """`docker compose` (v2) or `docker-compose` (v1), whichever is installed, else None."""
    result = run("docker", "compose", "version", timeout=timeout)
    if result is not None and result.returncode == 0:
        return "docker compose"
    return "docker-compose" if shutil.which("docker-compose") else None


def why_no_docker(timeout: float = 20) -> Optional[str]:
    """None where containers can run, else why not (for a skip reason); `timeout` bounds
    each docker command asked."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    info = run("docker", "info", "--format", "{{.ServerVersion}}", timeout=timeout)
    if info is None or info.returncode != 0:
        detail = "timed out" if info is None else (
            (info.stderr.strip().splitlines() or ["no answer"])[-1])
        return f"no Docker engine (`docker info` failed: {detail})"
    if compose_command(timeout) is None:
        return "Docker Compose is not installed (neither `docker compose` nor docker-compose)"
    return None
