"""The one HTTP entrypoint every route uses: authentication first, JSON in and out.

`@api("POST", "/cases", roles=("clerk",))` checks the bearer token and role before any
service code runs and passes the `principal`; `public=True` is the explicit exception
(health, metrics). Errors become the bodies CONTRACT.md §5 defines; nothing else leaks.
A body over GM_HTTP_MAX_BODY is refused with 413 before it is read whole (CONTRACT.md §7).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from functools import partial
from typing import Any, Optional

from eventlet.event import Event
from marshmallow import Schema, ValidationError
from nameko.web.handlers import HttpRequestHandler
from werkzeug.datastructures import ImmutableDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import Map, PathConverter
from werkzeug.wrappers import Response

from gm_contracts.fields import bound_errors, flatten_errors, unpaired_surrogates
from gm_kernel import ConcurrencyError, DomainError, NotRecorded, Refused

from . import metrics
from .messagebus import MAX_KEY, Caller, IdempotencyKeyReused
# Handlers raise these to get CONTRACT.md §5's status codes.
from .auth import (  # noqa: F401
    BadRequest, Conflict, Forbidden, HttpError, NotFound, PayloadTooLarge, Principal, TokenFile,
    Unauthorized,
)

log = logging.getLogger(__name__)

_token_files: dict = {}


def token_file(path: Optional[str]) -> TokenFile:
    if path not in _token_files:
        _token_files[path] = TokenFile(path)
    return _token_files[path]


def json_response(payload: Any, status: int = 200, headers: Optional[dict] = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, default=str), status=status,
                    headers=headers, mimetype="application/json")


def load_body(request, schema: Schema) -> dict:
    """Parse and validate a JSON body; any problem is a 400 with field-level errors."""
    # ApiHandler.handle_request sets the limit one byte past what is allowed; a request
    # made otherwise (a unit test's) has none.
    limit = (request.max_content_length - 1) if request.max_content_length else None
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    if limit is not None and len(raw) > limit:  # chunked: Werkzeug stops one byte past
        raise too_large(limit)
    try:
        doc = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest({"_body": ["body must be UTF-8 JSON"]}) from None
    if not isinstance(doc, dict):
        raise BadRequest({"_body": ["body must be a JSON object"]})
    not_text = unpaired_surrogates(doc, root="_body")
    if not_text:  # "\ud800" is JSON, but no text: it can be neither stored nor answered
        raise BadRequest(bound_errors(not_text))
    try:
        return schema.load(doc)
    except ValidationError as exc:
        raise BadRequest(field_errors(exc)) from None


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body larger than {limit} bytes")


def caller(request, principal: Principal):
    """Who gives a command over HTTP: the token's subject, its region check and the
    request's `Idempotency-Key` (at most MAX_KEY characters, not blank)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not key.strip():
        raise BadRequest({"Idempotency-Key": ["must not be blank"]})
    if key is not None and len(key) > MAX_KEY:
        raise BadRequest({"Idempotency-Key": [f"at most {MAX_KEY} characters"]})
    return Caller(principal.subject, key, principal.require_region)


def field_errors(error: ValidationError) -> dict:
    """{"parties": {0: {"name": [..]}}} -> {"parties.0.name": [..]}, bounded like agency
    rejections; schema-level errors go under "_body"."""
    return bound_errors(flatten_errors(error.normalized_messages(), root="_body"))


class ApiHandler(HttpRequestHandler):
    def __init__(self, method: str, url: str, roles=(), public: bool = False, **kwargs):
        self.roles = tuple(roles)
        self.public = public
        # The client's mistakes (4xx) are logged by Nameko as warnings, not errors.
        kwargs.setdefault("expected_exceptions",
                          (HttpError, ValidationError, DomainError, ConcurrencyError,
                           NotRecorded))
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        request.shallow = False
        started = time.perf_counter()
        service = self.container.service_name
        settings = self.container.config["GM_SETTINGS"]
        # For bodies that do not say their length, Werkzeug stops reading here: one byte
        # more than allowed tells a body over the limit from one exactly at it.
        request.max_content_length = settings.http_max_body + 1
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # eventlet's wsgi.Input decodes chunks and ends at the last one, but does not
            # say so; without this flag Werkzeug would read a chunked body as empty.
            request.environ["wsgi.input_terminated"] = True
        try:
            # Refused from its header alone: a large body is never read, nor is a token
            # needed to learn the limit.
            if (request.content_length or 0) > settings.http_max_body:
                raise too_large(settings.http_max_body)
            args, kwargs = self.get_entrypoint_parameters(request)
            if not self.public:
                kwargs["principal"] = token_file(settings.tokens_file).authorise(
                    request.headers.get("Authorization"), self.roles)
            event = Event()
            self.container.spawn_worker(
                self, args, kwargs,
                context_data={"correlation_id": request.headers.get("X-Correlation-Id"),
                              "causation_id": request.headers.get("X-Request-Id")
                              or f"http:{uuid.uuid4()}"},
                handle_result=partial(self.handle_result, event))
            response = self.response_from_result(event.wait())
        except Exception as exc:
            response = self.response_from_exception(exc)
        metrics.HTTP_REQUESTS.labels(service, request.method, self.url,
                                     str(response.status_code)).inc()
        metrics.HANDLER_SECONDS.labels(service, self.method_name).observe(
            time.perf_counter() - started)
        return response

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status = 200
        if isinstance(result, tuple):
            status, result = result
        return json_response(result, status)

    def response_from_exception(self, exc):
        if isinstance(exc, HttpError):
            return json_response(exc.body(), exc.status)
        if isinstance(exc, ValidationError):
            return json_response({"errors": field_errors(exc)}, 400)
        # The service layer speaks the domain's errors; their status codes are said here.
        if isinstance(exc, Refused):
            return json_response({"errors": exc.errors}, 400)
        if isinstance(exc, NotRecorded):
            return json_response({"error": str(exc)}, 404)
        if isinstance(exc, IdempotencyKeyReused):
            # The request is well formed but cannot be processed under this key.
            return json_response({"error": str(exc)}, 422)
        if isinstance(exc, (DomainError, ConcurrencyError)):
            return json_response({"error": str(exc)}, 409)
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error in %s (incident %s)", self.method_name, incident,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return json_response({"error": "internal error", "incident": incident}, 500)


api = ApiHandler.decorator


class AnyText(PathConverter):
    """`<text:name>`: any text, slashes and line breaks included (Werkzeug's `path` stops
    at a line break, and an unmatched URL gets Nameko's HTML 404, not ours), for a value
    whose every wrong form must be answered alike (the petitioner's query code)."""

    regex = "[^/][\\s\\S]*?"


# Nameko builds its URL map with Werkzeug's defaults: the converter is added there.
Map.default_converters = ImmutableDict({**Map.default_converters, "text": AnyText})

