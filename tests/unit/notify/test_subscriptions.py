"""Which webhook URLs and scopes a region admin may subscribe to."""

from __future__ import annotations

import ipaddress

import pytest

from services.common.data.regions import load_regions
from services.common.errors import Forbidden, InvalidInput
from services.notify.domain.subscriptions import (
    Scope,
    allowed_scope,
    check_webhook_target,
    check_webhook_url,
    embedded_ipv4,
    matching_scopes,
    non_public_kind,
)

REGIONS = load_regions()


@pytest.mark.parametrize(
    "url",
    [
        "https://bapperinda.gunungmaskab.go.id/hooks/iid",
        "http://127.0.0.1:8080/hook",
        "HTTPS://example.org",
        "https://[::1]:9000/x?token=abc",
    ],
)
def test_http_and_https_urls_are_accepted(url):
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://bücher.example/hook",
        "https://BÜCHER.example./hook",
        "https://straße.example/hook",
        "https://xn--bcher-kva.example/hook",
        "https://r3---sn-abc.example.org/hook",  # plain ASCII names are DNS's business
        "https://_hooks.example.org/hook",
        "https://" + "a" * 63 + ".example.org/hook",
    ],
)
def test_valid_domain_names_are_accepted(url):
    assert check_webhook_url(url) == url


def test_an_invalid_idna_host_is_named_in_the_reason():
    with pytest.raises(ValueError) as refused:
        check_webhook_url("https://xn--a.example/hook")
    assert str(refused.value).startswith("host 'xn--a.example' is not a valid domain name (IDNA: ")


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://example.org/hook", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("example.org/hook", "scheme"),
        ("", "scheme"),
        ("https://", "host"),
        ("https:///path", "host"),
        ("https://example.org:99999/", "valid URL"),
        ("https://example.org:0/", "port"),
        ("https://example.org/a b", "whitespace"),
        ("https://example.org/\x00", "control"),
        ("https://example.org/#top", "fragment"),
        ("https://example.org/" + "a" * 2000, "2000"),
        # host names httpx or the resolver's IDNA codec cannot encode
        ("https://exa\u200bmple.org/hook", r"Codepoint U\+200B"),
        ("https://ｅｘａｍｐｌｅ.org/hook", r"Codepoint U\+FF45"),  # fullwidth: httpx maps no UTS-46
        ("https://ex☃.org/hook", r"Codepoint U\+2603"),
        ("https://xn--a.example/hook", "IDNA"),  # an A-label that decodes to nothing valid
        ("https://xn--.example/hook", "IDNA"),
        ("https://a..example.org/hook", "empty label"),
        ("https://" + "a" * 64 + ".example.org/hook", "longer than 63"),
        ("https://" + "a." * 127 + "org/hook", "longer than 253"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url, reason):
    with pytest.raises(ValueError, match=reason):
        check_webhook_url(url)


def test_a_region_admin_subscribes_to_its_own_region_only():
    assert allowed_scope("62.10", Scope("region", "62.10"), REGIONS) == Scope("region", "62.10")
    with pytest.raises(Forbidden) as neighbour:
        allowed_scope("62.10", Scope("region", "62.01"), REGIONS)
    assert neighbour.value.problems[0].field == "body.scope.region"


def test_only_a_provinsi_admin_subscribes_to_its_province():
    assert allowed_scope("62", Scope("province", "62"), REGIONS) == Scope("province", "62")
    assert allowed_scope("62", Scope("region", "62"), REGIONS) == Scope("region", "62")
    for caller in ("62.10", "63"):
        with pytest.raises(Forbidden) as refused:
            allowed_scope(caller, Scope("province", "62"), REGIONS)
        assert refused.value.problems[0].field == "body.scope.province"


@pytest.mark.parametrize("scope", [Scope("region", "99.99"), Scope("province", "99"), Scope("province", "62.10")])
def test_unknown_or_wrong_codes_are_422(scope):
    with pytest.raises(InvalidInput) as refused:
        allowed_scope("62.10", scope, REGIONS)
    assert refused.value.problems[0].field == f"body.scope.{scope.kind}"


def test_an_event_reaches_its_region_and_its_province():
    assert matching_scopes("62.10", REGIONS) == [Scope("region", "62.10"), Scope("province", "62")]
    assert matching_scopes("62", REGIONS) == [Scope("region", "62"), Scope("province", "62")]
    assert matching_scopes("99.99", REGIONS) == [Scope("region", "99.99")]


# --- targets: public addresses only ---------------------------------------------------------


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1, which is not a public address (loopback)"),
        ("http://10.0.0.1/hook", "10.0.0.1, which is not a public address (private)"),
        ("https://[::1]:9000/x", "::1, which is not a public address (loopback)"),
        ("http://169.254.169.254/latest/meta-data/", "(link-local)"),
        ("http://localhost:8080/hook", "'localhost', which is not a public host (loopback)"),
        ("http://LOCALHOST./hook", "localhost"),
        ("http://api.localhost/hook", "localhost"),
        ("http://0.0.0.0/", "(unspecified)"),
        ("http://[::]/", "(unspecified)"),
        ("http://224.0.0.1/", "(multicast)"),
        ("http://240.0.0.1/", "(reserved)"),
        ("http://192.168.1.10/", "(private)"),
        ("http://172.16.0.1/", "(private)"),
        ("http://100.64.0.1/", "(non-public)"),
        ("http://[fc00::1]/", "(private)"),
        ("http://[fe80::1]/", "(link-local)"),
        ("http://[::ffff:127.0.0.1]/", "(loopback)"),
        ("http://[::ffff:169.254.169.254]/", "(link-local)"),
        # spellings of 127.0.0.1 that getaddrinfo accepts
        ("http://127.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.0.0.1./", "127.0.0.1"),
        # names that IDNA encoding turns into such an address or localhost
        ("http://127。0。0。1/", "127.0.0.1, which is not a public address (loopback)"),
        ("http://localhost。/", "'localhost。' (localhost.), which is not a public host"),
        # IPv6 addresses judged by the IPv4 address they embed
        ("http://[2002:a00:1::1]/", "2002:a00:1::1, which is not a public address (private, embedding 10.0.0.1 as"),
        ("http://[2002:7f00:1::]/", "(loopback, embedding 127.0.0.1 as 6to4)"),
        ("http://[64:ff9b::a9fe:a9fe]/", "(link-local, embedding 169.254.169.254 as NAT64)"),
        ("http://[64:ff9b::169.254.169.254]/", "(link-local, embedding 169.254.169.254 as NAT64)"),
        ("http://[64:ff9b:1::a00:1]/", "(private, embedding 10.0.0.1 as NAT64)"),
        ("http://[2001:0:a00:1::f7f7:f7f7]/", "(private, embedding 10.0.0.1 as Teredo server)"),
        ("http://[2001:0:808:808::f5ff:fffe]/", "(private, embedding 10.0.0.1 as Teredo client)"),
        ("http://[::127.0.0.1]/", "(loopback, embedding 127.0.0.1 as IPv4-compatible address)"),
        ("http://[::10.0.0.1]/", "(private, embedding 10.0.0.1 as IPv4-compatible address)"),
    ],
)
def test_non_public_targets_are_refused_with_the_reason(url, reason):
    with pytest.raises(ValueError, match="public addresses only") as refused:
        check_webhook_target(url)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://bapperinda.gunungmaskab.go.id/hooks/iid",
        "https://8.8.8.8/hook",
        "https://[2001:4860:4860::8888]/hook",
        "https://face.cafe/hook",  # looks like hex, is a name
        "https://localhost.example.org/hook",  # only *.localhost itself is loopback
        "https://xn--bcher-kva.de/",
        "https://bücher.de/",
        # embedding a public IPv4 address: DNS64 answers for IPv4-only receivers, 6to4, Teredo
        "https://[64:ff9b::808:808]/hook",
        "https://[2002:808:808::1]/hook",
        "https://[2001:0:808:808::f7f7:f7f7]/hook",
    ],
)
def test_public_targets_are_accepted(url):
    check_webhook_target(url)  # host names are checked again, resolved, at send time


def test_address_kinds():
    assert non_public_kind(ipaddress.ip_address("93.184.216.34")) is None
    assert non_public_kind(ipaddress.ip_address("2606:2800:220:1::1")) is None
    assert non_public_kind(ipaddress.ip_address("127.0.0.53")) == "loopback"
    assert non_public_kind(ipaddress.ip_address("::ffff:10.1.2.3")) == "private"
    assert non_public_kind(ipaddress.ip_address("::1")) == "loopback"  # not IPv4-compatible 0.0.0.1
    assert non_public_kind(ipaddress.ip_address("::")) == "unspecified"


@pytest.mark.parametrize(
    "address, embedded",
    [
        ("::ffff:10.1.2.3", [("IPv4-mapped", "10.1.2.3")]),
        ("2002:c000:0204::1", [("6to4", "192.0.2.4")]),
        ("64:ff9b::192.0.2.33", [("NAT64", "192.0.2.33")]),
        ("64:ff9b:1:abcd::192.0.2.33", [("NAT64", "192.0.2.33")]),
        # RFC 4380's example: server 65.54.227.120, client 192.0.2.45 (bits inverted)
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", [("Teredo server", "65.54.227.120"), ("Teredo client", "192.0.2.45")]),
        ("::192.0.2.1", [("IPv4-compatible address", "192.0.2.1")]),
        ("::1", []),
        ("2606:2800:220:1::1", []),
        ("64:ff9b:2::808:808", []),
    ],
)
def test_embedded_ipv4_addresses(address, embedded):
    found = embedded_ipv4(ipaddress.IPv6Address(address))
    assert [(form, str(ipv4)) for form, ipv4 in found] == embedded
