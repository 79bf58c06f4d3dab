"""`make run`: all four services in the foreground, one process each.

SIGINT/SIGTERM is passed to every service, which stops gracefully; a service that
crashes is restarted with back-off so one failure does not take the others down.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from . import config

RESTART_LIMIT = 5
CONFIG_ERROR = 2  # serve's exit code for bad configuration: restarting cannot help


def _start(service: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gm_platform.serve", service])


def _healthy(service: str) -> bool:
    settings = config.load(service)
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
    try:
        with urllib.request.urlopen(f"http://{host}:{settings.http_port}/health",
                                    timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


def main(argv=None) -> int:
    services = (argv if argv is not None else sys.argv[1:]) or list(config.SERVICES)
    for s in services:
        config.load(s)  # fail fast on bad configuration, before starting anything
    procs = {s: _start(s) for s in services}
    restarts = {s: 0 for s in services}
    stopping = []
    failed = []

    def forward(signum, frame):
        stopping.append(signum)
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    announced = False
    started = time.monotonic()
    while True:
        if stopping:
            grace = float(os.environ.get("GM_SHUTDOWN_GRACE", "8")) + 2
            deadline = time.monotonic() + grace
            for p in procs.values():
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            return 1 if failed else 0
        for s, p in list(procs.items()):
            code = p.poll()
            if code is not None and not stopping:
                restarts[s] += 1
                if code == CONFIG_ERROR:
                    print(f"gm: {s} cannot start with this configuration; stopping all",
                          file=sys.stderr)
                    failed.append(s)
                    forward(signal.SIGTERM, None)
                    break
                if restarts[s] > RESTART_LIMIT:
                    print(f"gm: {s} keeps failing (exit {code}); stopping all", file=sys.stderr)
                    failed.append(s)
                    forward(signal.SIGTERM, None)
                    break
                print(f"gm: {s} exited with {code}; restart {restarts[s]}/{RESTART_LIMIT}",
                      file=sys.stderr)
                time.sleep(min(2 ** restarts[s], 10))
                if not stopping:  # a signal during the back-off: do not start it again
                    procs[s] = _start(s)
        if not announced and all(_healthy(s) for s in services):
            announced = True
            ports = ", ".join(f"{s} :{config.load(s).http_port}" for s in services)
            print(f"gm: all services healthy after {time.monotonic() - started:.1f}s ({ports})",
                  file=sys.stderr, flush=True)
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
