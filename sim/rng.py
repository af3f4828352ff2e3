"""Named random streams, the only place randomness is created (``docs/model.md`` section 2).

A run's seed becomes a :class:`numpy.random.SeedSequence`; each named stream
(``workload``, ``disk``, ``target``, ``policy``, ``faults``, ``layout``) is a child keyed
by the stream's name, so adding a stream or changing the policy never shifts
another stream's draws.  The run with a backup and its baseline use the same
seed, so the guest sees the same requests in both (common random numbers).

:class:`Draws` hands out numbers from a stream in blocks, which is much faster
than one numpy call per draw and gives the same sequence for the same calls.

:class:`RequestDraws` instead gives each *request* its own numbers: the
``i``-th draw of a kind is a pure function of the stream, the kind and ``i``
(block ``i // BLOCK`` of that kind has a generator of its own), whatever order
the requests reach the device in.  Devices key a guest request's service
noise by the request's index, so a guest request gets the same noise with
and without a backup even when the backup reorders the device's work; that
is what makes the with/without comparison a paired one (common random
numbers, Law & Kelton, *Simulation Modeling and Analysis*, section 11.2).
"""

from __future__ import annotations

import zlib
from typing import ClassVar, Final

import numpy as np

__all__ = ["Streams", "Draws", "RequestDraws", "STREAMS"]

STREAMS = ("workload", "disk", "target", "fleece", "policy", "faults", "layout", "loop")


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

    BLOCK: ClassVar[int] = 4096

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


# RequestDraws' block size and cache, as module constants: code compiled by mypyc
# (docs/kernel.md) reads a Final constant directly, a class attribute by lookup
_SHIFT: Final = 12
_MASK: Final = (1 << _SHIFT) - 1
_CACHED: Final = 4


class RequestDraws:
    """Draws keyed by a request number: ``exponential(i)`` is the same whenever it is asked.

    Each kind of draw (``"exp"``, ``"gamma"`` per shape, and named uniforms
    such as ``"stall"`` or ``"rotation"``) is its own sub-stream, cut into
    blocks of :data:`BLOCK` numbers; block ``b`` of kind ``k`` comes from the
    generator of ``streams.seed_sequence(name, sub, k, str(b))``.  Requests
    arrive at a device roughly in index order, so a few cached blocks per kind
    serve them all.
    """

    SHIFT: ClassVar[int] = _SHIFT
    BLOCK: ClassVar[int] = 1 << _SHIFT  # draws per block
    CACHED: ClassVar[int] = _CACHED  # blocks kept per kind

    __slots__ = ("streams", "name", "sub", "_cache", "_gamma")

    def __init__(self, streams: Streams, name: str, *sub: str):
        self.streams = streams
        self.name = name
        self.sub = sub
        self._cache: dict[str, dict[int, list[float]]] = {}
        self._gamma: dict[float, tuple] = {}

    def _block(self, kind: str, b: int, fill) -> list[float]:
        blocks = self._cache.get(kind)
        if blocks is None:
            blocks = self._cache[kind] = {}
        buf = blocks.get(b)
        if buf is None:
            gen = self.streams.generator(self.name, *self.sub, kind, str(b))
            buf = blocks[b] = fill(gen).tolist()
            if len(blocks) > _CACHED:
                del blocks[next(iter(blocks))]  # the oldest block
        return buf

    def uniform(self, kind: str, i: int) -> float:
        """Uniform on [0, 1): draw ``i`` of the uniform sub-stream ``kind``."""
        return self._block(kind, i >> _SHIFT, _uniform_block)[i & _MASK]

    def exponential(self, i: int) -> float:
        """Exponential with mean 1: draw ``i``."""
        return self._block("exp", i >> _SHIFT, _exp_block)[i & _MASK]

    def gamma_unit(self, shape: float, i: int) -> float:
        """Gamma with mean 1 and shape ``shape``: draw ``i``."""
        kind = self._gamma.get(shape)
        if kind is None:
            kind = self._gamma[shape] = (
                f"gamma:{shape!r}",
                lambda gen: gen.gamma(shape, 1.0 / shape, RequestDraws.BLOCK),
            )
        return self._block(kind[0], i >> _SHIFT, kind[1])[i & _MASK]


def _uniform_block(gen: np.random.Generator) -> np.ndarray:
    return gen.random(RequestDraws.BLOCK)


def _exp_block(gen: np.random.Generator) -> np.ndarray:
    return gen.standard_exponential(RequestDraws.BLOCK)
