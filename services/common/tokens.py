"""Bearer tokens: JWTs (HS256) signed with `INOVASI_AUTH_SECRET`, carrying the caller's role,
region and, for an operator, agency. `verify_token` turns a token into a `Principal`; what
the principal may do is decided by `services.common.principal`. Upload grants (below) are
JWTs of their own audience, so neither kind passes for the other."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

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


# --- upload grants ---------------------------------------------------------------------------

GRANT_AUDIENCE = "evidence.upload"  # never a bearer token: those carry no audience


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """Intake's word that an innovation exists, of this cycle, region and agency: lets the
    evidence service take uploads for it before its own copy of the innovation arrives."""

    innovation_id: str
    cycle: int
    region: str
    agency: str


class UploadGrants:
    """Issues (intake) and verifies (evidence) upload grants: short-lived JWTs signed with
    `INOVASI_AUTH_SECRET`, for one innovation."""

    def __init__(self, secret: str, ttl_s: int = 3600) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def issue(self, grant: UploadGrant, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, str | int] = {
            "iss": ISSUER,
            "aud": GRANT_AUDIENCE,
            "sub": grant.innovation_id,
            "cycle": grant.cycle,
            "region": grant.region,
            "agency": grant.agency,
            "iat": issued,
            "exp": issued + self.ttl_s,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> UploadGrant:
        """The grant, or TokenError (expired, badly signed, not a grant)."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER, audience=GRANT_AUDIENCE,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("upload grant expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid upload grant: {exc}") from None
        innovation, cycle = claims["sub"], claims.get("cycle")
        region, agency = claims.get("region"), claims.get("agency")
        if not isinstance(cycle, int) or not all(isinstance(v, str) for v in (innovation, region, agency)):
            raise TokenError("invalid upload grant: incomplete")
        return UploadGrant(innovation_id=innovation, cycle=cycle, region=str(region), agency=str(agency))
