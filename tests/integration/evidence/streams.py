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
    tail: bytes = b""  # ...and ends with these (counted in `total`)
    produced: int = 0
    digest: Any = field(default_factory=hashlib.sha256)  # hashlib's type is private

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._generate()

    async def _generate(self) -> AsyncIterator[bytes]:
        rng = random.Random(self.seed)
        index = 0
        before_tail = self.total - len(self.tail)
        while self.produced < before_tail:
            size = min(self.chunk_sizes[index % len(self.chunk_sizes)], before_tail - self.produced)
            index += 1
            chunk = rng.randbytes(size)
            if self.produced < len(self.head):
                prefix = self.head[self.produced : self.produced + size]
                chunk = prefix + chunk[len(prefix) :]
            self.produced += len(chunk)
            self.digest.update(chunk)
            yield chunk
            await asyncio.sleep(0)  # behave like a network source: let the loop run
        if self.tail:
            self.produced += len(self.tail)
            self.digest.update(self.tail)
            yield self.tail

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def large_pdf(total: int, chunk_sizes: Sequence[int] = (64 * 1024,), seed: int = 0) -> GeneratedStream:
    """A valid one-page PDF of exactly `total` bytes, generated chunk by chunk: its bulk is
    a stream object of random bytes (as a scanned page's image would be)."""
    head = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ],
        start=1,
    ):
        offsets.append(len(head))
        head += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets.append(len(head))  # object 4: the bulk

    def framing(length: int) -> tuple[bytes, bytes]:
        start = bytes(head) + b"4 0 obj\n<< /Length %d >>\nstream\n" % length
        end_of_object = b"\nendstream\nendobj\n"
        xref_at = len(start) + length + len(end_of_object)
        entries = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        end = (
            end_of_object
            + b"xref\n0 5\n0000000000 65535 f \n"
            + entries
            + b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
        )
        return start, end

    length = total
    for _ in range(4):  # the framing's numbers have as many digits as the length they frame
        start, end = framing(length)
        fitting = total - len(start) - len(end)
        if fitting == length:
            return GeneratedStream(total, chunk_sizes, seed=seed, head=start, tail=end)
        length = fitting
    raise ValueError(f"no PDF of exactly {total} bytes with this framing; try another size")
