"""Test data for uploads: content generated chunk by chunk (never whole in memory), with
its expected size and SHA-256 tracked on the way."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024


@dataclass
class GeneratedStream:
    """Yields `total` pseudo-random bytes in chunks; records what it actually produced."""

    total: int
    chunk_sizes: Sequence[int] = (64 * 1024,)  # cycled through
    seed: int = 0
    head: bytes = b""  # the content starts with these bytes (a file signature)
    produced: int = 0
    digest: Any = field(default_factory=hashlib.sha256)  # hashlib's type is private

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._generate()

    async def _generate(self) -> AsyncIterator[bytes]:
        rng = random.Random(self.seed)
        index = 0
        while self.produced < self.total:
            size = min(self.chunk_sizes[index % len(self.chunk_sizes)], self.total - self.produced)
            index += 1
            chunk = rng.randbytes(size)
            if self.produced < len(self.head):
                prefix = self.head[self.produced : self.produced + size]
                chunk = prefix + chunk[len(prefix) :]
            self.produced += len(chunk)
            self.digest.update(chunk)
            yield chunk
            await asyncio.sleep(0)  # behave like a network source: let the loop run

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
