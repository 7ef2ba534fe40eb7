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
    ],
)
def test_public_targets_are_accepted(url):
    check_webhook_target(url)  # host names are checked again, resolved, at send time


def test_address_kinds():
    assert non_public_kind(ipaddress.ip_address("93.184.216.34")) is None
    assert non_public_kind(ipaddress.ip_address("2606:2800:220:1::1")) is None
    assert non_public_kind(ipaddress.ip_address("127.0.0.53")) == "loopback"
    assert non_public_kind(ipaddress.ip_address("::ffff:10.1.2.3")) == "private"
