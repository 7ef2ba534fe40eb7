import subprocess
import sys
import time

import jwt
import pytest

from services.common.principal import Principal
from services.common.tokens import (
    TokenError,
    UploadGrant,
    UploadGrants,
    VerifiedTokens,
    issue_token,
    verify_token,
)

SECRET = "test-secret-" + "0123456789abcdef" * 4


def test_round_trip_carries_role_region_agency():
    token = issue_token(SECRET, "operator", "62.10", agency="dinkes")
    assert verify_token(SECRET, token) == Principal("operator:62.10:dinkes", "operator", "62.10", "dinkes")


def _signed(**claims) -> str:
    now = int(time.time())
    base = {"iss": "inovasi", "sub": "x", "iat": now - 10, "exp": now + 3600, "role": "viewer", "region": "62"}
    base.update(claims)
    return jwt.encode(base, SECRET, algorithm="HS256")


def _encoded(role: str, algorithm: str = "HS256") -> str:
    claims = {"iss": "inovasi", "sub": "x", "iat": 1, "exp": 4_000_000_000, "role": role, "region": "62"}
    return jwt.encode(claims, SECRET, algorithm=algorithm)


@pytest.mark.parametrize(
    ("token_factory", "reason"),
    [
        (lambda: issue_token("another-secret-" + "f" * 64, "viewer", "62"), "invalid token"),
        (lambda: issue_token(SECRET, "viewer", "62", now=1_000_000, ttl_s=60), "token expired"),
        (lambda: "not.a.jwt", "invalid token"),
        (lambda: _encoded("god"), "unknown role"),
        (lambda: _encoded("operator"), "needs an agency"),
        (lambda: _encoded("viewer", algorithm="HS512"), "invalid token"),
        (lambda: _signed(region="99.99"), "no known region"),
        (lambda: _signed(role="operator", agency="Dinas\x00Kesehatan"), "malformed agency"),
        (lambda: _signed(sub="viewer\ud800"), "malformed subject"),
        (lambda: _signed(exp=10**30), "valid for longer than 31 days"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(token_factory, reason):
    with pytest.raises(TokenError, match=reason):
        verify_token(SECRET, token_factory())


def test_issue_refuses_what_verify_would_refuse():
    for kwargs, reason in (
        ({"region": "99.99"}, "not a Kemendagri region"),
        ({"region": "62.10", "agency": "Dinas Kesehatan"}, "not an agency id"),
        ({"region": "62.10", "ttl_s": 10**9}, "ttl must be"),
    ):
        with pytest.raises(TokenError, match=reason):
            issue_token(SECRET, "viewer", **kwargs)


def test_tenancy_rules():
    operator = Principal("o", "operator", "62.10", "dinkes")
    assert operator.can_read_innovation("62.10", "dinkes") and operator.can_write_innovation("62.10", "dinkes")
    assert not operator.can_read_innovation("62.10", "disdik")
    assert not operator.can_write_innovation("62.11", "dinkes")
    assert not operator.can_answer_spd("62.10")
    admin = Principal("a", "region_admin", "62.10")
    assert admin.can_read_innovation("62.10", "disdik") and not admin.can_write_innovation("62.10", "disdik")
    assert admin.can_answer_spd("62.10") and not admin.can_answer_spd("62.11")
    verifier = Principal("v", "verifier", "62.10")
    assert verifier.can_verify("62.10") and not verifier.can_verify("62.11")
    assert not verifier.can_write_innovation("62.10", "dinkes")
    viewer = Principal("w", "viewer", "62.10")
    assert not any(
        [viewer.can_write_innovation("62.10", "x"), viewer.can_answer_spd("62.10"), viewer.can_verify("62.10")]
    )
    # Managing a region is its admin's; its details are for everyone of it but operators.
    assert admin.can_manage_region("62.10") and not admin.can_manage_region("62.11")
    assert not any(p.can_manage_region("62.10") for p in (operator, verifier, viewer))
    assert all(p.can_read_region_details("62.10") for p in (admin, verifier, viewer))
    assert not operator.can_read_region_details("62.10") and not viewer.can_read_region_details("62.11")


def test_cli_issues_a_token_that_verifies(monkeypatch):
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", "issue", "--role", "verifier", "--region", "62.10"],
        capture_output=True, text=True, env={"INOVASI_AUTH_SECRET": SECRET, "PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert verify_token(SECRET, done.stdout.strip()).role == "verifier"


def test_cli_refuses_an_operator_without_agency():
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", "issue", "--role", "operator", "--region", "62.10"],
        capture_output=True, text=True, env={"INOVASI_AUTH_SECRET": SECRET, "PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert done.returncode == 2 and "needs an agency" in done.stderr


# --- the two oversight roles, and account tokens ------------------------------------------------


def test_a_province_admin_token_carries_a_provinsi_code():
    principal = verify_token(SECRET, issue_token(SECRET, "province_admin", "62"))
    assert (principal.role, principal.region, principal.agency) == ("province_admin", "62", None)
    for region in ("62.10", "99", None):
        with pytest.raises(TokenError, match="needs the code of a provinsi"):
            issue_token(SECRET, "province_admin", region)
    with pytest.raises(TokenError, match="has no agency"):
        issue_token(SECRET, "province_admin", "62", agency="dinkes")
    # Signed elsewhere, with a kabupaten's code: refused all the same.
    forged = _signed(role="province_admin", region="62.10")
    with pytest.raises(TokenError, match="needs a provinsi's code"):
        verify_token(SECRET, forged)


def test_a_national_token_has_no_region():
    token = issue_token(SECRET, "national", None)
    assert "region" not in jwt.decode(token, options={"verify_signature": False})
    principal = verify_token(SECRET, token)
    assert (principal.role, principal.region, principal.subject) == ("national", None, "national")
    with pytest.raises(TokenError, match="a national token has no region"):
        issue_token(SECRET, "national", "62")
    with pytest.raises(TokenError, match="has no agency"):
        issue_token(SECRET, "national", None, agency="dinkes")
    with pytest.raises(TokenError, match="a national token has no region"):
        verify_token(SECRET, _signed(role="national", region="62"))
    assert verify_token(SECRET, _signed(role="national", region=None)).region is None  # null: none


def test_region_roles_still_need_a_region():
    with pytest.raises(TokenError, match="a viewer token needs a region"):
        issue_token(SECRET, "viewer", None)
    with pytest.raises(TokenError, match="no known region"):
        verify_token(SECRET, _signed(region=None))


def test_an_account_token_carries_its_id_and_account():
    token = issue_token(SECRET, "region_admin", "62.10", subject="acc-0f3c2b9e", token_id="tok-71ab", ttl_s=3600)
    assert jwt.decode(token, options={"verify_signature": False})["jti"] == "tok-71ab"
    assert verify_token(SECRET, token) == Principal("acc-0f3c2b9e", "region_admin", "62.10", token_id="tok-71ab")
    assert verify_token(SECRET, issue_token(SECRET, "viewer", "62.10")).token_id is None
    with pytest.raises(TokenError, match="token id"):
        issue_token(SECRET, "viewer", "62.10", token_id="tok 1")
    with pytest.raises(TokenError, match="subject"):
        issue_token(SECRET, "viewer", "62.10", subject="an account")
    with pytest.raises(TokenError, match="malformed token id"):
        verify_token(SECRET, _signed(jti="tok 1"))


DAY = 24 * 3600


def test_a_revocable_token_may_live_366_days_another_31():
    assert verify_token(SECRET, issue_token(SECRET, "viewer", "62.10", ttl_s=366 * DAY, token_id="tok-1"))
    assert verify_token(SECRET, issue_token(SECRET, "viewer", "62.10", ttl_s=31 * DAY))
    with pytest.raises(TokenError, match="366 days"):
        issue_token(SECRET, "viewer", "62.10", ttl_s=367 * DAY, token_id="tok-1")
    with pytest.raises(TokenError, match="31 days"):
        issue_token(SECRET, "viewer", "62.10", ttl_s=32 * DAY)
    now = int(time.time())
    # However they were signed: a jti allows 366 days, no more; without one, 31.
    assert verify_token(SECRET, _signed(exp=now + 366 * DAY - 20, jti="tok-1")).token_id == "tok-1"
    with pytest.raises(TokenError, match="longer than 366 days"):
        verify_token(SECRET, _signed(exp=now + 367 * DAY, jti="tok-1"))
    with pytest.raises(TokenError, match="longer than 31 days"):
        verify_token(SECRET, _signed(exp=now + 32 * DAY))


def test_remembered_tokens_answer_as_verify_token_does_until_they_expire():
    tokens = VerifiedTokens(SECRET)
    now = int(time.time())
    token = issue_token(SECRET, "operator", "62.10", agency="dinkes", ttl_s=60, now=now - 59)  # 1 s to live
    assert tokens.verify(token) == verify_token(SECRET, token)
    assert tokens.verify(token) == verify_token(SECRET, token)  # remembered: the same answer
    with pytest.raises(TokenError, match="invalid token"):  # a bad one is never remembered
        tokens.verify(issue_token("another-secret-" + "f" * 64, "viewer", "62"))
    time.sleep(max(0.0, now + 1.05 - time.time()))  # past its exp: verified again, refused as expired
    with pytest.raises(TokenError, match="token expired"):
        tokens.verify(token)


def test_remembered_tokens_are_bounded():
    tokens = VerifiedTokens(SECRET, max_entries=3)
    issued = [issue_token(SECRET, "viewer", "62", subject=f"u{n}") for n in range(10)]
    assert [tokens.verify(t).subject for t in issued] == [f"u{n}" for n in range(10)]
    assert len(tokens._known) == 3


def test_an_upload_grant_is_reissued_once_a_quarter_of_its_lifetime_has_passed():
    grants = UploadGrants(SECRET, ttl_s=400)
    grant = UploadGrant("0190-abc", 2026, "62.10", "dinkes")
    now = int(time.time())
    first = grants.current(grant, now=now - 99)
    assert grants.current(grant, now=now) == first
    assert grants.verify(first) == grant
    later = grants.current(grant, now=now + 1)
    assert later != first and jwt.decode(later, options={"verify_signature": False})["iat"] == now + 1
    other = UploadGrant("0190-def", 2026, "62.10", "dinkes")
    assert grants.verify(grants.current(other, now=now)) == other
