"""Bearer tokens: JWTs (HS256) signed with `INOVASI_AUTH_SECRET`, carrying the caller's role,
region and, for an operator, agency. `verify_token` turns a token into a `Principal`; what
the principal may do is decided by `services.common.principal`."""

from __future__ import annotations

import re
import time

import jwt

from services.common.data.regions import load_regions
from services.common.principal import AGENCY_ID_PATTERN, ROLES, Principal, Role

ALGORITHM = "HS256"
ISSUER = "inovasi"
DEFAULT_TTL_S = 12 * 3600  # a working day; tokens are re-issued, never long-lived
MAX_TTL_S = 31 * 24 * 3600  # a token valid longer than this is refused, however it was signed
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)
_SUBJECT = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII: logged and stored as is


class TokenError(ValueError):
    """A token that is missing, malformed, badly signed, expired or incomplete."""


def issue_token(
    secret: str,
    role: Role,
    region: str,
    agency: str | None = None,
    subject: str | None = None,
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
) -> str:
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    if role == "operator" and not agency:
        raise TokenError("an operator token needs an agency")
    if region not in load_regions():
        raise TokenError(f"region {region!r} is not a Kemendagri region code (e.g. 62.10)")
    if agency is not None and not _AGENCY_ID.match(agency):
        raise TokenError(f"agency {agency!r} is not an agency id (lowercase letters, digits, - and _)")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise TokenError(f"ttl must be between 1 second and {MAX_TTL_S // 86400} days")
    issued = int(now if now is not None else time.time())
    claims: dict[str, str | int] = {
        "iss": ISSUER,
        "sub": subject or f"{role}:{region}{':' + agency if agency else ''}",
        "role": role,
        "region": region,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if agency:
        claims["agency"] = agency
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    role, region, agency = claims.get("role"), claims.get("region"), claims.get("agency")
    if role not in ROLES:
        raise TokenError("invalid token: unknown role")
    if not isinstance(region, str) or region not in load_regions():
        raise TokenError("invalid token: no known region")
    if role == "operator" and not isinstance(agency, str):
        raise TokenError("invalid token: an operator token needs an agency")
    if agency is not None and (not isinstance(agency, str) or not _AGENCY_ID.match(agency)):
        raise TokenError("invalid token: malformed agency")
    if not isinstance(claims["sub"], str) or not _SUBJECT.match(claims["sub"]):
        raise TokenError("invalid token: malformed subject")
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int) or not isinstance(expires, int) or expires - issued > MAX_TTL_S:
        raise TokenError(f"invalid token: valid for longer than {MAX_TTL_S // 86400} days")
    return Principal(subject=claims["sub"], role=role, region=region, agency=agency)
