"""Run one service in this process: `python -m gm_platform.serve intake`.

SIGTERM or SIGINT stops it gracefully (entrypoints stop taking work, in-flight work
finishes, the outbox is flushed), killed only if that exceeds GM_SHUTDOWN_GRACE seconds.
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # noqa: E402  must precede every other import that touches sockets

import importlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from gm_directory import ConfigError  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from . import config, logs  # noqa: E402
from .auth import TokenFile  # noqa: E402

SERVICE_CLASSES = {
    "intake": "gm_intake.service:IntakeService",
    "assignment": "gm_assignment.service:AssignmentService",
    "mediation": "gm_mediation.service:MediationService",
    "reporting": "gm_reporting.service:ReportingService",
}

log = logging.getLogger("gm_platform.serve")


def load_service_class(name: str):
    module, _, attr = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in SERVICE_CLASSES:
        print(f"usage: python -m gm_platform.serve {{{','.join(SERVICE_CLASSES)}}}",
              file=sys.stderr)
        return 2
    try:
        settings = config.load(argv[0])
    except ValueError as exc:
        print(f"{argv[0]}: cannot start: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.service, settings.log_level, settings.log_format)
    service_cls = load_service_class(settings.service)
    try:
        if settings.tokens_file:
            TokenFile(settings.tokens_file)  # TokensFileError: `file: field: problem`
        service_cls.check_config(settings)
    except (ConfigError, OSError, ValueError) as exc:
        # One clear line naming file, line and field; no traceback for an operator to read.
        log.error("%s: cannot start: %s", settings.service, exc)
        print(f"{settings.service}: cannot start: {exc}", file=sys.stderr)
        return 2
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(service_cls)

    def shutdown(signum, frame):
        eventlet.spawn_n(_stop, runner, settings.shutdown_grace, signum)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    log.info("%s listening on %s", settings.service, settings.web_address)
    runner.wait()
    log.info("%s stopped", settings.service)
    return 0


_stopping = []


def _stop(runner, grace: float, signum: int) -> None:
    if _stopping:
        return
    _stopping.append(signum)
    log.info("signal %s: stopping (grace %.0fs)", signum, grace)
    try:
        with eventlet.Timeout(grace):
            runner.stop()
    except eventlet.Timeout:
        log.error("graceful stop exceeded %.0fs; killing", grace)
        runner.kill()


if __name__ == "__main__":
    sys.exit(main())
