"""Shared helpers: a timer, the result row and the machine description."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


@dataclass
class Row:
    benchmark: str
    unit: str
    n: int
    seconds: float
    baseline_name: str
    baseline_n: int
    baseline_seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    @property
    def baseline_rate(self) -> float:
        return self.baseline_n / self.baseline_seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate


def machine() -> dict:
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    cpu: Optional[str] = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": nproc, "cpu": cpu or platform.processor() or "unknown",
            "python": platform.python_version(), "platform": platform.platform(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
