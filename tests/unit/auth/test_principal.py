"""The tenancy rules of every role, table-driven, and as properties over all 546 regions: what
a principal reads (`can_read_region` and the rules on it) and what it changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.data.regions import load_regions
from services.common.errors import Forbidden
from services.common.principal import OVERSIGHT_ROLES, REGION_ROLES, ROLES, Principal

OPERATOR = Principal("o", "operator", "62.10", "dinkes")
ADMIN = Principal("a", "region_admin", "62.10")
VERIFIER = Principal("v", "verifier", "62.10")
VIEWER = Principal("w", "viewer", "62.10")
PROVINSI_ADMIN = Principal("pa", "region_admin", "62")  # the admin of the provinsi as a region
PROVINCE_ADMIN = Principal("k", "province_admin", "62")
NATIONAL = Principal("n", "national", None)

# Regions seen from principals of 62.10 / province 62: its own, a neighbour in the same
# province, the provinsi itself, a kota of it, and a region and the provinsi of province 63.
REGIONS = ("62.10", "62.11", "62", "62.71", "63.01", "63")

# Which of REGIONS each principal reads.
READS = [
    (OPERATOR, {"62.10"}),
    (ADMIN, {"62.10"}),
    (VERIFIER, {"62.10"}),
    (VIEWER, {"62.10"}),
    (PROVINSI_ADMIN, {"62"}),
    (PROVINCE_ADMIN, {"62.10", "62.11", "62", "62.71"}),
    (NATIONAL, set(REGIONS)),
]


@pytest.mark.parametrize(("principal", "reads"), READS, ids=lambda v: getattr(v, "role", ""))
def test_what_each_principal_reads(principal: Principal, reads: set[str]) -> None:
    for region in REGIONS:
        assert principal.can_read_region(region) == (region in reads), region
        # Details (agency status, explanations, gap plans) for every reader but operators.
        assert principal.can_read_region_details(region) == (region in reads and principal.role != "operator")
        # Innovations: an operator its agency's, every other reader all of the region's.
        assert principal.can_read_innovation(region, "disdik") == (region in reads and principal.role != "operator")
        assert principal.can_read_innovation(region, "dinkes") == (region in reads)
        assert principal.oversees(region) == (region in reads and principal.role in OVERSIGHT_ROLES)


# What each principal changes, in which of REGIONS (innovations of agency dinkes).
WRITES = [
    # principal,       write innovation, answer SPD,  verify,      manage region
    (OPERATOR,         {"62.10"},        set(),       set(),       set()),
    (ADMIN,            set(),            {"62.10"},   set(),       {"62.10"}),
    (VERIFIER,         set(),            set(),       {"62.10"},   set()),
    (VIEWER,           set(),            set(),       set(),       set()),
    (PROVINSI_ADMIN,   set(),            {"62"},      set(),       {"62"}),
    (PROVINCE_ADMIN,   set(),            set(),       set(),       set()),
    (NATIONAL,         set(),            set(),       set(),       set()),
]


@pytest.mark.parametrize(("principal", "innovations", "spd", "verify", "manage"), WRITES,
                         ids=lambda v: getattr(v, "role", ""))
def test_what_each_principal_changes(
    principal: Principal, innovations: set[str], spd: set[str], verify: set[str], manage: set[str]
) -> None:
    for region in REGIONS:
        assert principal.can_write_innovation(region, "dinkes") == (region in innovations), region
        assert principal.can_answer_spd(region) == (region in spd), region
        assert principal.can_verify(region) == (region in verify), region
        assert principal.can_manage_region(region) == (region in manage), region
        assert principal.in_region(region) == (principal.role in REGION_ROLES and region == principal.region)


def test_home_region() -> None:
    assert ADMIN.home_region == "62.10" and PROVINCE_ADMIN.home_region == "62"
    with pytest.raises(Forbidden, match="no region"):
        _ = NATIONAL.home_region


def test_every_role_is_either_region_bound_or_oversight() -> None:
    assert set(ROLES) == set(REGION_ROLES) | set(OVERSIGHT_ROLES)
    assert not set(REGION_ROLES) & set(OVERSIGHT_ROLES)


CODES = sorted(load_regions())
PROVINCES = sorted(code for code, info in load_regions().items() if info.type == "provinsi")
regions = st.sampled_from(CODES)
agencies = st.sampled_from(["dinkes", "disdik", "bapperinda"])


@given(province=st.sampled_from(PROVINCES), region=regions, agency=agencies)
def test_a_province_admin_reads_exactly_its_provinces_regions_and_changes_nothing(
    province: str, region: str, agency: str
) -> None:
    principal = Principal("k", "province_admin", province)
    in_province = load_regions()[region].province_code == province
    assert principal.can_read_region(region) == in_province
    assert principal.can_read_region_details(region) == in_province
    assert principal.can_read_innovation(region, agency) == in_province
    assert not any([
        principal.can_write_innovation(region, agency), principal.can_answer_spd(region),
        principal.can_verify(region), principal.can_manage_region(region), principal.in_region(region),
    ])


@given(region=regions, agency=agencies)
def test_a_national_principal_reads_every_region_and_changes_nothing(region: str, agency: str) -> None:
    assert NATIONAL.can_read_region(region) and NATIONAL.can_read_region_details(region)
    assert NATIONAL.can_read_innovation(region, agency) and NATIONAL.oversees(region)
    assert not any([
        NATIONAL.can_write_innovation(region, agency), NATIONAL.can_answer_spd(region),
        NATIONAL.can_verify(region), NATIONAL.can_manage_region(region), NATIONAL.in_region(region),
    ])


@given(role=st.sampled_from(REGION_ROLES), own=regions, region=regions, agency=agencies)
def test_a_region_bound_role_reads_only_its_own_region(role: str, own: str, region: str, agency: str) -> None:
    principal = Principal("x", role, own, "dinkes" if role == "operator" else None)  # type: ignore[arg-type]
    assert principal.can_read_region(region) == (region == own)
    assert not principal.oversees(region)
    if region != own:
        assert not any([
            principal.can_read_region_details(region), principal.can_read_innovation(region, agency),
            principal.can_write_innovation(region, agency), principal.can_answer_spd(region),
            principal.can_verify(region), principal.can_manage_region(region),
        ])
