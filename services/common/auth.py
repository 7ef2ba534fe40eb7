"""Bearer tokens: JWTs (HS256) signed with `INOVASI_AUTH_SECRET`, carrying the caller's role,
region and, for an operator, agency. Every HTTP request of every service is authenticated
here; what a principal may see or change is decided by the `Principal` methods, so the
tenancy rules live in one place.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

import jwt
from fastapi import Depends, HTTPException, Request, status

from services.common.data.regions import load_regions

Role = Literal["operator", "region_admin", "verifier", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
ALGORITHM = "HS256"
ISSUER = "inovasi"
DEFAULT_TTL_S = 12 * 3600  # a working day; tokens are re-issued, never long-lived
MAX_TTL_S = 31 * 24 * 3600  # a token valid longer than this is refused, however it was signed
AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # an agency's id (slug) in intake
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)
_SUBJECT = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII: logged and stored as is


class TokenError(ValueError):
    """A token that is missing, malformed, badly signed, expired or incomplete."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    region: str
    agency: str | None = None

    # --- what the principal may do (tenancy) -------------------------------------------

    def in_region(self, region: str) -> bool:
        return self.region == region

    def can_read_innovation(self, region: str, agency: str) -> bool:
        """Operators see their agency's innovations; admins, verifiers and viewers their region's."""
        if not self.in_region(region):
            return False
        return self.role != "operator" or self.agency == agency

    def can_write_innovation(self, region: str, agency: str) -> bool:
        return self.role == "operator" and self.in_region(region) and self.agency == agency

    def can_answer_spd(self, region: str) -> bool:
        return self.role == "region_admin" and self.in_region(region)

    def can_verify(self, region: str) -> bool:
        """A verifier decides on the evidence of the region it is assigned to."""
        return self.role == "verifier" and self.in_region(region)


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
    claims = {
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
    if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int) or claims["exp"] - claims["iat"] > MAX_TTL_S:
        raise TokenError(f"invalid token: valid for longer than {MAX_TTL_S // 86400} days")
    return Principal(subject=str(claims["sub"]), role=role, region=region, agency=agency)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail={"error": "unauthorized", "reason": reason},
        headers={"WWW-Authenticate": 'Bearer realm="inovasi"'},
    )


def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the request's principal, or 401. The secret is on app.state."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization: Bearer <token> header required")
    try:
        return verify_token(request.app.state.auth_secret, token.strip())
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def forbidden(reason: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail={"error": "forbidden", "reason": reason})


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise forbidden(f"role {principal.role} may not do this (needs {' or '.join(roles)})")
