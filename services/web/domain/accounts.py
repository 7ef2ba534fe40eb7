"""Accounts: the roles, a person's scope (region, agency), user names and passwords, and
who may manage whom.

A region admin creates, disables and enables the accounts of its own region, in the roles
operator, verifier, viewer and region_admin; a province admin and a national account are
made only from the command line (`inovasi users create`), never on a page. Problems name
the form field at fault; their reasons are English constants (`Reason`), which the pages
say in Bahasa Indonesia.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from services.common.data.regions import load_regions
from services.common.errors import Problem
from services.common.principal import AGENCY_ID_PATTERN, Role

ROLES: tuple[Role, ...] = get_args(Role)
REGION_ROLES: tuple[Role, ...] = ("operator", "region_admin", "verifier", "viewer")
# The roles a region admin may give on a page: those of its own region.
MANAGEABLE_ROLES: tuple[Role, ...] = ("operator", "verifier", "viewer", "region_admin")
AccountStatus = Literal["active", "disabled"]
ACCOUNT_STATUSES: tuple[AccountStatus, ...] = get_args(AccountStatus)

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)
_AGENCY = re.compile(AGENCY_ID_PATTERN)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # long pass phrases welcome; the hash's work stays bounded

# Passwords people pick first (and tools try first), at least 10 characters long; compared
# without case. NIST SP 800-63B: refuse known-bad passwords rather than demand symbols.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "12345678910", "0123456789", "1111111111", "0000000000", "123456789a",
        "qwertyuiop", "asdfghjkl1", "password12", "password123", "password1234", "passw0rd12",
        "iloveyou12", "abcdefghij", "abcd123456", "qwerty1234", "admin12345", "admin123456",
        "administrator", "katasandi", "katasandi1", "katasandi123", "rahasia123", "rahasia1234",
        "bismillah1", "bismillah123", "indonesia1", "indonesia123", "indonesia45", "merdeka1945",
        "jakarta123", "inovasi123", "inovasi2026", "pemda12345", "bappeda123", "bapperinda",
        "welcome123", "letmein123", "superman12", "1q2w3e4r5t", "zaq12wsxcde",
    }
)


class Reason:
    """Why a field is refused (English, stable: the pages translate these)."""

    USERNAME_FORMAT = "must be 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    USERNAME_TAKEN = "is already taken"
    PASSWORD_TOO_SHORT = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    PASSWORD_TOO_LONG = f"must be at most {MAX_PASSWORD_LENGTH} characters"
    PASSWORD_COMMON = "is too common; choose a less predictable one"
    PASSWORD_HAS_USERNAME = "must not contain the user name"
    PASSWORD_REPEATS = "must not be one character repeated"
    PASSWORD_CONTROL = "must not contain control characters"
    PASSWORD_MISMATCH = "the two passwords differ"
    PASSWORD_WRONG = "is not the current password"
    PASSWORD_UNCHANGED = "must differ from the current password"
    ROLE_UNKNOWN = "is not a role"
    ROLE_NOT_GRANTED = "may not be given here"
    REGION_UNKNOWN = "is not a Kemendagri region code"
    REGION_NOT_PROVINCE = "must be the code of a provinsi (e.g. 62)"
    REGION_NOT_ALLOWED = "must be empty for a national account"
    REGION_OTHER = "must be your own region"
    AGENCY_REQUIRED = "is required for an operator"
    AGENCY_FORMAT = "must be an agency id (lowercase letters, digits, - and _)"
    AGENCY_NOT_ALLOWED = "is only for operators"
    AGENCY_UNKNOWN = "is not an agency of the region"
    EMAIL_FORMAT = "is not an e-mail address"


@dataclass(frozen=True, slots=True)
class Scope:
    """What an account reads and changes: its role, its region (a region code; a provinsi's
    code for a province admin; None for national) and, for an operator, its agency."""

    role: Role
    region: str | None
    agency: str | None = None


def normal_username(username: str) -> str:
    """The form user names are compared in (unique without regard to case)."""
    return username.strip().lower()


def username_problems(username: str) -> list[Problem]:
    return [] if _USERNAME.match(username) else [Problem("username", Reason.USERNAME_FORMAT)]


def password_problems(password: str, username: str = "", field: str = "password") -> list[Problem]:
    """A NIST-style policy: long enough, not known-bad, not the user name, nothing more."""
    def problem(reason: str) -> list[Problem]:
        return [Problem(field, reason)]

    length = len(unicodedata.normalize("NFC", password))
    if length < MIN_PASSWORD_LENGTH:
        return problem(Reason.PASSWORD_TOO_SHORT)
    if length > MAX_PASSWORD_LENGTH:
        return problem(Reason.PASSWORD_TOO_LONG)
    if any(unicodedata.category(c) == "Cc" for c in password):
        return problem(Reason.PASSWORD_CONTROL)
    lowered = password.lower()
    if len(set(lowered)) == 1:
        return problem(Reason.PASSWORD_REPEATS)
    if lowered in COMMON_PASSWORDS:
        return problem(Reason.PASSWORD_COMMON)
    name = normal_username(username)
    if len(name) >= 3 and name in lowered:
        return problem(Reason.PASSWORD_HAS_USERNAME)
    return []


def scope_problems(scope: Scope) -> list[Problem]:
    """The region and agency a role needs: a region role a region code (and an operator its
    agency), a province admin a provinsi's code, national neither."""
    regions = load_regions()
    problems: list[Problem] = []
    if scope.role not in ROLES:
        return [Problem("role", Reason.ROLE_UNKNOWN)]
    if scope.role == "national":
        if scope.region is not None:
            problems.append(Problem("region", Reason.REGION_NOT_ALLOWED))
    elif scope.role == "province_admin":
        info = regions.get(scope.region or "")
        if info is None or info.type != "provinsi":
            problems.append(Problem("region", Reason.REGION_NOT_PROVINCE))
    elif scope.region not in regions:
        problems.append(Problem("region", Reason.REGION_UNKNOWN))
    if scope.role == "operator":
        if not scope.agency:
            problems.append(Problem("agency", Reason.AGENCY_REQUIRED))
        elif not _AGENCY.match(scope.agency):
            problems.append(Problem("agency", Reason.AGENCY_FORMAT))
    elif scope.agency:
        problems.append(Problem("agency", Reason.AGENCY_NOT_ALLOWED))
    return problems


def email_problems(email: str | None) -> list[Problem]:
    if email is None or _EMAIL.match(email):
        return []
    return [Problem("email", Reason.EMAIL_FORMAT)]


def can_manage(actor: Scope, target: Scope) -> bool:
    """A region admin manages the accounts of its region in the roles of a region; nobody
    else manages accounts on a page."""
    return (
        actor.role == "region_admin"
        and actor.region is not None
        and target.region == actor.region
        and target.role in MANAGEABLE_ROLES
    )


def grant_problems(actor: Scope, target: Scope) -> list[Problem]:
    """Why `actor` may not create an account of `target`'s scope on a page (fields named)."""
    problems = []
    if target.role not in MANAGEABLE_ROLES:
        problems.append(Problem("role", Reason.ROLE_NOT_GRANTED))
    if target.region != actor.region:
        problems.append(Problem("region", Reason.REGION_OTHER))
    return problems
