"""What may be uploaded for which answer, who may upload, see and decide evidence, and how
a decision changes an item. Pure: no I/O (the methodology catalogue and the region list are
static data packaged with the code).

Assumption: the catalogue gives evidence rules only for SID indicators. SPD answers are backed
by decrees, budget pages and screenshots, so SPD evidence may be a PDF or an image
(`SPD_EVIDENCE_KINDS`).
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from services.common.errors import InvalidInput
from services.common.methodology.catalogue import (
    METHODOLOGY_IDS,
    CatalogueError,
    load_methodology,
    methodology_for_cycle,
)
from services.common.principal import Principal
from services.common.text import control_character_problem
from services.evidence.domain.filetypes import FileType, describe_kinds

SPD_EVIDENCE_KINDS: tuple[str, ...] = ("pdf", "image")
MAX_LINK_LENGTH = 2048
MAX_REASON_LENGTH = 2000
# Innovation ids come from intake; anything else is refused before touching the database.
_INNOVATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
# The Content-Type values a client may declare for an evidence file. Only these are
# compared with the detected type: generic ones (application/octet-stream, or the form
# type `curl --data-binary` sends) say nothing about the content.
_SPECIFIC_CONTENT_TYPES = {
    "application/pdf": "application/pdf",
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "video/mp4": "video/mp4",
    "video/quicktime": "video/quicktime",
}

Decision = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class Target:
    """The answer an upload backs: one SID indicator of an innovation, or one SPD indicator
    of a region."""

    cycle: int
    indicator: str
    kinds: tuple[str, ...]  # evidence kinds the indicator accepts
    innovation_id: str | None  # SID
    region: str | None  # SPD (for SID the region comes from the innovation)


def known_cycles() -> list[int]:
    return sorted({c for m in METHODOLOGY_IDS for c in load_methodology(m).valid_for_cycles})


def resolve_target(
    cycle: int,
    indicator: str,
    innovation: str | None,
    region: str | None,
    *,
    regions: Container[str],
) -> Target:
    """Check that the query names one answer consistently; InvalidInput otherwise."""
    try:
        methodology = methodology_for_cycle(cycle)
    except CatalogueError:
        cycles = ", ".join(str(c) for c in known_cycles())
        raise InvalidInput.at("query.cycle", f"no assessment cycle {cycle}; known cycles: {cycles}") from None
    found = methodology.indicator_by_code.get(indicator)
    if found is None:
        raise InvalidInput.at(
            "query.indicator",
            f"unknown indicator {indicator!r} in methodology {methodology.id} "
            "(SPD indicators look like spd-01, SID indicators like sid-16)",
        )
    if innovation is not None and region is not None:
        raise InvalidInput.at(
            "query.region" if found.aspect == "sid" else "query.innovation",
            "give innovation= (for a SID indicator) or region= (for an SPD indicator), not both",
        )
    if found.aspect == "spd":
        if innovation is not None:
            raise InvalidInput.at(
                "query.innovation",
                f"{indicator} is an SPD indicator, answered once per region: "
                "use region=<code> instead of innovation=",
            )
        if region is None:
            raise InvalidInput.at("query.region", f"{indicator} is an SPD indicator: region=<code> is required")
        if region not in regions:
            raise InvalidInput.at("query.region", f"unknown region {region!r} (a Kemendagri code such as 62.10)")
        return Target(cycle, indicator, SPD_EVIDENCE_KINDS, None, region)
    if region is not None:
        raise InvalidInput.at(
            "query.region",
            f"{indicator} is a SID indicator, answered per innovation: "
            "use innovation=<id> instead of region=",
        )
    if innovation is None:
        raise InvalidInput.at("query.innovation", f"{indicator} is a SID indicator: innovation=<id> is required")
    if not _INNOVATION_ID.match(innovation):
        raise InvalidInput.at("query.innovation", "not an innovation id (1-100 letters, digits, '.', '_', ':', '-')")
    kinds = found.evidence.kinds if found.evidence is not None else SPD_EVIDENCE_KINDS
    return Target(cycle, indicator, tuple(kinds), innovation, None)


# --- uploads -----------------------------------------------------------------------------


def check_declared_type(declared: str | None, detected: FileType) -> None:
    """A client that declares a specific evidence type must send that type: a body labelled
    application/pdf that is really a PNG is refused, even where PNGs are accepted."""
    media_type = media_type_of(declared)
    claimed = _SPECIFIC_CONTENT_TYPES.get(media_type)
    if claimed is not None and claimed != detected.content_type:
        raise InvalidInput.at(
            "header.content-type",
            f"Content-Type says {media_type} but the file's content is {detected.name} "
            f"({detected.content_type})",
        )


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_link(link: str, target: Target) -> str:
    """The link, if the indicator accepts links and it is an absolute http(s) URL."""
    if "link" not in target.kinds:
        raise InvalidInput.at(
            "body.link",
            f"{target.indicator} does not accept links; it accepts only: {describe_kinds(target.kinds)}. "
            "Send the file's bytes as the request body instead",
        )
    link = link.strip()
    if len(link) > MAX_LINK_LENGTH:
        raise InvalidInput.at("body.link", f"longer than {MAX_LINK_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in link):
        raise InvalidInput.at("body.link", "must not contain spaces or control characters")
    try:
        parts = urlsplit(link)  # raises on a malformed IPv6 host ("https://[::1/") and the like
        port = parts.port  # raises on a port that is not a number or is out of range
    except ValueError as exc:
        raise InvalidInput.at("body.link", f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput.at("body.link", "must be an absolute http:// or https:// URL")
    if port == 0:
        raise InvalidInput.at("body.link", "not a valid URL (port must be 1-65535)")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput.at("body.link", "must not carry a user name or password")
    return link


# --- who may do what -----------------------------------------------------------------------


def may_upload(principal: Principal, region: str, agency_id: str | None) -> bool:
    """SID evidence: the operator of the innovation's agency; SPD: the region's admin."""
    if agency_id is None:
        return principal.can_answer_spd(region)
    return principal.can_write_innovation(region, agency_id)


def may_see(principal: Principal, region: str, agency_id: str | None) -> bool:
    """The owner (operator of the agency; for SPD the region admin), the region's admins and
    verifiers, and those who oversee the region (its province's admin, national principals).
    Viewers read scores, not documents."""
    if not principal.can_read_region(region):
        return False
    if principal.role in ("region_admin", "verifier") or principal.oversees(region):
        return True
    return principal.role == "operator" and agency_id is not None and principal.agency == agency_id


def hides_evidence(principal: Principal, region: str, agency_id: str | None) -> bool:
    """Whether `principal` must not learn that an item of `region` (and `agency_id`) exists,
    on any endpoint: it is then "not found", exactly like an id that does not exist. Whoever
    may see the item knows it exists; so does a viewer of its region, who is refused (403)."""
    if may_see(principal, region, agency_id):
        return False
    return not (principal.role == "viewer" and principal.can_read_region(region))


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    state: Decision
    reason: str | None


def decide(current_state: str, current_reason: str | None, decision: Decision, reason: str | None) -> Verdict | None:
    """The item's new verification state, or None when the decision repeats the current one
    (no new version). Rejecting needs a reason: it is what the agency must fix."""
    reason = (reason or "").strip() or None
    if decision == "rejected" and reason is None:
        raise InvalidInput.at("body.reason", "a reason is required when rejecting evidence")
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput.at("body.reason", f"longer than {MAX_REASON_LENGTH} characters")
    if reason is not None and (problem := control_character_problem(reason)):
        raise InvalidInput.at("body.reason", problem)
    if current_state == decision and current_reason == reason:
        return None
    return Verdict(decision, reason)
