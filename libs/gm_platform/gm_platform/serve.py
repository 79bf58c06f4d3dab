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


def check_master_key(settings) -> None:
    """Open the service's key store with GM_MASTER_KEY (gm_kernel.privacy): a malformed
    key, or one that is not the key store's, stops start-up with one line and exit code 2
    rather than sealing new data under a key nobody can open later. A store that cannot be
    reached is left to the store provider (the service starts unready, as before)."""
    from gm_kernel import StoreError
    from gm_kernel.privacy import open_vault

    try:
        vault = open_vault(settings.store_uri, settings.service, settings.data_dir,
                           settings.master_key)
    except StoreError as exc:
        log.warning("%s: key store not checked at start-up: %s", settings.service, exc)
        return
    vault.keys.close()


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
        check_master_key(settings)  # MasterKeyError: malformed, or not the key store's
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
