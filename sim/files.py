"""Writing files atomically: the helpers every writer of results uses.

A small module of its own, so that what writes files (:mod:`sim.store`,
:mod:`sim.review`, the figures) does not import the model to do it, and the
model does not need this module at all.

Each file is written atomically: to a temporary file in the same folder, then
renamed into place, so an interrupted write never leaves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write"]

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    Whatever ``write`` returns is ignored (``Path.write_text`` returns a count).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
