"""`./dev run`'s demo accounts: one per role for the home region (the operator of a demo
agency), a province admin and a national account; passwords generated once, kept in
.inovasi/, the same on every start, and each account logs in to its page."""

from __future__ import annotations

import stat

import pytest

from devtools.demo.accounts import PASSWORDS_FILE, demo_accounts_text, ensure_demo_accounts
from tests.integration.web.conftest import Web

pytestmark = pytest.mark.integration


async def test_demo_accounts_are_made_once_printed_and_log_in(web: Web, tmp_path) -> None:
    first = await ensure_demo_accounts(web.settings, "62.10", tmp_path)
    assert {a.role for a in first} == {"region_admin", "operator", "verifier", "viewer", "province_admin", "national"}
    operator = next(a for a in first if a.role == "operator")
    assert operator.agency is not None and operator.agency.startswith("demo-")
    assert next(a for a in first if a.role == "province_admin").region == "62"
    assert stat.S_IMODE((tmp_path / PASSWORDS_FILE).stat().st_mode) == 0o600
    again = await ensure_demo_accounts(web.settings, "62.10", tmp_path)
    assert again == first  # the same names and passwords on every start
    text = demo_accounts_text("http://127.0.0.1:8000", first)
    assert "http://127.0.0.1:8000/login" in text
    landings = {"region_admin": "/daerah/62.10", "viewer": "/daerah/62.10", "operator": "/inovasi",
                "verifier": "/verifikasi", "province_admin": "/peringkat", "national": "/peringkat"}
    for account in first:
        assert account.username in text and account.password in text
        response = await web.browser().login(account.username, account.password)
        assert response.status_code == 303, account.username
        assert response.headers["location"] == landings[account.role]
