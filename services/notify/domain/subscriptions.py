"""Rules for webhook subscriptions: which URLs are accepted and which scopes a region
admin may subscribe to.

Scope rule: a region admin subscribes to its own region (`{"region": <own code>}`). The
admin of a provinsi may also subscribe to its province (`{"province": <own code>}`): the
provinsi itself and every kabupaten and kota in it, since provinces coordinate (and are
ranked against) their kabupaten and kota. A kabupaten or kota admin cannot subscribe to
its province or to a neighbour.

Target rule (unless INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS): webhooks go to public addresses
only. A region admin must not be able to make the platform POST to — and show it the answer
of — a service on its own network (loopback, the cloud metadata address 169.254.169.254,
private ranges). Subscriptions naming such an IP or `localhost` are refused; the delivery
worker checks every address a host name resolves to before each attempt, and connects only
to an address it checked. An IPv6 address that embeds an IPv4 address (IPv4-mapped, 6to4,
NAT64, Teredo, IPv4-compatible) is judged by the IPv4 address it leads to.

Host rule (always): the host must be a valid domain name or IP literal; an internationalised
name must encode to its ASCII form under IDNA 2008 as the sender's HTTP client (httpx)
encodes it, so that what was checked is what is resolved and sent to.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import idna

from services.common.data.regions import RegionInfo
from services.common.errors import Forbidden, InvalidInput

ScopeKind = Literal["region", "province"]
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    code: str

    def as_json(self) -> dict[str, str]:
        return {self.kind: self.code}


def check_webhook_url(url: str) -> str:
    """The URL as given when it is an absolute http(s) URL with a host; ValueError (with
    the reason) otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, not {parts.scheme or 'missing'!r}")
    if not parts.hostname:
        raise ValueError("must name a host")
    ascii_host(parts.hostname)
    if port == 0:
        raise ValueError("port must be 1-65535")
    if parts.fragment:
        raise ValueError("must not have a #fragment (it is never sent)")
    return url


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
PUBLIC_ONLY = "webhooks go to public addresses only"
# Legacy IPv4 spellings getaddrinfo still accepts: 127.1, 2130706433, 0x7f.0.0.1, 0177.0.0.1.
_LEGACY_IPV4 = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291, deprecated
_IPV4_MAPPED_FORM = "IPv4-mapped"
MAX_LABEL_LENGTH = 63  # RFC 1035
MAX_NAME_LENGTH = 253  # RFC 1035's 255 octets on the wire, as text without the trailing dot


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses a packet to `address` is carried to, each with the form that
    embeds it ("6to4", "Teredo client", ...); empty for an address that embeds none."""
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return [(_IPV4_MAPPED_FORM, address.ipv4_mapped)]
    if address.sixtofour is not None:
        return [("6to4", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    if address in _NAT64_WELL_KNOWN or address in _NAT64_LOCAL_USE:
        return [("NAT64", last_32_bits)]
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are IPv6's own
        return [("IPv4-compatible address", last_32_bits)]
    return []


def non_public_kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("loopback", "private", ...), or None for
    an address webhooks may go to."""
    if isinstance(address, ipaddress.IPv6Address) and (embedded := embedded_ipv4(address)):
        # Judged by where the packets end up, not by the prefix: Python classes these
        # prefixes differently across versions (NAT64 as reserved, 6to4 as global or
        # private), which would let 6to4 reach 10.0.0.1 or refuse every DNS64 answer.
        for form, ipv4 in embedded:
            kind = non_public_kind(ipv4)
            if kind is not None:
                return kind if form == _IPV4_MAPPED_FORM else f"{kind}, embedding {ipv4} as {form}"
        return None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private or getattr(address, "is_site_local", False)),
        ("non-public", not address.is_global),  # e.g. 100.64.0.0/10 (carrier-grade NAT)
    )
    return next((kind for kind, hit in checks if hit), None)


def host_address(host: str) -> IPAddress | None:
    """The address `host` (a URL's host, without brackets) spells literally, or None for a
    host name."""
    host = host.rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def ascii_host(host: str) -> str:
    """`host` (a URL's host as urlsplit gives it) as it is resolved and sent: an IP literal
    as is, a name IDNA-encoded the way httpx encodes it (lowercased, IDNA 2008, no UTS-46
    mapping). ValueError (with the reason) for a name that is not a valid domain name."""
    if host_address(host) is not None:
        return host
    try:
        encoded = host if host.isascii() else idna.encode(host.lower()).decode("ascii")
        name = encoded[:-1] if encoded.endswith(".") else encoded
        if len(name) > MAX_NAME_LENGTH:
            raise idna.IDNAError(f"the name is longer than {MAX_NAME_LENGTH} characters")
        for label in name.split("."):
            if not label:
                raise idna.IDNAError("empty label")
            if len(label) > MAX_LABEL_LENGTH:
                raise idna.IDNAError(f"a label is longer than {MAX_LABEL_LENGTH} characters")
            if label.lower().startswith("xn--"):
                idna.decode(label)  # an A-label must stand for a valid internationalised label
    except idna.IDNAError as exc:
        raise ValueError(f"host {host!r} is not a valid domain name (IDNA: {exc})") from None
    return encoded


def is_localhost(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost")  # RFC 6761: always loopback


def check_webhook_target(url: str) -> None:
    """ValueError (with the reason) when `url`'s host is `localhost`, an IP literal that is
    not public, or not a valid domain name. Host names are checked again, resolved, at
    every attempt."""
    given = urlsplit(url).hostname or ""
    host = ascii_host(given)  # "127。0。0。1" is sent to 127.0.0.1
    shown = repr(given) if host == given else f"{given!r} ({host})"
    if is_localhost(host):
        raise ValueError(f"must not point at {shown}, which is not a public host (loopback); {PUBLIC_ONLY}")
    address = host_address(host)
    if address is not None and (kind := non_public_kind(address)) is not None:
        raise ValueError(f"must not point at {address}, which is not a public address ({kind}); {PUBLIC_ONLY}")


def allowed_scope(caller_region: str, scope: Scope, regions: Mapping[str, RegionInfo]) -> Scope:
    """The scope when `caller_region`'s admin may subscribe to it; otherwise InvalidInput
    (an unknown code) or Forbidden (someone else's), naming the field."""
    field = f"body.scope.{scope.kind}"
    target = regions.get(scope.code)
    if target is None:
        raise InvalidInput.at(field, f"unknown {scope.kind} code {scope.code!r}")
    if scope.kind == "province":
        if target.type != "provinsi":
            raise InvalidInput.at(field, f"{scope.code!r} is a {target.type}, not a provinsi")
        if caller_region != scope.code:
            raise Forbidden.at(
                field,
                f"only the admin of provinsi {scope.code} may subscribe to its province "
                f"(your region is {caller_region})",
            )
        return scope
    if caller_region != scope.code:
        raise Forbidden.at(field, f"a region admin may subscribe only to its own region ({caller_region})")
    return scope


def matching_scopes(region: str, regions: Mapping[str, RegionInfo]) -> list[Scope]:
    """The subscription scopes an event about `region` reaches."""
    scopes = [Scope("region", region)]
    info = regions.get(region)
    if info is not None:
        scopes.append(Scope("province", info.province_code))
    return scopes
