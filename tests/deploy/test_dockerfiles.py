"""One image per service: services/<svc>/Dockerfile, built from the repository root.

These read the Dockerfiles; building them needs a Docker engine (test_compose_e2e.py
builds all four where there is one).
"""
from __future__ import annotations

import re
import tomllib

import pytest

from gm_platform import config

PACKAGES = ["libs/gm_kernel", "libs/gm_contracts", "libs/gm_directory", "libs/gm_platform",
            *(f"services/{s}" for s in config.SERVICES)]
TEST_TOOLS = {"pytest", "pytest-timeout", "pytest-docker", "mongomock", "hypothesis"}  # at least


def stages(instructions):
    count = max(stage for stage, _, _ in instructions) + 1
    return [[(k, a) for s, k, a in instructions if s == i] for i in range(count)]


def args_of(stage, keyword):
    return [a for k, a in stage if k == keyword]


@pytest.mark.parametrize("service", config.SERVICES)
def test_dockerfile_is_multi_stage_with_a_slim_non_root_runtime(service, dockerfile, exec_form):
    all_stages = stages(dockerfile(service))
    assert len(all_stages) >= 2, "a builder stage and a runtime stage"
    builder, runtime = all_stages[0], all_stages[-1]
    assert args_of(builder, "FROM")[0].split()[0].startswith("python:3.11")
    assert args_of(runtime, "FROM")[0].split()[0] == "python:3.11-slim"

    # builder: wheels of the runtime requirements and of every package of ours
    wheel_step = " ".join(args_of(builder, "RUN"))
    assert "pip wheel" in wheel_step and "requirements-runtime.txt" in wheel_step
    for package in PACKAGES:
        assert package in wheel_step, f"the builder does not build a wheel of {package}"

    # runtime: only wheels installed, offline; no compilers; our data files
    runs = " ".join(args_of(runtime, "RUN"))
    assert "--no-index" in runs and "from=builder" in runs
    for lib in ("gm-kernel", "gm-contracts", "gm-directory", "gm-platform", f"gm-{service}"):
        assert re.search(rf"\b{lib}\b", runs), f"the runtime stage does not install {lib}"
    assert not re.search(r"apt-get|apk |build-essential|\bgcc\b", runs), "no compilers at runtime"
    copies = " ".join(args_of(runtime, "COPY"))
    assert "deploy/directory.yaml" in copies and "deploy/rules.yaml" in copies
    assert "deploy/calendar.yaml" in copies
    assert "dev-tokens" not in " ".join(a for _, _, a in dockerfile(service))

    user = args_of(runtime, "USER")[-1].split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) > 0)
    assert user.isdigit(), "a numeric USER lets Kubernetes verify runAsNonRoot"

    port = config.DEFAULT_PORTS[service]
    assert args_of(runtime, "EXPOSE") == [str(port)]

    (healthcheck,) = args_of(runtime, "HEALTHCHECK")
    probe = " ".join(exec_form(healthcheck.split(" CMD ", 1)[1]))
    assert f"127.0.0.1:{port}/health" in probe

    assert exec_form(args_of(runtime, "CMD")[-1]) == [
        "python", "-m", "gm_platform.serve", service]


def test_the_four_dockerfiles_are_one_template(dockerfile):
    def normalised(service):
        text = "\n".join(f"{k} {a}" for _, k, a in dockerfile(service))
        text = text.replace(" ".join(f"services/{s}" for s in config.SERVICES), "<services>")
        text = text.replace(service.upper(), "<SVC>").replace(service, "<svc>")
        return text.replace(str(config.DEFAULT_PORTS[service]), "<port>")

    reference = normalised(config.SERVICES[0])
    for service in config.SERVICES[1:]:
        assert normalised(service) == reference, f"services/{service}/Dockerfile drifted"


def test_reporting_keeps_a_marked_place_for_dashboard_assets(repo):
    text = (repo / "services" / "reporting" / "Dockerfile").read_text(encoding="utf-8")
    assert "reserved: dashboard assets" in text and "node" in text


def test_dockerignore_sends_only_what_the_dockerfiles_copy(repo, dockerfile):
    patterns = [line.strip() for line in (repo / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: ignore everything, then re-include"
    included = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for service in config.SERVICES:
        for _, keyword, arguments in dockerfile(service):
            if keyword != "COPY" or "--from" in arguments:
                continue
            *sources, _destination = arguments.split()
            for source in sources:
                source = source.rstrip("/")
                assert any(source == inc or source.startswith(inc + "/") for inc in included), (
                    f".dockerignore keeps {source} (COPY in services/{service}/Dockerfile) out")
    assert not any("dev-tokens" in inc or inc in ("deploy", ".venv", "var") for inc in included)
    assert "**/tests/" in patterns and "**/__pycache__/" in patterns


def _requirement_name(line: str) -> str:
    return re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_requirements_split_into_runtime_and_tests_at_the_marker(repo):
    """The builder keeps requirements.txt above its `# tests` line for the image."""
    lines = (repo / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "# tests" in lines, "the Dockerfiles cut requirements.txt at its '# tests' line"
    cut = lines.index("# tests")
    runtime = {_requirement_name(l) for l in lines[:cut] if l.strip() and not l.startswith("#")}
    tests = {_requirement_name(l) for l in lines[cut:] if l.strip() and not l.startswith("#")}
    assert TEST_TOOLS <= tests and not runtime & TEST_TOOLS, "test tools stay out of the image"
    # every dependency our packages declare is pinned above the marker, so it is in the image
    for package in PACKAGES:
        meta = tomllib.loads((repo / package / "pyproject.toml").read_text(encoding="utf-8"))
        for dependency in meta["project"].get("dependencies", []):
            name = _requirement_name(dependency)
            if not name.startswith("gm-"):
                assert name in runtime, f"{package} needs {name}, not pinned for the image"
