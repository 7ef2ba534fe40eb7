"""Small but valid evidence files: the demo's own generators (one PDF and PNG writer)."""

from __future__ import annotations

from devtools.demo import minimal_pdf as _pdf
from devtools.demo import small_png


def minimal_pdf(text: str = "Surat Keputusan") -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    return _pdf([text])


def tiny_png() -> bytes:
    """A valid RGB PNG (a screenshot stand-in)."""
    return small_png("tests")
