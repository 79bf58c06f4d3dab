"""Reading a YAML configuration file so that every error names its file, line and field.

The loaders (directory, rules) walk the composed node tree rather than the plain Python
values `yaml.safe_load` returns, because only nodes keep their position. Every error is a
`ConfigError` whose message reads `<file>:<line>: <field path>: <problem>`, e.g.

    deploy/directory.yaml:42: units[3].level: must be one of village, township, county, city

Lines are 1-based. A missing field is reported at the line of the mapping that lacks it.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file, line and field."""

    def __init__(self, file: str, line: Optional[int], field: str, problem: str):
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


def compose_file(path: Union[str, Path]) -> "Field":
    """Parse `path` and return its root node; syntax errors become ConfigError too."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, "", f"cannot read: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(file, line, "", f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, "", f"invalid YAML: {exc}") from exc
    if root is None:
        raise ConfigError(file, 1, "", "the file is empty")
    return Field(file, root, "")


class Field:
    """One node of a configuration document, with its field path, for checked reading."""

    def __init__(self, file: str, node: Node, path: str, line: Optional[int] = None):
        self.file = file
        self.node = node
        self.path = path
        self._line = line

    @property
    def line(self) -> int:
        """Where the field is: its key's line for a mapping's field (a block list or
        mapping value starts on the next line), else the node's own line."""
        return self._line if self._line is not None else self.node.start_mark.line + 1

    def error(self, problem: str, child: Optional[str] = None) -> ConfigError:
        path = self.path
        if child is not None:
            path = f"{path}.{child}" if path else child
        return ConfigError(self.file, self.line, path or "(document)", problem)

    # -- containers ------------------------------------------------------------------

    def mapping(self, required: Iterable[str] = (), optional: Iterable[str] = ()) -> Dict[str, "Field"]:
        """The fields of a mapping: unknown and duplicate keys are errors, as are missing
        required ones. Optional fields that are absent are simply not in the result."""
        if not isinstance(self.node, MappingNode):
            raise self.error("must be a mapping")
        required = tuple(required)
        allowed = set(required) | set(optional)
        fields: Dict[str, Field] = {}
        for key_node, value_node in self.node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None or key_node.tag != _STR:
                raise Field(self.file, key_node, self.path).error("keys must be plain names")
            child = Field(self.file, value_node, f"{self.path}.{key}" if self.path else key,
                          line=key_node.start_mark.line + 1)
            if key in fields:
                raise Field(self.file, key_node, child.path).error(
                    f"duplicate field (first at line {fields[key].line})")
            if key not in allowed:
                raise Field(self.file, key_node, child.path).error(
                    f"unknown field; expected one of {', '.join(sorted(allowed))}")
            fields[key] = child
        for name in required:
            if name not in fields:
                raise self.error("required field missing", child=name)
        return fields

    def sequence(self, min_len: int = 0) -> List["Field"]:
        if not isinstance(self.node, SequenceNode):
            raise self.error("must be a list")
        items = [Field(self.file, n, f"{self.path}[{i}]") for i, n in enumerate(self.node.value)]
        if len(items) < min_len:
            raise self.error(f"must have at least {min_len} item{'s' if min_len > 1 else ''}")
        return items

    # -- scalars ---------------------------------------------------------------------

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, ScalarNode) and self.node.tag == _NULL

    def _scalar(self, tags: Sequence[str], what: str) -> Any:
        if not isinstance(self.node, ScalarNode) or self.node.tag not in tags:
            raise self.error(f"must be {what}")
        return SafeConstructor().construct_object(self.node)

    def string(self, pattern: Optional[str] = None, choices: Optional[Sequence[str]] = None,
               max_len: int = 500) -> str:
        value = self._scalar((_STR,), "a string")
        if not value.strip():
            raise self.error("must not be empty")
        if len(value) > max_len:
            raise self.error(f"must be at most {max_len} characters")
        if choices is not None and value not in choices:
            raise self.error(f"must be one of {', '.join(choices)}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.error(f"must match {pattern}")
        return value

    def identifier(self) -> str:
        """A person or rule id: letters, digits, '-', '_' and '.', at most 64 characters."""
        return self.string(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

    def code(self) -> str:
        """An administrative division code (6, 9 or 12 digits). Quoting is not required:
        an unquoted code is read as its digits, never as a number."""
        if not isinstance(self.node, ScalarNode) or self.node.tag not in (_STR, _INT):
            raise self.error("must be a 6, 9 or 12 digit administrative division code")
        value = self.node.value
        if not re.fullmatch(r"\d{6}|\d{9}|\d{12}", value):
            raise self.error(f"{value!r} is not a 6, 9 or 12 digit administrative division code")
        return value

    def integer(self, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
        value = self._scalar((_INT,), "an integer")
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}")
        return value

    def boolean(self) -> bool:
        return self._scalar((_BOOL,), "true or false")

    def date(self) -> date:
        """A calendar date written YYYY-MM-DD (quoted or not)."""
        if isinstance(self.node, ScalarNode) and self.node.tag in (_STR, _TIMESTAMP):
            try:
                return date.fromisoformat(self.node.value)
            except ValueError:
                pass
        raise self.error("must be a date written YYYY-MM-DD")

    def string_list(self, choices: Optional[Sequence[str]] = None, min_len: int = 1) -> List[str]:
        """A list of distinct strings (each optionally from `choices`)."""
        values: List[str] = []
        for item in self.sequence(min_len=min_len):
            value = item.string(choices=choices)
            if value in values:
                raise item.error(f"{value} is listed twice")
            values.append(value)
        return values
