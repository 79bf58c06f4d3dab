"""Strict marshmallow fields for the contract, and flattening of marshmallow errors.

The contract's JSON types are meant literally: an int is a JSON number without a fraction
(never a string or `true`), a boolean is `true` or `false` (never `1` or `"yes"`).
Loaded values stay JSON-native (timestamps remain strings) so they can be stored in
events and sent on unchanged.
"""
from __future__ import annotations

import re
import typing
from datetime import datetime

from marshmallow import ValidationError, fields, validate

from .validators import (
    REGION_CODE_PATTERN,
    format_rfc3339,
    is_canonical_uuid,
    is_rfc3339,
    is_valid_region_code,
    resident_id_problem,
)


def _with_metadata(kwargs: dict, **extra: typing.Any) -> dict:
    """Merge documentation metadata (used by the AsyncAPI generator) into field kwargs."""
    kwargs["metadata"] = {**extra, **(kwargs.get("metadata") or {})}
    return kwargs


class NotBlank(validate.Validator):
    """Reject strings of only whitespace (the empty string is left to `Length`)."""

    error = "Must not be blank."

    def __call__(self, value: str) -> str:
        if value and not value.strip():
            raise ValidationError(self.error)
        return value


def Text(min_length: int = 0, max_length: int | None = None, **kwargs: typing.Any) -> fields.String:
    """A string of `min_length`..`max_length` characters; non-blank when `min_length` >= 1."""
    validators: list = [validate.Length(min=min_length, max=max_length)]
    if min_length >= 1:
        validators.append(NotBlank())
    return fields.String(validate=validators, **kwargs)


class StrictInteger(fields.Integer):
    """An integer that must be a JSON integer: rejects "5", 5.0 and true."""

    def __init__(self, **kwargs: typing.Any) -> None:
        # marshmallow's strict mode rejects non-integral values; Number already rejects bools.
        super().__init__(strict=True, **kwargs)


class StrictBoolean(fields.Boolean):
    """A boolean that must be JSON `true` or `false`: rejects 1, "true", "yes"."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class UuidString(fields.String):
    """A UUID in its canonical 8-4-4-4-12 hex form, loaded as a lowercase string."""

    default_error_messages = {"invalid_uuid": "Not a valid UUID (8-4-4-4-12 hex digits)."}

    def __init__(self, **kwargs: typing.Any) -> None:
        super().__init__(**_with_metadata(kwargs, format="uuid"))

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_canonical_uuid(text):
            raise self.make_error("invalid_uuid")
        return text.lower()


class DateTimeString(fields.String):
    """An RFC 3339 date-time with an explicit offset, kept as a string.

    An aware `datetime` is also accepted (for the suite's own outgoing messages) and
    formatted in UTC with a `Z`.
    """

    default_error_messages = {
        "invalid_datetime": "Not a valid RFC 3339 date-time with offset (e.g. 2026-01-31T08:00:00Z).",
    }

    def __init__(self, **kwargs: typing.Any) -> None:
        super().__init__(**_with_metadata(kwargs, format="date-time"))

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise self.make_error("invalid_datetime")
            return format_rfc3339(value)
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_rfc3339(text):
            raise self.make_error("invalid_datetime")
        return text


class ResidentId(fields.String):
    """An 18-character resident id (身份证号, GB 11643-1999); a lowercase `x` is loaded as `X`."""

    def __init__(self, **kwargs: typing.Any) -> None:
        super().__init__(**_with_metadata(
            kwargs, pattern="^[0-9]{17}[0-9Xx]$",
            description="18-character resident id with a valid birth date and check digit",
        ))

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = resident_id_problem(text)
        if problem:
            raise ValidationError(problem)
        return text.upper()


class RegionCode(fields.String):
    """A 6, 9 or 12 digit administrative division code (county, township, village)."""

    def __init__(self, **kwargs: typing.Any) -> None:
        super().__init__(**_with_metadata(kwargs, pattern=REGION_CODE_PATTERN))

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_valid_region_code(text):
            raise ValidationError("Must be a 6, 9 or 12 digit administrative division code.")
        return text


class Phone(fields.String):
    """A phone number: up to 32 characters of digits, `+`, `-` and spaces, with a digit."""

    PATTERN = "^[0-9+ -]{1,32}$"
    _SHAPE = re.compile(r"[0-9+ \-]{1,32}", re.ASCII)

    def __init__(self, **kwargs: typing.Any) -> None:
        super().__init__(**_with_metadata(kwargs, pattern=self.PATTERN, maxLength=32))

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self._SHAPE.fullmatch(text) or not any(c.isdigit() for c in text):
            raise ValidationError("Must be at most 32 digits, '+', '-' or spaces.")
        return text


class BoundedList(fields.List):
    """A list whose `Length` validators run before its items are loaded.

    marshmallow validates a list's length only after loading every item, so a hostile
    list of 100 000 bad items would yield 100 000 errors; checking first yields one.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            for validator in self.validators:
                if isinstance(validator, validate.Length):
                    validator(value)
        return super()._deserialize(value, attr, data, **kwargs)


# --- error flattening -------------------------------------------------------------------

MAX_ERROR_FIELDS = 50
MAX_FIELD_NAME = 100
TRUNCATED_KEY = "_truncated"


def _clean_field_name(name: str) -> str:
    """Field names may come from unknown keys in hostile input: keep them short and printable."""
    name = "".join(c if c.isprintable() else "?" for c in name[:MAX_FIELD_NAME + 1])
    return name if len(name) <= MAX_FIELD_NAME else name[:MAX_FIELD_NAME] + "..."


def flatten_errors(messages: typing.Any, prefix: str = "", root: str = "_schema") -> dict[str, list[str]]:
    """Turn marshmallow's nested error dict into `{"a.0.b": ["message", ...]}`.

    Schema-level (`_schema`) errors are filed under their parent's path, or `root` at the top.
    """
    out: dict[str, list[str]] = {}

    def visit(node: typing.Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_schema":
                    visit(value, path)
                else:
                    name = _clean_field_name(str(key))
                    visit(value, f"{path}.{name}" if path else name)
        elif isinstance(node, (list, tuple)):
            for item in node:
                visit(item, path)
        else:
            out.setdefault(path or root, []).append(str(node))

    visit(messages, prefix)
    return out


def unpaired_surrogates(value: typing.Any, root: str = "_schema") -> dict[str, list[str]]:
    """Field errors for every string of decoded JSON (keys too) holding a lone surrogate:
    JSON's "\\ud800" escapes decode to text that UTF-8 cannot encode, so it could be
    neither stored nor echoed. Iterative: any depth the decoder accepted."""
    out: dict[str, list[str]] = {}
    stack: list[tuple[typing.Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                name = f"{path}.{_clean_field_name(str(key))}" if path else \
                    _clean_field_name(str(key))
                if isinstance(key, str) and not _is_utf8_text(key):
                    out.setdefault(name, []).append("Field name is not valid UTF-8 text.")
                stack.append((item, name))
        elif isinstance(node, list):
            stack.extend((item, f"{path}.{i}" if path else str(i))
                         for i, item in enumerate(node))
        elif isinstance(node, str) and not _is_utf8_text(node):
            out.setdefault(path or root, []).append(
                "Not valid UTF-8 text (an unpaired surrogate escape).")
    return out


def _is_utf8_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def merge_errors(target: dict[str, list[str]], more: dict[str, list[str]]) -> dict[str, list[str]]:
    """Add `more` into `target` (in place) and return `target`."""
    for key, value in more.items():
        target.setdefault(key, []).extend(value)
    return target


def bound_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Sort by field (the same message always gets the same answer) and keep at most
    MAX_ERROR_FIELDS fields so a rejection stays small, saying how many were left out."""
    ordered = sorted(errors.items())
    if len(ordered) <= MAX_ERROR_FIELDS:
        return dict(ordered)
    kept = dict(ordered[:MAX_ERROR_FIELDS])
    kept[TRUNCATED_KEY] = [f"{len(errors) - MAX_ERROR_FIELDS} more fields with errors not listed."]
    return kept
