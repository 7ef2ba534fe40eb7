"""Object-storage keys for evidence files.

A key is `evidence/{cycle}/{region}/{token}`, where token is 128 random bits in hex. Keys are
never derived from the file name (which leaks content and collides) nor from a sequence or
the database id (which lets anyone who sees one key enumerate the others): knowing any number
of keys tells nothing about the next. The cycle and region prefixes exist for operators
(listing, lifecycle rules, per-region cleanup), not for access control - access goes through
short-lived presigned URLs issued after the service's own authorisation check.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "evidence"
TOKEN_BYTES = 16  # 128 bits: guessing one live key is hopeless even with billions of objects

# Kemendagri codes: `62` (provinsi) or `62.10` (kabupaten/kota).
_REGION_CODE = re.compile(r"[0-9]{2}(?:\.[0-9]{2})?")
_KEY = re.compile(
    rf"{KEY_PREFIX}/(?P<cycle>[0-9]{{4}})/(?P<region>[0-9]{{2}}(?:\.[0-9]{{2}})?)"
    rf"/(?P<token>[0-9a-f]{{{TOKEN_BYTES * 2}}})"
)


@dataclass(frozen=True, slots=True)
class ObjectKey:
    cycle: int
    region: str
    token: str

    def __str__(self) -> str:
        return f"{KEY_PREFIX}/{self.cycle}/{self.region}/{self.token}"


def new_object_key(cycle: int, region: str, *, token: bytes | None = None) -> str:
    """A fresh, unguessable key for one evidence file of `region` in `cycle`.

    `token` is for tests only; by default it comes from the OS's CSPRNG (`secrets`).
    """
    if not isinstance(cycle, int) or isinstance(cycle, bool) or not 1000 <= cycle <= 9999:
        raise ValueError(f"cycle must be a four-digit year, got {cycle!r}")
    if not isinstance(region, str) or not _REGION_CODE.fullmatch(region):
        raise ValueError(f"region must be a Kemendagri code like '62' or '62.10', got {region!r}")
    if token is None:
        token = secrets.token_bytes(TOKEN_BYTES)
    elif len(token) != TOKEN_BYTES:
        raise ValueError(f"token must be {TOKEN_BYTES} bytes, got {len(token)}")
    return str(ObjectKey(cycle, region, token.hex()))


def parse_object_key(key: str) -> ObjectKey:
    """The parts of a key made by `new_object_key`; ValueError for anything else."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"not an evidence object key: {key!r}")
    return ObjectKey(int(match["cycle"]), match["region"], match["token"])
