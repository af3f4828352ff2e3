"""One registry for every kind of component: policies, workloads, devices, trace formats, backup modes.

A :class:`Registry` maps the name a scenario uses (``policy.name = "rate-limit"``,
``workload.kind = "fio"``, ``disk.model = "hdd"``, ``workload.format = "msr"``,
``backup.mode = "seed-2013"``) to the object that implements it.  Each built-in
component registers itself, once, in the module that defines it::

    from ..params import POLICIES

    @POLICIES.register("rate-limit")
    class RateLimitPolicy(Policy):
        ...

A name a registry does not hold is looked up, in this order, among

* the Python entry points of group ``backupsim.<kind>s`` of installed
  packages (``[project.entry-points."backupsim.policies"]`` in a plug-in's
  ``pyproject.toml``: ``my-policy = "my_package.policy:MyPolicy"``), and
* a ``module:attribute`` reference (``"my_policies:SlowStart"``), imported
  with the usual ``sys.path``, then from the working directory,

and registered under that name, so a user's component is validated and run
exactly as a built-in one, in worker processes and on Dask workers too (they
resolve the same name the same way).  Nothing here imports the rest of the
package.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from .errors import ConfigError, from_validation_error

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named components of one kind: ``register`` built-ins, ``get`` any (plug-ins included)."""

    def __init__(
        self,
        kind: str,
        key: str,
        check: Callable[[Any], str | None] | None = None,
        attr: str = "name",
        group: str | None = None,
    ):
        self.kind = kind  # "policy"
        self.attr = attr  # the class attribute that gets the registered name
        self.key = key  # the configuration key naming one: "policy.name"
        self.group = group or f"backupsim.{kind}s"  # entry-point group of installed plug-ins
        self.check = check  # what an entry must be: None if fine, else what was expected
        self._items: dict[str, T] = {}
        self._builtin: list[str] = []

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` (a class gets it as attribute ``attr``)."""

        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._add(name, obj)
            self._builtin.append(name)
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` (for objects that cannot carry a decorator)."""
        self._add(name, obj)
        self._builtin.append(name)
        return obj

    def _add(self, name: str, obj: T) -> None:
        self._items[name] = obj
        if isinstance(obj, type):
            try:
                setattr(obj, self.attr, name)
            except (AttributeError, TypeError):
                pass

    def names(self) -> list[str]:
        """The built-in names, in registration order."""
        return list(self._builtin)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, object)`` of the built-ins, in registration order."""
        return ((n, self._items[n]) for n in self._builtin)

    def values(self) -> Iterator[T]:
        """The built-in objects, in registration order."""
        return (self._items[n] for n in self._builtin)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._builtin)

    def __len__(self) -> int:
        return len(self._builtin)

    def expected(self) -> str:
        """What a name may be, for error messages."""
        return (
            "one of "
            + ", ".join(repr(n) for n in self._builtin)
            + f", an installed plug-in (entry point group {self.group!r}), or a 'module:Class' reference"
        )

    def get(self, name: Any, key: str | None = None) -> T:
        """The component called ``name``: built-in, installed plug-in, or ``module:attribute``."""
        key = key or self.key
        if not isinstance(name, str) or not name:
            raise ConfigError(key, name, self.expected())
        obj = self._items.get(name)
        if obj is not None:
            return obj
        obj = self._entry_point(name, key)
        if obj is None and ":" in name:
            obj = self._reference(name, key)
        if obj is None:
            raise ConfigError(key, name, self.expected())
        if self.check is not None:
            wrong = self.check(obj)
            if wrong:
                raise ConfigError(key, name, wrong)
        self._items[name] = obj
        return obj

    def section(self, data: Any, default: str, base: type) -> Any:
        """Validate a configuration table against the ``Config`` of the component it names.

        ``data`` is the table of section ``policy`` / ``workload`` (the first
        part of :attr:`key`); its naming field (the second part) defaults to
        ``default``.  An instance of ``base`` is taken as already validated.
        Errors name the key inside the section (``policy.speed``).
        """
        section, field = self.key.split(".", 1)
        if isinstance(data, base):
            return data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(section, data, f"a table with a '{field}' key")
        name = data.get(field, default)
        cls: Any = self.get(name)
        try:
            return cls.Config.model_validate({**data, field: name})
        except ValidationError as e:
            raise from_validation_error(e, data, None, section + ".") from None

    def refuse_foreign_keys(self, data: dict, name: str, section: str, label: str) -> None:
        """A key of ``data`` that entry ``name``'s ``Config`` lacks but another entry has is an error naming it.

        ``label`` is what an entry is called in the message (``"device model"``,
        ``"backup mode"``); the message says how to pick the entry that has the key.
        """
        field = self.key.split(".", 1)[1]
        entry: Any = self.get(name, f"{section}.{field}")
        entries: list[tuple[str, Any]] = list(self.items())
        for key, value in data.items():
            if key in entry.Config.model_fields:
                continue
            owner = next((n for n, c in entries if key in c.Config.model_fields), None)
            if owner is not None:
                raise ConfigError(
                    f"{section}.{key}",
                    value,
                    f"a key of {label} {name!r} ({key!r} belongs to {label.split()[-1]} {owner!r}: "
                    f"set {section}.{field} = {owner!r})",
                )

    def _entry_point(self, name: str, key: str) -> T | None:
        for ep in metadata.entry_points(group=self.group):
            if ep.name == name:
                try:
                    return ep.load()
                except Exception as e:  # a broken plug-in is the user's input: say which
                    raise ConfigError(key, name, f"an entry point that loads ({type(e).__name__}: {e})") from None
        return None

    def _reference(self, name: str, key: str) -> T | None:
        module, _, attr = name.partition(":")
        if not module or not attr:
            raise ConfigError(key, name, "a reference 'module:Class' with both parts")
        try:
            mod = _import(module)
        except ImportError as e:
            raise ConfigError(key, name, f"an importable module ({e})") from None
        except Exception as e:
            raise ConfigError(key, name, f"a module that imports cleanly ({type(e).__name__}: {e})") from None
        obj: Any = mod
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise ConfigError(key, name, f"a name defined in module {module!r}")
        return obj


def _import(module: str) -> Any:
    """Import ``module``; a module in the working directory is found too (``backupsim`` is a console script,
    whose ``sys.path`` starts with its own folder, not the user's)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        cwd = os.getcwd()
        if e.name != module.split(".")[0] or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module)
