"""The evidence rules: which answer a query names, what a link or a declared type must be,
who may upload, see and decide, and how decisions change an item."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidInput, Problem
from services.common.principal import Principal
from services.evidence.domain.filetypes import PDF, PNG
from services.evidence.domain.rules import (
    SPD_EVIDENCE_KINDS,
    Target,
    Verdict,
    check_declared_type,
    check_link,
    decide,
    hides_evidence,
    may_see,
    may_upload,
    resolve_target,
)

REGIONS = {"62", "62.10", "62.11"}


def violation(call, *args, **kwargs) -> Problem:
    """The one problem the rule names (every rule reports one field at a time)."""
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    [problem] = caught.value.problems
    return problem


# --- resolve_target ---------------------------------------------------------------------------


def test_a_sid_indicator_takes_the_catalogue_kinds() -> None:
    target = resolve_target(2026, "sid-35", "inn-1", None, regions=REGIONS)
    assert target == Target(2026, "sid-35", ("video", "link"), "inn-1", None)
    assert target.region is None


def test_an_spd_indicator_takes_pdf_and_image_by_assumption() -> None:
    target = resolve_target(2026, "spd-01", None, "62.10", regions=REGIONS)
    assert target == Target(2026, "spd-01", SPD_EVIDENCE_KINDS, None, "62.10")
    assert target.innovation_id is None and SPD_EVIDENCE_KINDS == ("pdf", "image")


def test_older_cycles_use_their_own_methodology() -> None:
    assert resolve_target(2024, "spd-01", None, "62", regions=REGIONS).cycle == 2024


@pytest.mark.parametrize(
    ("cycle", "indicator", "innovation", "region", "field", "words"),
    [
        (1999, "sid-16", "inn-1", None, "query.cycle", "2026"),
        (2026, "sid-99", "inn-1", None, "query.indicator", "sid-99"),
        (2026, "SID-16", "inn-1", None, "query.indicator", "unknown"),
        (2026, "spd-01", "inn-1", None, "query.innovation", "SPD indicator"),
        (2026, "spd-01", None, None, "query.region", "required"),
        (2026, "spd-01", None, "99.99", "query.region", "unknown region"),
        (2026, "sid-16", None, "62.10", "query.region", "SID indicator"),
        (2026, "sid-16", None, None, "query.innovation", "required"),
        (2026, "sid-16", "inn-1", "62.10", "query.region", "not both"),
        (2026, "spd-01", "inn-1", "62.10", "query.innovation", "not both"),
        (2026, "sid-16", "../etc/passwd", None, "query.innovation", "not an innovation id"),
        (2026, "sid-16", "", None, "query.innovation", "not an innovation id"),
    ],
)
def test_inconsistent_queries_name_the_parameter(cycle, indicator, innovation, region, field, words) -> None:
    error = violation(resolve_target, cycle, indicator, innovation, region, regions=REGIONS)
    assert error.field == field
    assert words in error.reason


# --- links and declared types ---------------------------------------------------------------------

VIDEO = Target(2026, "sid-35", ("video", "link"), "inn-1", None)
PDF_ONLY = Target(2026, "sid-16", ("pdf",), "inn-1", None)


def test_a_link_is_taken_where_the_indicator_accepts_links() -> None:
    assert check_link("  https://youtu.be/abc?t=1  ", VIDEO) == "https://youtu.be/abc?t=1"
    assert check_link("http://diskominfo.gunungmaskab.go.id/video.mp4", VIDEO).startswith("http://")


@pytest.mark.parametrize(
    ("link", "target", "words"),
    [
        ("https://youtu.be/abc", PDF_ONLY, "does not accept links"),
        ("javascript:alert(1)", VIDEO, "http"),
        ("ftp://example.org/video.mp4", VIDEO, "http"),
        ("https://", VIDEO, "http"),
        ("/relative/path", VIDEO, "http"),
        ("https://exa mple.org/", VIDEO, "spaces"),
        ("https://user:secret@example.org/", VIDEO, "password"),
        ("https://example.org/" + "a" * 2100, VIDEO, "2048"),
    ],
)
def test_bad_links_are_refused(link, target, words) -> None:
    error = violation(check_link, link, target)
    assert error.field == "body.link" and words in error.reason


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ("https://[::1/", "Invalid IPv6 URL"),  # urlsplit raises ValueError
        ("https://::1]/", "Invalid IPv6 URL"),
        ("https://exa\u2100mple.org/", "NFKC"),  # a host that normalises to another one
        ("https://example.org:99999/", "out of range"),  # .port raises ValueError
        ("https://example.org:x/", "Port"),
        ("https://example.org:+1/", "Port"),
        ("https://example.org:\u0661/", "Port"),  # an Arabic-Indic digit
        ("https://example.org:0/", "1-65535"),
    ],
)
def test_malformed_urls_are_refused_not_raised(link, words) -> None:
    error = violation(check_link, link, VIDEO)
    assert error.field == "body.link" and "not a valid URL" in error.reason and words in error.reason


def test_links_with_ports_and_ipv6_hosts_are_taken() -> None:
    for link in ("https://example.org:8443/v.mp4", "http://[2001:db8::1]:8080/v.mp4", "https://example.org:/v"):
        assert check_link(link, VIDEO) == link


@pytest.mark.parametrize("declared", [None, "", "application/octet-stream", "application/x-www-form-urlencoded",
                                      "application/pdf", "APPLICATION/PDF; charset=binary"])
def test_a_generic_or_matching_declared_type_is_fine(declared) -> None:
    check_declared_type(declared, PDF)


@pytest.mark.parametrize("declared", ["application/pdf", "image/jpeg", "image/jpg", "video/mp4"])
def test_a_declared_type_contradicting_the_content_is_refused(declared) -> None:
    error = violation(check_declared_type, declared, PNG)
    assert error.field == "header.content-type" and "PNG image" in error.reason


# --- who may do what ----------------------------------------------------------------------------------


def principal(role: str, region: str = "62.10", agency: str | None = None) -> Principal:
    return Principal(subject=f"{role}:{region}", role=role, region=region, agency=agency)  # type: ignore[arg-type]


def test_only_the_agencys_operator_uploads_sid_evidence_and_only_the_region_admin_spd() -> None:
    assert may_upload(principal("operator", agency="dinkes"), "62.10", "dinkes")
    assert not may_upload(principal("operator", agency="disdik"), "62.10", "dinkes")
    assert not may_upload(principal("operator", "62.11", "dinkes"), "62.10", "dinkes")
    assert not may_upload(principal("region_admin"), "62.10", "dinkes")
    assert may_upload(principal("region_admin"), "62.10", None)
    assert not may_upload(principal("region_admin", "62.11"), "62.10", None)
    assert not may_upload(principal("operator", agency="dinkes"), "62.10", None)
    assert not may_upload(principal("verifier"), "62.10", None)


@pytest.mark.parametrize(
    ("who", "agency", "visible"),
    [
        (principal("operator", agency="dinkes"), "dinkes", True),
        (principal("operator", agency="disdik"), "dinkes", False),
        (principal("operator", agency="dinkes"), None, False),  # SPD evidence is the admin's
        (principal("operator", "62.11", "dinkes"), "dinkes", False),
        (principal("region_admin"), "dinkes", True),
        (principal("region_admin"), None, True),
        (principal("verifier"), "dinkes", True),
        (principal("verifier", "62.11"), "dinkes", False),
        (principal("viewer"), "dinkes", False),
    ],
)
def test_who_sees_evidence(who, agency, visible) -> None:
    assert may_see(who, "62.10", agency) is visible


@pytest.mark.parametrize(
    ("who", "agency", "hidden"),
    [
        # Whoever may see the item knows it exists.
        (principal("operator", agency="dinkes"), "dinkes", False),
        (principal("region_admin"), "dinkes", False),
        (principal("verifier"), "dinkes", False),
        (principal("viewer"), "dinkes", False),  # refused (403), but of the item's region
        # Everyone outside the item's region, whatever the role, and another agency's operator.
        (principal("verifier", "62.11"), "dinkes", True),
        (principal("region_admin", "62.11"), "dinkes", True),
        (principal("region_admin", "62.11"), None, True),
        (principal("viewer", "62.11"), "dinkes", True),
        (principal("operator", "62.11", "dinkes"), "dinkes", True),
        (principal("operator", agency="disdik"), "dinkes", True),
        (principal("operator", agency="dinkes"), None, True),
    ],
)
def test_who_may_not_learn_that_evidence_exists(who, agency, hidden) -> None:
    assert hides_evidence(who, "62.10", agency) is hidden


# --- decisions ------------------------------------------------------------------------------------------


def test_decisions_change_the_state_and_keep_a_stripped_reason() -> None:
    assert decide("pending", None, "accepted", None) == Verdict("accepted", None)
    assert decide("pending", None, "accepted", "  ") == Verdict("accepted", None)
    reason = "tanda tangan tidak ada"
    assert decide("accepted", None, "rejected", f" {reason} ") == Verdict("rejected", reason)
    assert decide("rejected", "x", "rejected", "y") == Verdict("rejected", "y")


def test_repeating_the_current_decision_changes_nothing() -> None:
    assert decide("accepted", None, "accepted", None) is None
    assert decide("rejected", "buram", "rejected", "buram ") is None


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_rejecting_needs_a_reason(reason) -> None:
    error = violation(decide, "pending", None, "rejected", reason)
    assert error.field == "body.reason" and "required" in error.reason


def test_a_reason_has_a_length_limit_and_no_control_characters() -> None:
    assert violation(decide, "pending", None, "rejected", "x" * 2001).field == "body.reason"
    assert violation(decide, "pending", None, "rejected", "buram\x00").field == "body.reason"
    assert decide("pending", None, "rejected", "halaman 2:\n\tburam") == Verdict("rejected", "halaman 2:\n\tburam")
