"""Configuration is checked before a service starts: a tokens file that is missing or
malformed stops it with one line, `<service>: cannot start: <file>: <problem>`, exit 2
(so `make run` stops instead of restarting it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("service, content, problem", [
    ("intake", None, "cannot read it: No such file or directory"),
    ("mediation", '{"tokens": [', ":1: not JSON: Expecting value (column 13)"),
    ("reporting", json.dumps({"tokens": [{"token": "s3cret", "subject": "x", "roles": ["boss"]}]}),
     ": tokens[0].roles: unknown role 'boss'"),
    ("assignment", json.dumps({"tokens": {"t": 1}}), ": tokens: expected an object"),
])
def test_a_missing_or_malformed_tokens_file_stops_start_up(tmp_path, service, content, problem):
    path = tmp_path / "tokens.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    env = {**os.environ, "GM_TOKENS_FILE": str(path), "GM_DATA_DIR": str(tmp_path / "data"),
           "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}
    proc = subprocess.run([sys.executable, "-m", "gm_platform.serve", service], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{service}: cannot start: {path}"), last
    assert problem in last, last
    assert "Traceback" not in proc.stderr and "s3cret" not in proc.stderr


@pytest.mark.parametrize("second_key, problem", [
    ("b" * 32, "does not open the key store"),
    ("short", "must be base64 of 32 bytes"),
])
def test_a_master_key_that_is_not_the_key_stores_stops_start_up(tmp_path, second_key, problem):
    """A service never seals new data under a key that cannot open what it sealed before:
    the wrong GM_MASTER_KEY stops it with one line, exit 2, and the key is not echoed."""
    import base64

    from gm_kernel.privacy import open_vault

    data = tmp_path / "data"
    first = base64.b64encode(b"a" * 32).decode()
    open_vault(None, "intake", str(data), first).keys.close()  # the store's first start
    wrong = base64.b64encode(second_key.encode()).decode()
    env = {**os.environ, "GM_DATA_DIR": str(data), "GM_MASTER_KEY": wrong,
           "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}
    env.pop("GM_TOKENS_FILE", None)
    proc = subprocess.run([sys.executable, "-m", "gm_platform.serve", "intake"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("intake: cannot start: GM_MASTER_KEY"), last
    assert problem in last, last
    assert "Traceback" not in proc.stderr and wrong not in proc.stderr
