"""The web service's rules, pure: passwords and user names, scopes and who manages whom,
lockout, rate limits, sessions, CSRF, safe redirects, token lifetimes, and how the pages
write numbers and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.web.domain.accounts import (
    MANAGEABLE_ROLES,
    ROLES,
    Reason,
    Scope,
    can_manage,
    grant_problems,
    password_problems,
    scope_problems,
    username_problems,
)
from services.web.domain.login import LOCKOUT, MAX_FAILED_LOGINS, LoginState, RateLimit, unknown_account_lock
from services.web.domain.sessions import SessionTimes, csrf_matches, landing_path, safe_next
from services.web.domain.tokens import MAX_TOKEN_DAYS, TokenReason, token_problems
from services.web.entrypoints.texts import REASONS, locked_message, two_decimals

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09:00 WIB


# --- passwords and user names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", Reason.PASSWORD_TOO_SHORT),
        ("123456789", Reason.PASSWORD_TOO_SHORT),
        ("x" * 257, Reason.PASSWORD_TOO_LONG),
        ("aaaaaaaaaaaa", Reason.PASSWORD_REPEATS),
        ("Password123", Reason.PASSWORD_COMMON),
        ("katasandi123", Reason.PASSWORD_COMMON),
        ("budi.santoso-rahasia", Reason.PASSWORD_HAS_USERNAME),
        ("tab\there-and-more", Reason.PASSWORD_CONTROL),
    ],
)
def test_weak_passwords_are_refused_with_their_reason(password: str, reason: str) -> None:
    problems = password_problems(password, "budi.santoso")
    assert [(p.field, p.reason) for p in problems] == [("password", reason)]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=10, max_size=256))
def test_any_long_enough_phrase_without_control_characters_is_accepted_unless_known_or_trivial(text: str) -> None:
    problems = password_problems(text, "zz-no-overlap-user")
    assert all(p.reason in (Reason.PASSWORD_COMMON, Reason.PASSWORD_REPEATS, Reason.PASSWORD_HAS_USERNAME,
                            Reason.PASSWORD_TOO_SHORT) for p in problems)
    if len(set(text.lower())) > 1 and "zz-no-overlap-user" not in text.lower() and len(text) >= 10:
        assert not [p for p in problems if p.reason == Reason.PASSWORD_TOO_SHORT]


def test_a_pass_phrase_is_fine() -> None:
    assert password_problems("kopi tubruk di tepi sungai kahayan", "admin.gumas") == []


@pytest.mark.parametrize("username", ["ab", "-admin", "admin gumas", "admin@gumas", "a" * 65, ""])
def test_bad_user_names(username: str) -> None:
    assert [p.reason for p in username_problems(username)] == [Reason.USERNAME_FORMAT]


@pytest.mark.parametrize("username", ["abc", "Admin.Gumas", "operator_dinkes-01", "a" * 64])
def test_good_user_names(username: str) -> None:
    assert username_problems(username) == []


def test_every_reason_of_the_rules_is_said_in_indonesian() -> None:
    reasons = [v for k, v in vars(Reason).items() if k.isupper()] + [
        v for k, v in vars(TokenReason).items() if k.isupper()
    ]
    assert reasons and all(reason in REASONS for reason in reasons)


# --- scopes and who manages whom -----------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "problems"),
    [
        (Scope("region_admin", "62.10"), []),
        (Scope("operator", "62.10", "dinkes"), []),
        (Scope("operator", "62.10"), [("agency", Reason.AGENCY_REQUIRED)]),
        (Scope("operator", "62.10", "Dinas Kesehatan"), [("agency", Reason.AGENCY_FORMAT)]),
        (Scope("viewer", "62.10", "dinkes"), [("agency", Reason.AGENCY_NOT_ALLOWED)]),
        (Scope("viewer", "99.99"), [("region", Reason.REGION_UNKNOWN)]),
        (Scope("viewer", None), [("region", Reason.REGION_UNKNOWN)]),
        (Scope("province_admin", "62"), []),
        (Scope("province_admin", "62.10"), [("region", Reason.REGION_NOT_PROVINCE)]),
        (Scope("national", None), []),
        (Scope("national", "62"), [("region", Reason.REGION_NOT_ALLOWED)]),
    ],
)
def test_what_a_role_needs_of_region_and_agency(scope: Scope, problems: list[tuple[str, str]]) -> None:
    assert [(p.field, p.reason) for p in scope_problems(scope)] == problems


ADMIN = Scope("region_admin", "62.10")


@given(st.sampled_from(ROLES), st.sampled_from(["62.10", "62.01", "62", None]))
def test_a_region_admin_manages_only_its_region_s_region_roles(role: str, region: str | None) -> None:
    target = Scope(role, region)  # type: ignore[arg-type]
    allowed = can_manage(ADMIN, target)
    assert allowed == (region == "62.10" and role in MANAGEABLE_ROLES)
    assert allowed == (grant_problems(ADMIN, target) == [])


@given(st.sampled_from([r for r in ROLES if r != "region_admin"]), st.sampled_from(ROLES))
def test_nobody_else_manages_accounts(actor_role: str, target_role: str) -> None:
    assert not can_manage(Scope(actor_role, "62.10"), Scope(target_role, "62.10"))  # type: ignore[arg-type]


def test_province_admin_and_national_are_never_granted_on_a_page() -> None:
    assert "province_admin" not in MANAGEABLE_ROLES and "national" not in MANAGEABLE_ROLES
    assert [p.field for p in grant_problems(ADMIN, Scope("province_admin", "62"))] == ["role", "region"]


# --- lockout -------------------------------------------------------------------------------------


def test_five_failures_in_a_row_lock_for_fifteen_minutes_and_a_success_resets() -> None:
    state = LoginState()
    for n in range(1, MAX_FAILED_LOGINS):
        state = state.after_failure(NOW)
        assert state == LoginState(n, None) and not state.is_locked(NOW)
    state = state.after_failure(NOW)
    assert state.locked_until == NOW + timedelta(minutes=15) and state.is_locked(NOW)
    assert state.is_locked(NOW + LOCKOUT - timedelta(seconds=1))
    assert not state.is_locked(NOW + LOCKOUT)
    assert LoginState.after_success() == LoginState(0, None)


def test_attempts_while_locked_neither_count_nor_extend_and_a_served_lock_starts_over() -> None:
    locked = LoginState(MAX_FAILED_LOGINS, NOW + LOCKOUT)
    assert locked.after_failure(NOW + timedelta(minutes=5)) == locked
    after = locked.after_failure(NOW + LOCKOUT + timedelta(seconds=1))
    assert after == LoginState(1, None)


@given(st.lists(st.integers(min_value=0, max_value=3600), max_size=20))
def test_a_user_name_without_account_locks_like_an_account(offsets: list[int]) -> None:
    failures = [NOW - timedelta(seconds=s) for s in offsets]
    recent = sorted(f for f in failures if NOW - LOCKOUT < f <= NOW)
    until = unknown_account_lock(failures, NOW)
    assert (until is not None) == (len(recent) >= MAX_FAILED_LOGINS)
    if until is not None:
        assert until == recent[MAX_FAILED_LOGINS - 1] + LOCKOUT


def test_the_lock_message_names_the_local_time() -> None:
    assert locked_message(NOW + LOCKOUT) == "Akun terkunci sampai 09:15 WIB karena terlalu banyak percobaan masuk."
    assert "10:15 WITA" in locked_message(NOW + LOCKOUT, "WITA")


# --- rate limits ---------------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=600), max_size=30), st.integers(min_value=1, max_value=12))
def test_rate_limit_allows_at_most_n_in_any_window(offsets: list[int], limit: int) -> None:
    window = timedelta(minutes=5)
    attempts = [NOW - timedelta(seconds=s) for s in offsets]
    wait = RateLimit(limit, window).retry_after_s(attempts, NOW)
    in_window = [a for a in attempts if NOW - window < a <= NOW]
    assert (wait is None) == (len(in_window) < limit)
    if wait is not None:
        later = NOW + timedelta(seconds=wait)
        assert RateLimit(limit, window).retry_after_s(attempts, later) is None  # allowed once waited
        assert wait >= 1


def test_ten_attempts_from_an_address_in_five_minutes_then_wait() -> None:
    limit = RateLimit(10, timedelta(minutes=5))
    attempts = [NOW - timedelta(seconds=30 * k) for k in range(10)]  # the oldest 4.5 min ago
    assert limit.retry_after_s(attempts[:9], NOW) is None
    assert limit.retry_after_s(attempts, NOW) == 30


# --- sessions, CSRF, landing, redirects ------------------------------------------------------------


def test_a_session_ends_at_its_absolute_or_idle_end() -> None:
    times = SessionTimes(NOW, NOW, NOW + timedelta(hours=12))
    idle = timedelta(hours=2)
    assert times.alive(NOW + timedelta(hours=1, minutes=59), idle)
    assert not times.alive(NOW + timedelta(hours=2), idle)
    used = SessionTimes(NOW, NOW + timedelta(hours=11), NOW + timedelta(hours=12))
    assert used.alive(NOW + timedelta(hours=11, minutes=59), idle)
    assert not used.alive(NOW + timedelta(hours=12), idle)
    assert not times.needs_touch(NOW + timedelta(seconds=59)) and times.needs_touch(NOW + timedelta(minutes=1))


@given(st.text(min_size=1, max_size=50), st.text(max_size=50))
def test_csrf_matches_only_the_same_token(expected: str, given_token: str) -> None:
    assert csrf_matches(expected, given_token) == (expected == given_token)
    assert not csrf_matches(expected, None) and not csrf_matches(None, expected) and not csrf_matches("", "")


@pytest.mark.parametrize(
    ("role", "region", "path"),
    [
        ("region_admin", "62.10", "/daerah/62.10"),
        ("viewer", "62.10", "/daerah/62.10"),
        ("operator", "62.10", "/inovasi"),
        ("verifier", "62.10", "/verifikasi"),
        ("province_admin", "62", "/peringkat"),
        ("national", None, "/peringkat"),
    ],
)
def test_each_role_lands_on_its_page(role: str, region: str | None, path: str) -> None:
    assert landing_path(role, region) == path  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["//evil.example", "/\\evil.example", "https://evil.example", "javascript:x",
                                  "/login", "/logout?x", "/a b", "", None])
def test_unsafe_next_paths_are_dropped(path: str | None) -> None:
    assert safe_next(path) is None


def test_a_path_of_this_site_is_kept() -> None:
    assert safe_next("/daerah/62.10?tab=gap") == "/daerah/62.10?tab=gap"


# --- tokens, numbers -----------------------------------------------------------------------------


def test_token_names_and_lifetimes() -> None:
    assert token_problems("Dasbor Bapperinda", 90) == []
    assert token_problems("x", MAX_TOKEN_DAYS) == []
    assert [(p.field, p.reason) for p in token_problems("  ", 0)] == [
        ("name", TokenReason.NAME_REQUIRED), ("days", TokenReason.DAYS_RANGE)]
    assert [p.field for p in token_problems("x", MAX_TOKEN_DAYS + 1)] == ["days"]


@pytest.mark.parametrize(("value", "text"), [(Decimal("47.04"), "47,04"), ("0", "0,00"), (None, "0,00"),
                                             (Decimal("100"), "100,00"), (Decimal("1234.5"), "1.234,50")])
def test_iid_is_written_with_a_decimal_comma(value: Decimal | str | None, text: str) -> None:
    assert two_decimals(value) == text
