"""The results folder of a batch: per-run parts, merged tables, manifest, lock.

Layout (``docs/results.md``, results/README.md)::

    DIR/runs.parquet -> current/runs.parquet      (also runs.csv, timeline.parquet,
    DIR/current -> .gen-<batch>-<nonce>/           latency_hist.parquet, manifest.json,
    DIR/.gen-<batch>-<nonce>/                      report.md, figures)
    DIR/.parts/<identity>.{timeline,hist}.parquet, <identity>.summary.json
    DIR/.lock, DIR/.lock.owner

**One set.**  The merged files of a batch are written into a new hidden
staging folder, renamed to a generation folder ``.gen-*`` and published by
replacing the ``current`` symlink with :func:`os.replace` (one atomic
rename), so a reader that resolves ``current`` once (:func:`generation`,
:func:`sim.analysis.load`, :func:`load_results`) sees every file of one
batch.  ``DIR/runs.parquet`` and its siblings are fixed symlinks into
``current/``, so paths such as ``DIR/runs.parquet`` keep working.  Every
Parquet file carries the batch id in its schema metadata (``backupsim.batch``,
also ``batch_id`` in ``manifest.json``), and the loaders check that they
agree.  The generation before the current one is kept, for readers that
resolved it just before the swap; older ones are removed.

**Parts.**  Each finished run is stored in ``.parts/`` under its identity (a
hash of its configuration, the content of every input file it names and the
model version, see :mod:`sim.batch`): timeline and histogram first, the
summary last, each atomically; the summary records the SHA-256 of both
Parquet parts and of itself, so a truncated or damaged part is detected,
removed and recomputed.  A rerun computes only the runs without a valid part.

**Lock.**  A batch holds ``DIR/.lock`` (:mod:`filelock`, an OS lock released
by the kernel even when the holder is killed) from before it reads the parts
until it has published; ``.lock.owner`` names the holder (pid, host, start).
A second batch on the same folder refuses with that name (or waits, with
``wait``).  Under the lock, temporary files and staging folders left by a
killed batch are removed.

**Failures.**  A write that fails (a full disk) removes its staging folder
and raises :class:`ResultsError`: the previous set stays published and the
parts stored so far stay for the rerun.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import _version
from .files import atomic_write

if TYPE_CHECKING:
    from filelock import BaseFileLock

__all__ = [
    "ResultStore",
    "ResultsError",
    "load_results",
    "generation",
    "read_parquet",
    "LINKED",
    "CURRENT",
    "BATCH_KEY",
]

CURRENT = "current"
PARTS = ".parts"
LOCK = ".lock"
OWNER = ".lock.owner"
#: The names in a results folder that are symlinks into ``current/``.
LINKED = (
    "runs.parquet",
    "runs.csv",
    "timeline.parquet",
    "latency_hist.parquet",
    "manifest.json",
    "report.md",
    "figures",
)
#: Parquet schema metadata key holding the batch id.
BATCH_KEY = b"backupsim.batch"
PART_FORMAT = 1


class ResultsError(Exception):
    """A results folder that cannot be used as asked: one line for the user.

    ``status`` is the exit status of the command line: 2 when the user can fix
    the input (a busy or corrupt folder), 1 for the environment (a full disk).
    """

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def generation(root: str | os.PathLike) -> Path:
    """The folder holding the published files of results folder ``root``, resolved once.

    ``root/current`` resolved when it is a symlink; else ``root`` itself (a
    staging folder, or a folder written before generations existed).
    """
    root = Path(root)
    cur = root / CURRENT
    if cur.is_symlink():
        target = root / os.readlink(cur)
        if not target.is_dir():
            raise ResultsError(f"{cur}: points at {os.readlink(cur)}, which is missing; rerun the batch", 2)
        return target
    return root


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True, separators=(",", ":"))


def _write_parquet(df: pd.DataFrame, path: Path, batch_id: str) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[BATCH_KEY] = batch_id.encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def _as_text_where_mixed(runs: pd.DataFrame, columns: set[str]) -> pd.DataFrame:
    """Swept columns whose values are given as text at some points and as numbers at others, as text.

    A sweep may write one key both ways (``speed = "32MiB/s"`` and ``speed = 13421772``);
    Parquet needs one type per column, and the text keeps what the scenario said.
    """
    for col in columns:
        values = runs[col].dropna()
        if values.map(type).nunique() > 1 and values.map(lambda v: isinstance(v, str)).any():
            runs[col] = runs[col].map(lambda v: v if v is None or (isinstance(v, float) and v != v) else str(v))
    return runs


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def read_parquet(path: Path, shown: str | Path | None = None) -> tuple[pd.DataFrame, str | None]:
    """A Parquet file and its batch id; :class:`ResultsError` naming ``shown`` when it is unreadable."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException, ValueError) as e:
        raise ResultsError(
            f"{shown or path}: not a readable Parquet file ({_first_line(e)}); rerun `backupsim run` for this folder", 2
        ) from None
    meta = table.schema.metadata or {}
    batch = meta.get(BATCH_KEY)
    return table.to_pandas(), batch.decode() if batch is not None else None


def read_manifest(path: Path, shown: str | Path | None = None) -> dict:
    """``manifest.json`` as a dict ({} when missing); :class:`ResultsError` when it is not JSON."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultsError(
            f"{shown or path}: not a readable manifest ({_first_line(e)}); rerun `backupsim run` for this folder", 2
        ) from None
    if not isinstance(data, dict):
        raise ResultsError(f"{shown or path}: not a manifest (a JSON object); rerun `backupsim run`", 2)
    return data


class ResultStore:
    """Reads and writes one results folder (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.parts = self.root / PARTS
        self._lock: BaseFileLock | None = None

    # ------------------------------------------------------------ lock

    @contextlib.contextmanager
    def locked(
        self,
        wait: float | None = 0,
        command: str = "",
        hint: str = "rerun with --wait to wait for it, or use another --out",
    ) -> Iterator[ResultStore]:
        """Hold the folder's lock; ``wait``: seconds to wait for another holder (0 refuse, None forever).

        Raises :class:`ResultsError` (status 2) naming the holder when the
        folder stays busy.  Removes what a killed batch left behind.
        """
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / LOCK))
        try:
            lock.acquire(timeout=-1 if wait is None else max(wait, 0.0), poll_interval=0.1)
        except Timeout:
            raise ResultsError(
                f"{self.root}: another batch is writing this results folder ({self.holder()}); {hint}", 2
            ) from None
        try:
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso(), "command": command}
            atomic_write(self.root / OWNER, lambda p: p.write_text(json.dumps(owner) + "\n"))
            self._lock = lock
            self.cleanup()
            yield self
        finally:
            self._lock = None
            with contextlib.suppress(OSError):
                (self.root / OWNER).unlink()
            lock.release()

    def holder(self) -> str:
        """Who holds the lock, from ``.lock.owner`` (best effort)."""
        try:
            o = json.loads((self.root / OWNER).read_text())
            return f"pid {o['pid']} on {o['host']}, since {o['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def cleanup(self) -> None:
        """Remove temporary files and staging folders a killed batch left (call under the lock)."""
        for d in (self.root, self.parts):
            for tmp in d.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
        for staging in self.root.glob(".staging-*"):
            shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(ResultsError):
            gen = generation(self.root)
            if gen != self.root:
                for tmp in [*gen.glob(".*.tmp"), *(gen / "figures").glob(".*.tmp")]:
                    with contextlib.suppress(OSError):
                        tmp.unlink()

    # ------------------------------------------------------------ parts

    def _part(self, key: str, kind: str) -> Path:
        return self.parts / f"{key}.{kind}"

    def has(self, key: str) -> bool:
        """Is a complete, undamaged part of this run on disk?  A damaged one is removed (recomputed)."""
        f = self._part(key, "summary.json")
        if not f.exists():
            return False
        if self._valid(key):
            return True
        self.discard(key)
        return False

    def _valid(self, key: str) -> bool:
        try:
            doc = json.loads(self._part(key, "summary.json").read_text(encoding="utf-8"))
            check = doc.pop("check")
            if doc.get("format") != PART_FORMAT or doc.get("identity") != key:
                return False
            if hashlib.sha256(_canonical(doc).encode()).hexdigest() != check:
                return False
            return all(_sha256(self._part(key, kind)) == digest for kind, digest in doc["files"].items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False

    def discard(self, key: str) -> None:
        for kind in ("summary.json", "timeline.parquet", "hist.parquet"):
            with contextlib.suppress(OSError):
                self._part(key, kind).unlink()

    def put(self, key: str, summary: dict, timeline: pd.DataFrame, hist: pd.DataFrame) -> None:
        """Store one finished run under ``key``, atomically, summary (with checksums) last."""
        self.parts.mkdir(parents=True, exist_ok=True)
        files = {}
        for kind, df in (("timeline.parquet", timeline), ("hist.parquet", hist)):
            path = self._part(key, kind)
            atomic_write(path, functools.partial(df.to_parquet, index=False))
            files[kind] = _sha256(path)
        doc = {"format": PART_FORMAT, "identity": key, "summary": summary, "files": files}
        doc["check"] = hashlib.sha256(_canonical(doc).encode()).hexdigest()
        atomic_write(
            self._part(key, "summary.json"),
            lambda p: p.write_text(json.dumps(doc, sort_keys=True, allow_nan=True), encoding="utf-8"),
        )

    def summary(self, key: str) -> dict:
        return json.loads(self._part(key, "summary.json").read_text(encoding="utf-8"))["summary"]

    def stored(self, keys: Sequence[str]) -> int:
        """How many of ``keys`` have a summary part (without checking them)."""
        return sum(self._part(k, "summary.json").exists() for k in keys)

    # ------------------------------------------------------------ merged set

    def merge(self, specs, keys: Sequence[str], manifest: dict, batch_id: str) -> tuple[pd.DataFrame, Path]:
        """Write the merged tables and manifest of ``specs`` (in order) into a new staging folder.

        ``keys[i]`` is the part identity of ``specs[i]``.  Returns the runs
        table and the staging folder; :meth:`publish` makes it current.  On
        failure the staging folder is removed.
        """
        rows, timelines, hists = [], [], []
        for spec, key in zip(specs, keys):
            s = self.summary(key)
            rows.append(
                {
                    "run_id": spec.run_id,
                    "point": spec.point,
                    "replication": spec.replication,
                    "seed": s["seed"],
                    **spec.swept,
                    **{k: v for k, v in s.items() if k not in ("seed", "replication")},
                }
            )
            tl, _ = read_parquet(self._part(key, "timeline.parquet"))
            tl.insert(0, "run_id", spec.run_id)
            timelines.append(tl)
            h, _ = read_parquet(self._part(key, "hist.parquet"))
            h.insert(0, "run_id", spec.run_id)
            hists.append(h)
        runs = _as_text_where_mixed(pd.DataFrame(rows), {k for spec in specs for k in spec.swept})
        staging = self.root / f".staging-{secrets.token_hex(6)}"
        staging.mkdir()
        try:
            atomic_write(
                staging / "timeline.parquet",
                lambda p: _write_parquet(pd.concat(timelines, ignore_index=True), p, batch_id),
            )
            atomic_write(
                staging / "latency_hist.parquet",
                lambda p: _write_parquet(pd.concat(hists, ignore_index=True), p, batch_id),
            )
            atomic_write(staging / "runs.parquet", lambda p: _write_parquet(runs, p, batch_id))
            atomic_write(staging / "runs.csv", lambda p: runs.to_csv(p, index=False))
            atomic_write(
                staging / "manifest.json", lambda p: p.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return runs, staging

    def publish(self, staging: Path, batch_id: str) -> Path:
        """Make ``staging`` the current set: rename it to a generation, swap ``current``, link the names."""
        gen = self.root / f".gen-{batch_id[:12]}-{secrets.token_hex(4)}"
        os.rename(staging, gen)
        cur = self.root / CURRENT
        previous = os.readlink(cur) if cur.is_symlink() else None
        self._symlink(gen.name, cur)  # the one atomic step
        for name in LINKED:
            link = self.root / name
            if link.is_symlink() and os.readlink(link) == f"{CURRENT}/{name}":
                continue
            if link.is_dir() and not link.is_symlink():  # figures/ of a folder from before generations
                aside = self.root / f".staging-old-{name}-{secrets.token_hex(4)}"
                os.rename(link, aside)
                shutil.rmtree(aside, ignore_errors=True)
            self._symlink(f"{CURRENT}/{name}", link)
        for old in self.root.glob(".gen-*"):
            if old.name not in (gen.name, previous):
                shutil.rmtree(old, ignore_errors=True)
        return gen

    def _symlink(self, target: str, link: Path) -> None:
        tmp = self.root / f".{link.name}.{secrets.token_hex(4)}.tmp"
        os.symlink(target, tmp)
        try:
            os.replace(tmp, link)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def versions() -> dict:
    """Versions of backupsim (the model), Python and the libraries whose behaviour the results depend on."""
    out = {"python": platform.python_version(), "backupsim": _version.__version__, "kernel": _version.kernel()}
    for dist in ("simpy", "numpy", "pandas", "pyarrow", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def git_commit() -> str:
    """The commit of the backupsim source tree, with ``-dirty`` if it has changes, or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """The runs table of a results folder (``runs.parquet`` of its current set) as a DataFrame.

    ``path`` is a results folder or a ``runs.parquet`` file.  Raises
    :class:`FileNotFoundError` when there is none and :class:`ResultsError`
    naming the file when it is damaged.
    """
    path = Path(path)
    if not path.is_dir():
        if not path.exists():
            raise FileNotFoundError(f"{path}: no runs.parquet here; run `backupsim run` first")
        return read_parquet(path)[0]
    f = generation(path) / "runs.parquet"
    if not f.exists():
        raise FileNotFoundError(f"{path / 'runs.parquet'}: no runs.parquet here; run `backupsim run` first")
    return read_parquet(f, path / "runs.parquet")[0]
