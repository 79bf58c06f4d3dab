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
