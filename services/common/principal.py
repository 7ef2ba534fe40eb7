"""Who is calling, and what they may see and change: the tenancy rules of every service, in
one place. Pure: the token that carries a principal is read in `services.common.tokens`.

Roles: an operator works for one agency (OPD) of one region; a region admin manages its
region (agencies, SPD answers, subscriptions); a verifier decides on its region's evidence;
a viewer reads its region's scores. Two roles oversee without changing anything: a province
admin (its `region` is a provinsi's code) reads every region of its province — the provinsi
itself and each of its kabupaten and kota — as the region's admin reads it; `national`
(Kemendagri, no region) reads every region. Neither writes.

What a principal may READ of a region is decided by `can_read_region` and the rules built
on it (`can_read_region_details`, `can_read_innovation`, `oversees`); what it may CHANGE by
membership of the region (`in_region`), which only the four region-bound roles have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from services.common.data.regions import load_regions
from services.common.errors import Forbidden

Role = Literal["operator", "region_admin", "verifier", "viewer", "province_admin", "national"]
ROLES: tuple[Role, ...] = get_args(Role)
# Roles that belong to one region (a token's `region`: any of the 546 codes).
REGION_ROLES: tuple[Role, ...] = ("operator", "region_admin", "verifier", "viewer")
# Roles that read across regions and write nothing.
OVERSIGHT_ROLES: tuple[Role, ...] = ("province_admin", "national")
AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # an agency's id (slug) in intake


def province_of(region: str) -> str | None:
    """The provinsi a region belongs to (a provinsi's is its own code); None if unknown."""
    info = load_regions().get(region)
    return info.province_code if info is not None else None


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    region: str | None  # None only for `national`; a provinsi's code for `province_admin`
    agency: str | None = None
    token_id: str | None = None  # the token's `jti`: set on revocable (account) tokens

    @property
    def home_region(self) -> str:
        """The principal's own region (for a province admin, its provinsi); Forbidden for a
        national principal, which has none."""
        if self.region is None:
            raise Forbidden(f"a {self.role} principal belongs to no region")
        return self.region

    def in_region(self, region: str) -> bool:
        """Member of `region`: the four region-bound roles, in their own region. What changes
        a region needs membership; reading goes through `can_read_region`."""
        return self.role in REGION_ROLES and self.region == region

    def can_read_region(self, region: str) -> bool:
        """The one reading rule: a region-bound role reads its own region, a province admin
        every region of its province, a national principal every region."""
        if self.role == "national":
            return True
        if self.role == "province_admin":
            return self.region is not None and province_of(region) == self.region
        return self.in_region(region)

    def oversees(self, region: str) -> bool:
        """A province admin of the region's province, or a national principal: reads all that
        the region's admin reads (evidence documents included), changes nothing."""
        return self.role in OVERSIGHT_ROLES and self.can_read_region(region)

    def can_manage_region(self, region: str) -> bool:
        """The region's admin manages it: its agencies, its SPD answers, its subscriptions."""
        return self.role == "region_admin" and self.in_region(region)

    def can_read_region_details(self, region: str) -> bool:
        """What names every agency's innovations — which agency has not reported, the
        explanation of the score, the gap plan — is for the region's admin, verifiers and
        viewers, and for those who oversee it; an operator sees only its own agency's
        innovations."""
        return self.role != "operator" and self.can_read_region(region)

    def can_read_innovation(self, region: str, agency: str) -> bool:
        """Operators see their agency's innovations; admins, verifiers and viewers their
        region's; province admins and national principals those of the regions they oversee."""
        if not self.can_read_region(region):
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
