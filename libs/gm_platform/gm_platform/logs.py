"""Structured logs: one JSON object per line, with service name, correlation id (the
case, or the agency's message) and causation id (the message or request being handled).

Every Nameko worker binds its ids in a context variable (`LogContext`, per greenthread),
and every log record made while it runs carries them, whoever logs: our code, Nameko,
kombu. Fields passed explicitly with `extra=` win over bound ones, and logging never
raises over a field: the standard library's `makeRecord` raises KeyError when `extra`
names an attribute the record already has (a bound id, or `name`, `msg`...), so ours
lets a call-site field replace a bound one and renames one that would clobber a
standard attribute to `extra_<name>`.
"""
from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import datetime, timezone
from typing import Mapping

from nameko.extensions import DependencyProvider

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
CONTEXT_FIELDS = ("correlation_id", "causation_id")
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "gm_log_context", default={})


def bind(**fields) -> contextvars.Token:
    """Add fields to the current greenthread's log context; returns a token for reset."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def current() -> Mapping[str, str]:
    return _context.get()


_BOUND = "_gm_bound"  # the record attribute naming the fields the context set


def _install_record_factory() -> None:
    base = logging.getLogRecordFactory()
    if getattr(base, "gm_log_context", False):
        return

    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        bound = []
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
                bound.append(key)
        setattr(record, _BOUND, tuple(bound))
        return record

    factory.gm_log_context = True
    logging.setLogRecordFactory(factory)


def _make_record(self, name, level, fn, lno, msg, args, exc_info, func=None, extra=None,
                 sinfo=None):
    """`logging.Logger.makeRecord` that merges `extra` instead of raising over it."""
    record = logging.getLogRecordFactory()(name, level, fn, lno, msg, args, exc_info, func,
                                           sinfo)
    if extra:
        bound = getattr(record, _BOUND, ())
        for key, value in extra.items():
            if key in ("message", "asctime") or (key in record.__dict__ and key not in bound):
                key = f"extra_{key}"  # would clobber the record itself: keep it, renamed
            record.__dict__[key] = value
    return record


_install_record_factory()
logging.Logger.makeRecord = _make_record


class LogContext(DependencyProvider):
    """Binds each worker's correlation and causation ids (from its context data) for the
    records logged while it runs; every PlatformService has one."""

    def setup(self):
        self._tokens = {}

    def worker_setup(self, worker_ctx):  # runs in the worker's own greenthread
        data = worker_ctx.context_data or {}
        self._tokens[id(worker_ctx)] = bind(entrypoint=worker_ctx.entrypoint.method_name,
                                            **{k: data.get(k) for k in CONTEXT_FIELDS})

    def worker_teardown(self, worker_ctx):
        token = self._tokens.pop(id(worker_ctx), None)
        if token is not None:
            try:
                _context.reset(token)
            except ValueError:  # torn down in another context: nothing to undo there
                pass


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # extra={"correlation_id": ..., "causation_id": ...} and any other structured field
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value if isinstance(value, (str, int, float, bool, type(None))) \
                    else str(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class ExpectedErrorsWithoutTraceback(logging.Filter):
    """Nameko logs a worker's *expected* exception — a client's mistake answered 4xx, a
    command the state does not allow — at WARNING with its whole traceback. It is no
    fault of ours: keep the one line, drop the traceback (noise, and code paths that
    need not be in logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("(expected)"):
            record.exc_info = None
            record.exc_text = None
        return True


def setup(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ExpectedErrorsWithoutTraceback())
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Nameko and kombu are chatty at INFO about every connection.
    for noisy in ("nameko", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
