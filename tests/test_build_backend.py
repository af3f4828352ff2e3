"""The build backend's choice of kernel (``tools/backupsim_build.py``): compile where it can, unless told.

The compilation itself, and the fall-back of a regular install whose compilation fails, are
checked by ``pytest -m compiled`` (``tests/test_compiled.py``), which builds wheels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import backupsim_build  # noqa: E402


@pytest.mark.parametrize(
    ("value", "can", "expected"),
    [
        (None, True, True),
        (None, False, False),
        ("", True, True),
        ("auto", True, True),
        ("auto", False, False),
        ("1", False, True),  # asked for: tried, and a failure fails the build
        ("0", True, False),
    ],
)
def test_compiling_follows_the_variable_and_the_machine(monkeypatch, value, can, expected):
    if value is None:
        monkeypatch.delenv("BACKUPSIM_COMPILE", raising=False)
    else:
        monkeypatch.setenv("BACKUPSIM_COMPILE", value)
    monkeypatch.setattr(backupsim_build, "can_compile", lambda: can)
    assert backupsim_build.compiling() is expected


def test_a_bad_value_names_the_variable_and_what_it_takes(monkeypatch):
    monkeypatch.setenv("BACKUPSIM_COMPILE", "yes")
    with pytest.raises(SystemExit, match=r"BACKUPSIM_COMPILE: got 'yes', expected 1 .*, 0 .* or auto"):
        backupsim_build.compiling()


def test_the_compiler_is_found_or_not(monkeypatch):
    monkeypatch.setattr(backupsim_build.sysconfig, "get_config_var", lambda name: "no-such-cc -pthread")
    assert not backupsim_build.can_compile()


def test_an_editable_install_is_pure_python_and_refuses_to_compile_when_asked(monkeypatch):
    monkeypatch.setenv("BACKUPSIM_COMPILE", "1")
    with pytest.raises(SystemExit, match="regular install"):
        backupsim_build.get_requires_for_build_editable()
    monkeypatch.delenv("BACKUPSIM_COMPILE")
    monkeypatch.setattr(backupsim_build, "can_compile", lambda: True)
    monkeypatch.setattr(backupsim_build._setuptools, "get_requires_for_build_editable", lambda settings: [])
    assert backupsim_build.get_requires_for_build_editable() == []
    # the hook's process (setup.py runs in it) then builds no extension
    assert not backupsim_build.compiling()


def test_a_wheel_that_compiles_requires_mypy_and_the_dependencies(monkeypatch):
    monkeypatch.setattr(backupsim_build._setuptools, "get_requires_for_build_wheel", lambda settings: ["wheel"])
    monkeypatch.chdir(Path(backupsim_build.__file__).resolve().parent.parent)
    monkeypatch.setenv("BACKUPSIM_COMPILE", "0")
    assert backupsim_build.get_requires_for_build_wheel() == ["wheel"]
    monkeypatch.setenv("BACKUPSIM_COMPILE", "1")
    requires = backupsim_build.get_requires_for_build_wheel()
    assert requires[:2] == ["wheel", backupsim_build.COMPILER]
    assert any(r.startswith("simpy") for r in requires)
