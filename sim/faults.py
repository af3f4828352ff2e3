"""Injected errors on the backup's own I/O: source reads and target writes.

A read or write fails when its cluster is listed, the first time that cluster
is read (or written), as a transient error (blkdebug's ``once = on``): a job
that retries the cluster (block-copy re-dirties a failed task's clusters)
copies it the second time.  Or it fails with the configured probability
(drawn from the ``faults`` stream in the order the requests complete: one
draw per request of the 2013 job, one per cluster of a block-copy task).
The job decides what an error does (``docs/model.md`` section 8).
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
        self._read_at = set(cfg.source_read_error_clusters)
        self._write_at = set(cfg.target_write_error_clusters)

    def read_fails(self, cluster: int) -> bool:
        if cluster in self._read_at:
            self._read_at.discard(cluster)
            return True
        p = self.cfg.source_read_error_prob
        return p > 0 and self.draws.random() < p

    def write_fails(self, cluster: int) -> bool:
        if cluster in self._write_at:
            self._write_at.discard(cluster)
            return True
        p = self.cfg.target_write_error_prob
        return p > 0 and self.draws.random() < p
