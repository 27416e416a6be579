"""The published Bot API method and field list (``api.json``) as a request checker.

Why: python-telegram-bot builds requests from typed objects, so a misspelt field is rare, but
``api_kwargs``, a stale library or a hand-built dict can send a field Telegram has never had, or
omit a required one. Telegram silently ignores unknown fields; the stand-in rejects them so the
mistake shows up in a test. The spec also tells how to decode form-encoded values (PTB sends
every non-string value JSON-encoded), which the stand-in needs with or without the checks.

The spec file has ``{"methods": {name: {"fields": [...]}}, "types": {name: {"fields": [...],
"subtypes": [...]}}}``; each field has ``name``, ``types`` (e.g. ``["Integer", "String"]``,
``["Array of MessageEntity"]``) and ``required``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError, bad_request

PRIMITIVES = frozenset({"Integer", "String", "Boolean", "Float", "True", "InputFile"})
_INT_RE = re.compile(r"-?\d+")

# Used to decode form values when no spec file is available: fields that are always strings
# even when they look like numbers, and fields that carry JSON objects or arrays.
STRING_FIELDS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "action", "url", "secret_token",
        "language_code", "ip_address", "business_connection_id", "message_effect_id",
        "inline_message_id", "photo", "document", "thumbnail", "description", "file_id",
    }
)  # fmt: skip
JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates",
        "link_preview_options", "reply_parameters", "suggested_post_parameters",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One documented parameter or object field."""

    name: str
    types: tuple[str, ...]
    required: bool


class ApiSpec:
    """Method and type definitions loaded from Telegram's published ``api.json``."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.version = str(document.get("version", "unknown"))
        self.methods = {name: _fields(definition) for name, definition in document["methods"].items()}
        self.types = {name: _fields(definition) for name, definition in document["types"].items()}
        self.subtypes: dict[str, list[str]] = {
            name: list(definition.get("subtypes", [])) for name, definition in document["types"].items()
        }

    @classmethod
    def load(cls, path: Path | None) -> ApiSpec | None:
        """The spec at ``path``, or ``None`` when there is none (a clone without ``../shared``)."""
        if path is None or not Path(path).is_file():
            return None
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def has_method(self, method: str) -> bool:
        return method in self.methods

    def field_types(self, method: str, name: str) -> tuple[str, ...] | None:
        for field in self.methods.get(method, {}).values():
            if field.name == name:
                return field.types
        return None

    def check_request(self, method: str, params: dict[str, Any]) -> None:
        """Every required field present, no unknown field, nested objects likewise."""
        fields = self.methods[method]
        for name in params:
            if name not in fields:
                raise bad_request(
                    f'unknown parameter "{name}" for method {method} '
                    f"(not in the published Bot API, {self.version})"
                )
        for field in fields.values():
            if field.required and params.get(field.name) in (None, ""):
                raise missing_parameter(field.name)
        for name, value in params.items():
            problem = self._check_value(value, fields[name].types, name)
            if problem:
                raise bad_request(problem)

    def check_object(self, type_name: str, value: Any, path: str = "") -> str | None:
        """A description of the first problem in ``value`` as a ``type_name``, else ``None``."""
        path = path or type_name
        if self.subtypes.get(type_name):
            return self._check_union(list(self.subtypes[type_name]), value, path)
        if not isinstance(value, dict):
            return f'field "{path}" must be an object of type {type_name}'
        fields = self.types.get(type_name, {})
        for name in value:
            if name not in fields:
                return f'unknown field "{path}.{name}" (not in {type_name})'
        for field in fields.values():
            if field.required and field.name not in value:
                return f'can\'t find field "{path}.{field.name}" (required in {type_name})'
        for name, item in value.items():
            problem = self._check_value(item, fields[name].types, f"{path}.{name}")
            if problem:
                return problem
        return None

    def _check_value(self, value: Any, types: tuple[str, ...], path: str) -> str | None:
        """Recurse into objects and arrays; primitive values are left to Telegram's coercion."""
        if isinstance(value, list):
            inner = tuple(t.removeprefix("Array of ") for t in types if t.startswith("Array of "))
            for index, item in enumerate(value if inner else []):
                problem = self._check_value(item, inner, f"{path}[{index}]")
                if problem:
                    return problem
            return None
        objects = [t for t in types if t not in PRIMITIVES and not t.startswith("Array of ")]
        if isinstance(value, dict):
            return self._check_union(objects, value, path) if objects else None
        if types and not any(_is_primitive(t) for t in types):
            return f'field "{path}" must be of type {" or ".join(types)}'
        return None

    def _check_union(self, candidates: list[str], value: Any, path: str) -> str | None:
        """Valid if any candidate type accepts the value; else report the closest miss."""
        problems = [self.check_object(name, value, path) for name in candidates]
        if any(problem is None for problem in problems):
            return None
        return min((p for p in problems if p), key=_problem_rank)


def _problem_rank(problem: str) -> int:
    """Prefer 'unknown field' over 'missing field' over type mismatches when reporting."""
    for rank, marker in enumerate(("unknown field", "can't find field")):
        if marker in problem:
            return rank
    return 2


def _is_primitive(type_name: str) -> bool:
    """True for scalars and arrays of scalars (``Array of String``)."""
    while type_name.startswith("Array of "):
        type_name = type_name.removeprefix("Array of ")
    return type_name in PRIMITIVES


def _fields(definition: dict[str, Any]) -> dict[str, Field]:
    return {
        raw["name"]: Field(raw["name"], tuple(raw.get("types", [])), bool(raw.get("required")))
        for raw in definition.get("fields", [])
    }


def missing_parameter(name: str) -> ApiError:
    """Telegram's answer for an absent required parameter."""
    if name == "text":
        return bad_request("message text is empty")
    if name == "chat_id":
        return bad_request("chat_id is empty")
    return bad_request(f'parameter "{name}" is required')


def decode_value(name: str, value: Any, types: tuple[str, ...] | None) -> Any:
    """Turn a form-encoded value into what a JSON body would have carried.

    PTB sends strings as they are and every other value JSON-encoded (``"42"``, ``"true"``,
    ``'{"inline_keyboard": ...}'``). The field's documented types decide; without a spec a
    small built-in list of string and JSON fields does.
    """
    if not isinstance(value, str):
        return value
    types = types or _guess_types(name, value)
    text = value.strip()
    if not all(t in PRIMITIVES for t in types) and text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if "Integer" in types and _INT_RE.fullmatch(text):
        return int(text)
    if "Float" in types:
        try:
            return float(text)
        except ValueError:
            return value
    if ("Boolean" in types or "True" in types) and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    return value


def _guess_types(name: str, value: str) -> tuple[str, ...]:
    if name in STRING_FIELDS:
        return ("String",)
    if name in JSON_FIELDS or value.lstrip().startswith(("{", "[")):
        return ("Object",)
    if value in ("true", "false"):
        return ("Boolean",)
    return ("Integer", "String")
