"""`@every("<setting>")`: run a service method periodically, the interval read from Settings.

Nameko's own `timer` takes its interval when the class is defined; ours comes from the
environment (12-factor), so it is read at container setup. One run at a time: the next
starts `interval` seconds after the previous one finished, never overlapping it.
"""
from __future__ import annotations

import logging
from functools import partial

from eventlet.event import Event
from nameko.extensions import Entrypoint

log = logging.getLogger(__name__)


class Every(Entrypoint):
    def __init__(self, setting: str, at_start: bool = True, **kwargs):
        self.setting = setting
        self.at_start = at_start
        super().__init__(**kwargs)

    def setup(self):
        self.interval = float(getattr(self.container.config["GM_SETTINGS"], self.setting))
        self._stopping = False
        self._wake = Event()

    def start(self):
        self.container.spawn_managed_thread(self._run, identifier=f"every:{self.method_name}")

    def stop(self):
        self._stopping = True
        if not self._wake.ready():
            self._wake.send(None)
        super().stop()

    def kill(self):
        self.stop()

    def _run(self):
        if not self.at_start:
            self._sleep()
        while not self._stopping:
            done = Event()
            self.container.spawn_worker(self, (), {},
                                        handle_result=partial(self._handle_result, done))
            done.wait()
            self._sleep()

    def _sleep(self):
        self._wake.wait(self.interval)

    @staticmethod
    def _handle_result(done, worker_ctx, result, exc_info):
        done.send(None)  # Nameko has already logged a failure; the next run retries
        return result, exc_info


every = Every.decorator
