"""Bearer tokens: JWTs (HS256) signed with `INOVASI_AUTH_SECRET`, carrying the caller's role,
region and, for an operator, agency. `verify_token` turns a token into a `Principal`; what
the principal may do is decided by `services.common.principal`. Upload grants (below) are
JWTs of their own audience, so neither kind passes for the other.

Claims: `role`; `region` — one of the 546 codes for the region-bound roles, a provinsi's code
for `province_admin`, absent (or null) for `national`; `agency` (operators); `sub` (an
account's tokens carry the account id); and `jti`, the token's id, on tokens that can be
revoked (`token.revoked` on `web.events`, see `services.common.revocations`). A token with a
`jti` may be valid for up to 366 days (a personal API token for a machine); one without, for
at most 31 days."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import jwt

from services.common.data.regions import load_regions
from services.common.principal import AGENCY_ID_PATTERN, ROLES, Principal, Role

ALGORITHM = "HS256"
ISSUER = "inovasi"
DEFAULT_TTL_S = 12 * 3600  # a working day; tokens are re-issued, never long-lived
MAX_TTL_S = 31 * 24 * 3600  # a token without a jti valid longer than this is refused, however it was signed
REVOCABLE_MAX_TTL_S = 366 * 24 * 3600  # a token with a jti (it can be revoked): a personal API token
TOKEN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)
_SUBJECT = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII: logged and stored as is
_TOKEN_ID = re.compile(TOKEN_ID_PATTERN)


class TokenError(ValueError):
    """A token that is missing, malformed, badly signed, expired or incomplete."""


def max_ttl_s(token_id: str | None) -> int:
    """The longest a token may be valid: 366 days when it can be revoked (it has a jti), else 31."""
    return REVOCABLE_MAX_TTL_S if token_id is not None else MAX_TTL_S


def scope_problem(role: str, region: object, agency: object) -> str | None:
    """What is wrong with a token's role, region and agency together, or None. The same rules
    for issuing and verifying."""
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}"
    if role == "national":
        if region is not None:
            return "a national token has no region"
    elif role == "province_admin":
        info = load_regions().get(region) if isinstance(region, str) else None
        if info is None or info.type != "provinsi":
            return f"a province_admin token needs the code of a provinsi (e.g. 62), not {region!r}"
    elif region is None:
        return f"a {role} token needs a region: a Kemendagri region code (e.g. 62.10)"
    elif not isinstance(region, str) or region not in load_regions():
        return f"region {region!r} is not a Kemendagri region code (e.g. 62.10)"
    if role == "operator" and not agency:
        return "an operator token needs an agency"
    if role in ("province_admin", "national") and agency is not None:
        return f"a {role} token has no agency"
    if agency is not None and (not isinstance(agency, str) or not _AGENCY_ID.match(agency)):
        return f"agency {agency!r} is not an agency id (lowercase letters, digits, - and _)"
    return None


def issue_token(
    secret: str,
    role: Role,
    region: str | None,
    agency: str | None = None,
    subject: str | None = None,
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
    token_id: str | None = None,
) -> str:
    """A signed token. `region`: a region code, a provinsi's for `province_admin`, None for
    `national`. `subject`: who it is for (an account's id; default role:region[:agency]).
    `token_id` becomes the `jti`: such a token can be revoked, and may live up to 366 days."""
    problem = scope_problem(role, region, agency)
    if problem is not None:
        raise TokenError(problem)
    if subject is not None and not _SUBJECT.match(subject):
        raise TokenError("subject must be 1 to 200 printable ASCII characters without spaces")
    if token_id is not None and not _TOKEN_ID.match(token_id):
        raise TokenError(f"token id {token_id!r} must match {TOKEN_ID_PATTERN}")
    limit = max_ttl_s(token_id)
    if not 0 < ttl_s <= limit:
        raise TokenError(f"ttl must be between 1 second and {limit // 86400} days")
    issued = int(now if now is not None else time.time())
    default_subject = ":".join(part for part in (role, region, agency) if part)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject or default_subject,
        "role": role,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if region is not None:
        claims["region"] = region
    if agency:
        claims["agency"] = agency
    if token_id is not None:
        claims["jti"] = token_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    return _verified(secret, token)[0]


class VerifiedTokens:
    """`verify_token` for a service's requests, remembering what it verified: an operator's
    client sends the same token with every request, and checking its signature and claims
    each time costs more than the rest of authentication. A remembered token is answered
    until its `exp`, then verified again (and refused as expired). Bounded: past
    `max_entries` the oldest is forgotten. Revocation is not remembered here; the caller
    checks it on every request."""

    def __init__(self, secret: str, max_entries: int = 10_000) -> None:
        self._secret = secret
        self._max_entries = max_entries
        self._known: dict[str, tuple[Principal, int]] = {}

    def verify(self, token: str) -> Principal:
        known = self._known.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = _verified(self._secret, token)
        if known is None and len(self._known) >= self._max_entries:
            del self._known[next(iter(self._known))]
        self._known[token] = (principal, expires)
        return principal


def _verified(secret: str, token: str) -> tuple[Principal, int]:
    """The token's principal and its expiry (epoch seconds), or TokenError."""
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
    if role == "national" and region is not None:
        raise TokenError("invalid token: a national token has no region")
    if role == "province_admin":
        if not isinstance(region, str) or getattr(load_regions().get(region), "type", None) != "provinsi":
            raise TokenError("invalid token: a province_admin token needs a provinsi's code")
    elif role != "national" and (not isinstance(region, str) or region not in load_regions()):
        raise TokenError("invalid token: no known region")
    if role == "operator" and not isinstance(agency, str):
        raise TokenError("invalid token: an operator token needs an agency")
    if role in ("province_admin", "national") and agency is not None:
        raise TokenError(f"invalid token: a {role} token has no agency")
    if agency is not None and (not isinstance(agency, str) or not _AGENCY_ID.match(agency)):
        raise TokenError("invalid token: malformed agency")
    if not isinstance(claims["sub"], str) or not _SUBJECT.match(claims["sub"]):
        raise TokenError("invalid token: malformed subject")
    token_id = claims.get("jti")
    if token_id is not None and (not isinstance(token_id, str) or not _TOKEN_ID.match(token_id)):
        raise TokenError("invalid token: malformed token id (jti)")
    issued, expires, limit = claims["iat"], claims["exp"], max_ttl_s(token_id)
    if not isinstance(issued, int) or not isinstance(expires, int) or expires - issued > limit:
        raise TokenError(f"invalid token: valid for longer than {limit // 86400} days")
    principal = Principal(subject=claims["sub"], role=role, region=region, agency=agency, token_id=token_id)
    return principal, expires


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

    def __init__(self, secret: str, ttl_s: int = 3600, max_remembered: int = 10_000) -> None:
        self._secret = secret
        self.ttl_s = ttl_s
        self._max_remembered = max_remembered
        self._recent: dict[UploadGrant, tuple[int, str]] = {}

    def current(self, grant: UploadGrant, now: float | None = None) -> str:
        """A grant for every answer about an innovation without signing one each time: the
        one issued for it less than a quarter of the lifetime ago (so it is always valid for
        at least three quarters of it), else a new one."""
        at = int(now if now is not None else time.time())
        recent = self._recent.get(grant)
        if recent is not None and 0 <= at - recent[0] < self.ttl_s // 4:
            return recent[1]
        token = self.issue(grant, now=at)
        if recent is None and len(self._recent) >= self._max_remembered:
            del self._recent[next(iter(self._recent))]
        self._recent[grant] = (at, token)
        return token

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
