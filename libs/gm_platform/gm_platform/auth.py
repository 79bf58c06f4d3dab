"""Bearer tokens, roles and region scopes (CONTRACT.md §5).

Tokens live in the JSON file named by GM_TOKENS_FILE. The file is re-read when it
changes, so operators rotate tokens without a restart. Token comparison is constant-time.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

log = logging.getLogger(__name__)

ROLES = ("clerk", "mediator", "leader", "analyst", "admin")


class HttpError(Exception):
    status = 500

    def body(self) -> dict:
        return {"error": str(self)}


class Unauthorized(HttpError):
    status = 401


class Forbidden(HttpError):
    status = 403


class NotFound(HttpError):
    status = 404


class Conflict(HttpError):
    status = 409


class PayloadTooLarge(HttpError):
    status = 413


class BadRequest(HttpError):
    """400 with field-level errors: {"errors": {"<field>": ["..."]}}."""

    status = 400

    def __init__(self, errors: dict):
        super().__init__("invalid request")
        self.errors = errors

    def body(self) -> dict:
        return {"errors": self.errors}


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: Tuple[str, ...]
    regions: Optional[Tuple[str, ...]] = None  # None: every region

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)

    def may_see_region(self, region: Optional[str]) -> bool:
        if self.regions is None:
            return True
        return bool(region) and any(region.startswith(r) for r in self.regions)

    def require_region(self, region: Optional[str], what: str = "the case's region") -> None:
        """`region`: a region or a unit's division code (both start with the region's)."""
        if not self.may_see_region(region):
            raise Forbidden(f"this token does not cover {what}")


class TokensFileError(ValueError):
    """A tokens file that cannot be used: `file: field: problem` (never a token's value)."""

    def __init__(self, path: str, field: str, problem: str):
        self.path, self.field, self.problem = path, field, problem
        super().__init__(f"{path}: {field}: {problem}" if field else f"{path}: {problem}")


class TokenFile:
    """The tokens of GM_TOKENS_FILE; a file that cannot be used raises TokensFileError at
    start (a service then refuses to start) and keeps the last good tokens later."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self._lock = threading.Lock()
        self._mtime: Optional[float] = None
        self._tokens: Tuple[Tuple[bytes, Principal], ...] = ()
        if path:
            self._reload()  # a broken file stops start-up instead of failing every request

    def _read(self):
        try:
            mtime = os.stat(self.path).st_mtime  # before reading: an edit in between is re-read
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise TokensFileError(self.path, "", f"cannot read it: {exc.strerror or exc}") \
                from None
        try:
            return mtime, json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise TokensFileError(self.path, "", "not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise TokensFileError(f"{self.path}:{exc.lineno}", "",
                                  f"not JSON: {exc.msg} (column {exc.colno})") from None

    def _reload(self) -> None:
        mtime, doc = self._read()
        entries = doc.get("tokens") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise TokensFileError(self.path, "tokens", "expected an object with a list of tokens")
        tokens = []
        for i, entry in enumerate(entries):
            where = f"tokens[{i}]"
            if not isinstance(entry, dict):
                raise TokensFileError(self.path, where, "must be an object")
            roles = entry.get("roles") or ()
            if not isinstance(roles, list):
                raise TokensFileError(self.path, f"{where}.roles", "must be a list of roles")
            unknown = [r for r in roles if r not in ROLES]
            if unknown:
                raise TokensFileError(self.path, f"{where}.roles",
                                      f"unknown role {unknown[0]!r}; one of {', '.join(ROLES)}")
            if not isinstance(entry.get("token"), str) or not entry["token"] \
                    or not isinstance(entry.get("subject"), str) or not entry["subject"]:
                raise TokensFileError(self.path, where, "needs a token and a subject")
            regions = entry.get("regions")
            if regions is not None and (not isinstance(regions, list) or not all(
                    isinstance(r, str) and r.isdigit() for r in regions)):
                # a string would become one-character prefixes: a much wider scope
                raise TokensFileError(self.path, f"{where}.regions",
                                      "must be a list of division codes")
            tokens.append((entry["token"].encode(), Principal(
                subject=entry["subject"], roles=tuple(roles),
                # an empty list scopes the token to no region, never to every region
                regions=tuple(regions) if regions is not None else None)))
        self._tokens = tuple(tokens)
        self._mtime = mtime

    def _fresh(self) -> Tuple[Tuple[bytes, Principal], ...]:
        if not self.path:
            return ()
        try:
            if os.stat(self.path).st_mtime != self._mtime:
                with self._lock:
                    self._reload()
        except Exception as exc:
            # Keep serving with the last good tokens; never echo the file's content.
            log.error("tokens file unreadable, keeping previous tokens: %s", type(exc).__name__)
        return self._tokens

    def authenticate(self, header: Optional[str]) -> Principal:
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():  # RFC 7235: any case
            raise Unauthorized("missing bearer token")
        presented = credentials.strip().encode()
        found = None
        for secret, principal in self._fresh():
            # compare every entry so timing does not reveal which one matched
            if hmac.compare_digest(secret, presented):
                found = principal
        if found is None:
            raise Unauthorized("unknown token")
        return found

    def authorise(self, header: Optional[str], roles: Iterable[str]) -> Principal:
        principal = self.authenticate(header)
        roles = tuple(roles)
        if roles and not principal.has_role(*roles):
            raise Forbidden(f"needs role {' or '.join(roles)}")
        return principal
