"""Bad input as one message: :class:`ConfigError`, and pydantic's errors turned into it.

Every check of the configuration ends in a :class:`ConfigError` naming the
source (a file, ``--set``, the command line), the key path, the value as the
user spelled it and what was expected; the command line prints it as one line
and exits 2.  :func:`from_validation_error` is the one place where pydantic's
validation errors become such a message.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = ["ConfigError", "Invalid", "from_validation_error"]


class ConfigError(ValueError):
    """Bad input: names the source, the key, the value and what was expected."""

    def __init__(self, key: str, value: Any, expected: str, source: str | None = None):
        self.key, self.value, self.expected, self.source = key, value, expected, source
        where = f"{_printable(source)}: " if source else ""
        shown, key_shown = repr(value), _printable(key)
        if len(shown) > 200:  # one readable line, whatever was given
            shown = f"{shown[:120]}... ({len(shown)} characters)"
        if len(key_shown) > 200:
            key_shown = f"{key_shown[:120]}... ({len(key_shown)} characters)"
        super().__init__(f"{where}key '{key_shown}': got {shown}, expected {_printable(expected)}")

    def __reduce__(self):
        # picklable, so an error raised in a worker process reaches the batch intact
        return (ConfigError, (self.key, self.value, self.expected, self.source))


def _printable(text: Any) -> str:
    """``text`` on one line: control characters (a newline in a key or a file name) escaped."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]


class Invalid(ValueError):
    """A cross-field check failed on ``field`` of the section being validated."""

    def __init__(self, field: str, value: Any, expected: str):
        self.field, self.value, self.expected = field, value, expected
        super().__init__(f"{field}: got {value!r}, expected {expected}")


_EXPECTED = {
    "finite_number": "a finite number",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a table",
    "model_type": "a table",
    "tuple_type": "a list",
    "list_type": "a list",
}


def _raw(data: Any, path: list[str]) -> Any:
    node = data
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return _MISSING
        node = node[p]
    return node


_MISSING = object()


def from_validation_error(err: ValidationError, data: dict, source: str | None, prefix: str = "") -> ConfigError:
    """The first pydantic error as a :class:`ConfigError` with the user's own spelling.

    ``data`` is what was validated (to show the value as the user wrote it);
    ``prefix`` is put before the key when ``data`` is one section (``"policy."``).
    """
    e = _convert(err, data, source)
    return ConfigError(prefix + e.key, e.value, e.expected, source) if prefix else e


def _convert(err: ValidationError, data: dict, source: str | None) -> ConfigError:
    first = err.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    ctx = first.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, ConfigError):
        return ConfigError(inner.key, inner.value, inner.expected, source)
    if isinstance(inner, Invalid):
        path = loc + inner.field.split(".") if "." not in inner.field else inner.field.split(".")
        raw = _raw(data, path)
        return ConfigError(".".join(path), inner.value if raw is _MISSING else raw, inner.expected, source)
    key = ".".join(p for p in loc if not p.startswith(("function-", "tagged-union", "literal[")))
    raw = _raw(data, key.split("."))
    value = first.get("input") if raw is _MISSING else raw
    kind = first["type"]
    if kind == "extra_forbidden":
        return ConfigError(key, value, "a known key (`backupsim list` shows them); this key does not exist", source)
    if kind == "literal_error":
        return ConfigError(key, value, "one of " + str(ctx.get("expected")), source)
    if kind in _EXPECTED:
        return ConfigError(key, value, _EXPECTED[kind], source)
    for bound, text in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx and kind.startswith(("greater", "less")):
            return ConfigError(key, value, f"a value {text} {ctx[bound]}", source)
    msg = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if msg.startswith("expected "):
        msg = msg[len("expected ") :].split(", got ")[0]
    return ConfigError(key, value, msg, source)
