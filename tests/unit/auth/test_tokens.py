import subprocess
import sys
import time

import jwt
import pytest

from services.common.principal import Principal
from services.common.tokens import TokenError, issue_token, verify_token

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
