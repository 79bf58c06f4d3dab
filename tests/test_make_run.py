"""`make run` end to end: the supervisor starts all four services, they become healthy,
and SIGTERM stops everything gracefully with exit code 0."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.broker, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "assignment", "mediation", "reporting")
HEALTHY_WITHIN = 60.0
STOPPED_WITHIN = 10.0


def health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception:
        return None


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_supervisor_starts_all_services_healthy_and_stops_on_sigterm(tmp_path, amqp_uri,
                                                                      free_port):
    assert (ROOT / "deploy/dev-tokens.json").is_file(), ROOT
    ports = {}
    for s in SERVICES:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[s] = port
    env = {k: v for k, v in os.environ.items() if not k.startswith("GM_")}
    env.update({
        "AMQP_URI": amqp_uri,
        "GM_DATA_DIR": str(tmp_path / "data"),
        "GM_TOKENS_FILE": "deploy/dev-tokens.json",  # relative to cwd, as in `make run`
        "GM_SHUTDOWN_GRACE": "5",  # supervisor waits grace + 2 at most: inside our 10 s
        "PYTHONUNBUFFERED": "1",
        **{f"GM_{s.upper()}_PORT": str(p) for s, p in ports.items()},
    })
    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"

    def stderr_text() -> str:
        return err_path.read_text(encoding="utf-8", errors="replace")

    def diagnostics() -> str:
        return f"\n--- supervisor stderr (tail) ---\n{stderr_text()[-4000:]}"

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "gm_platform.supervise"], cwd=ROOT,
                                env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # its own group: cleanup kills all
    clean = False
    try:
        deadline = time.monotonic() + HEALTHY_WITHIN
        status = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"supervisor exited early ({proc.returncode})" \
                                        + diagnostics()
            status = {s: health(p) for s, p in ports.items()}
            if all(code == 200 for code in status.values()) \
                    and "all services healthy" in stderr_text():
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"not all healthy within {HEALTHY_WITHIN:.0f}s: {status}"
                        + diagnostics())

        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"supervisor still running {STOPPED_WITHIN:.0f}s after SIGTERM"
                        + diagnostics())
        assert code == 0, f"exit code {code}" + diagnostics()

        text = stderr_text()
        assert "all services healthy" in text
        assert "exited with" not in text, "a service crashed and was restarted" + diagnostics()
        # The supervisor waited for its services: nothing is listening any more.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(refuses(p) for p in ports.values()):
            time.sleep(0.1)
        assert all(refuses(p) for p in ports.values()), "a service outlived the supervisor"
        clean = True
    finally:
        if not clean:
            try:  # the supervisor's own group: it and the services it started, nothing else
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
