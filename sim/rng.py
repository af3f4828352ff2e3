"""Named random streams, the only place randomness is created (MODEL.md section 2).

A run's seed becomes a :class:`numpy.random.SeedSequence`; each named stream
(``workload``, ``disk``, ``target``, ``policy``, ``faults``, ``layout``) is a child keyed
by the stream's name, so adding a stream or changing the policy never shifts
another stream's draws.  The run with a backup and its baseline use the same
seed, so the guest sees the same requests in both (common random numbers).

:class:`Draws` hands out numbers from a stream in blocks, which is much faster
than one numpy call per draw and gives the same sequence for the same calls.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams", "Draws", "STREAMS"]

STREAMS = ("workload", "disk", "target", "policy", "faults", "layout")


class Streams:
    """The generators of one run, keyed by name; ``spawn_key`` extends the run's entropy."""

    def __init__(self, seed: int | np.random.SeedSequence):
        self.seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)

    def seed_sequence(self, name: str, *sub: str) -> np.random.SeedSequence:
        words = [zlib.crc32(p.encode()) for p in (name, *sub)]
        return np.random.SeedSequence(self.seq.entropy, spawn_key=tuple(self.seq.spawn_key) + tuple(words))

    def generator(self, name: str, *sub: str) -> np.random.Generator:
        """An independent generator for stream ``name`` (and optional sub-stream)."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name, *sub)))


class Draws:
    """Block-buffered draws from one generator: ``random()``, ``exponential()``, ``integers(n)``.

    Each kind of draw has its own buffer, so the sequence of one kind does not
    depend on how draws of another kind interleave with it.
    """

    BLOCK = 4096

    def __init__(self, gen: np.random.Generator):
        self.gen = gen
        self._u: list[float] = []
        self._e: list[float] = []
        self._g: dict[float, list[float]] = {}

    def random(self) -> float:
        """Uniform on [0, 1)."""
        if not self._u:
            self._u = self.gen.random(self.BLOCK).tolist()
            self._u.reverse()
        return self._u.pop()

    def exponential(self) -> float:
        """Exponential with mean 1."""
        if not self._e:
            self._e = self.gen.standard_exponential(self.BLOCK).tolist()
            self._e.reverse()
        return self._e.pop()

    def integers(self, n: int) -> int:
        """Uniform on ``0 .. n-1`` (from the uniform buffer; exact for n < 2**53)."""
        return int(self.random() * n)

    def gamma_unit(self, shape: float) -> float:
        """Gamma with mean 1 and shape ``shape`` (one buffer per shape)."""
        buf = self._g.get(shape)
        if not buf:
            buf = self.gen.gamma(shape, 1.0 / shape, self.BLOCK).tolist()
            buf.reverse()
            self._g[shape] = buf
        return buf.pop()
