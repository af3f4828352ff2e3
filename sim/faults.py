"""Injected errors on the backup's own I/O: source reads and target writes.

A read or write fails when its cluster is listed, or with the configured
probability (drawn from the ``faults`` stream, one draw per request in the
order they complete).  The job decides what an error does (``docs/model.md`` section 8).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rng import Draws

if TYPE_CHECKING:
    from .config import FaultsConfig

__all__ = ["Faults"]


class Faults:
    """Answers "does this backup read / target write fail?"."""

    def __init__(self, cfg: FaultsConfig, draws: Draws):
        self.cfg = cfg
        self.draws = draws
        self._read_at = frozenset(cfg.source_read_error_clusters)
        self._write_at = frozenset(cfg.target_write_error_clusters)

    def read_fails(self, cluster: int) -> bool:
        if cluster in self._read_at:
            return True
        p = self.cfg.source_read_error_prob
        return p > 0 and self.draws.random() < p

    def write_fails(self, cluster: int) -> bool:
        if cluster in self._write_at:
            return True
        p = self.cfg.target_write_error_prob
        return p > 0 and self.draws.random() < p
