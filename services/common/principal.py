"""Who is calling, and what they may see and change: the tenancy rules of every service, in
one place. Pure: the token that carries a principal is read in `services.common.tokens`.

Roles: an operator works for one agency (OPD) of one region; a region admin manages its
region (agencies, SPD answers, subscriptions); a verifier decides on its region's evidence;
a viewer reads its region's scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from services.common.errors import Forbidden

Role = Literal["operator", "region_admin", "verifier", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # an agency's id (slug) in intake


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    region: str
    agency: str | None = None

    def in_region(self, region: str) -> bool:
        return self.region == region

    def can_manage_region(self, region: str) -> bool:
        """The region's admin manages it: its agencies, its SPD answers, its subscriptions."""
        return self.role == "region_admin" and self.in_region(region)

    def can_read_region_details(self, region: str) -> bool:
        """What names every agency's innovations — which agency has not reported, the
        explanation of the score, the gap plan — is for the region's admin, verifiers and
        viewers; an operator sees only its own agency's innovations."""
        return self.role != "operator" and self.in_region(region)

    def can_read_innovation(self, region: str, agency: str) -> bool:
        """Operators see their agency's innovations; admins, verifiers and viewers their region's."""
        if not self.in_region(region):
            return False
        return self.role != "operator" or self.agency == agency

    def can_write_innovation(self, region: str, agency: str) -> bool:
        return self.role == "operator" and self.in_region(region) and self.agency == agency

    def can_answer_spd(self, region: str) -> bool:
        return self.can_manage_region(region)

    def can_verify(self, region: str) -> bool:
        """A verifier decides on the evidence of the region it is assigned to."""
        return self.role == "verifier" and self.in_region(region)


def require_role(principal: Principal, *roles: Role) -> None:
    """Forbidden unless the principal has one of `roles`."""
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this (needs {' or '.join(roles)})")
