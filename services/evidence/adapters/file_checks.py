"""Reading an upload's content with a PDF library (pypdf) or an image decoder (Pillow), to
tell a real file from one that only starts like one. What the reading means is decided in
`services.evidence.domain.file_structure`; this module only reads and reports.

The file is read from a temporary copy written while the upload streams to object storage
(`scratch_copy`, passed to `ObjectStore.put_stream(copy_to=...)`), never from memory and
never from storage. The libraries are synchronous and CPU-bound, so reading runs on a small
thread pool of its own: a burst of uploads cannot take the threads other work needs, and
few images are decoded at once (a decoded image takes width x height x 4 bytes at most).

What is read:

* PDF: opened by pypdf (lenient, as viewers are, about small defects), its page tree walked
  to count the pages; an encrypted PDF must open with the empty user password.
* PNG: every chunk's checksum through IEND (`verify`), then the whole image decoded.
* JPEG: the whole image decoded, at 1/8 scale (every byte of the file is still read, with
  1/64 of the memory).
* Anything else (the videos): not read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import Image, UnidentifiedImageError
from pypdf import PasswordType, PdfReader

from services.evidence.domain.file_structure import (
    Finding,
    ImageDecoded,
    NotRead,
    PasswordProtected,
    PdfOpened,
    TooManyPixels,
    Unreadable,
)
from services.evidence.domain.filetypes import JPEG, PDF, PNG, FileType

# Each thread may hold one decoded image, up to Pillow's pixel limit (about 360 MB as RGBA).
_READ_THREADS = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="evidence-file-check")
_PILLOW_FORMATS = {PNG: "PNG", JPEG: "JPEG"}
_JPEG_SCALE = 8  # the largest reduction libjpeg decodes to


def reads(file_type: FileType) -> bool:
    """Whether `read_structure` reads files of `file_type` (the videos are not read)."""
    return file_type == PDF or file_type in _PILLOW_FORMATS


@contextmanager
def scratch_copy(file_type: FileType) -> Iterator[IO[bytes] | None]:
    """A temporary file for the copy of one upload of `file_type`, deleted when the block
    ends, however it ends; None for a type that is not read, which needs no copy."""
    if not reads(file_type):
        yield None
        return
    with tempfile.NamedTemporaryFile(prefix="inovasi-evidence-", suffix=".upload") as copy:
        yield copy


async def read_structure(copy: IO[bytes], file_type: FileType) -> Finding:
    """What reading `copy` (a complete upload, written by `put_stream`) as `file_type` found.

    Never raises for bad content: a library's error is reported as `Unreadable`. The reading
    opens the file by its name with a handle of its own, so a caller that stops waiting (a
    cancelled request) may close, and so delete, `copy` at once: a reading under way finishes
    on the deleted file, one not yet started finds none; either result is then ignored.
    """
    copy.flush()
    if file_type == PDF:
        read = functools.partial(_read_pdf, copy.name)
    elif file_type in _PILLOW_FORMATS:
        read = functools.partial(_read_image, copy.name, _PILLOW_FORMATS[file_type])
    else:
        return NotRead()
    # Like asyncio.to_thread (the caller's context variables, such as its log ids, follow).
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_READ_THREADS, context.run, read)


def _read_pdf(path: str) -> Finding:
    try:
        # Given an open file, pypdf reads what it needs (given a path, it reads it all).
        with open(path, "rb") as file:
            reader = PdfReader(file, strict=False)
            # pypdf has already tried the empty user password, which most "protected" PDFs
            # have (they only restrict printing or copying, and open without a password).
            if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                return PasswordProtected()
            return PdfOpened(pages=len(reader.pages))
    except Exception as error:  # pypdf raises many kinds on malformed input, not only PdfReadError
        return Unreadable(_describe(error))


def _read_image(path: str, pillow_format: str) -> Finding:
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with Image.open(path, formats=[pillow_format]) as image:
            width, height = image.size
            # The condition on which Pillow warns (DecompressionBombWarning, and raises over
            # twice the limit): tested here, since a warning cannot be turned into an error
            # for one thread only.
            if limit is not None and width * height > limit:
                return TooManyPixels(limit, (width, height))
            image.verify()  # PNG: every chunk's checksum; JPEG: nothing
        # verify() leaves the image unusable, so it is opened again to decode it.
        with Image.open(path, formats=[pillow_format]) as image:
            if pillow_format == "JPEG":
                image.draft(image.mode, (math.ceil(width / _JPEG_SCALE), math.ceil(height / _JPEG_SCALE)))
            image.load()
    except Image.DecompressionBombError:
        # Raised by open() only when a limit is set, so `limit` is never None here.
        return TooManyPixels(limit or 0, None)
    except UnidentifiedImageError:
        # Pillow's own message names the file object, which means nothing to the uploader.
        return Unreadable(f"what follows the {pillow_format} signature is not a valid {pillow_format} header")
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad data
        return Unreadable(_describe(error))
    return ImageDecoded(width, height)


def _describe(error: Exception) -> str:
    return str(error).strip() or type(error).__name__
