"""`inovasi users create` as an operator types it: the password from INOVASI_PASSWORD, one
line on success, and one line with exit 1 for a taken user name (2 for wrong arguments)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from services.web.settings import WebSettings
from tests.integration.web.conftest import PASSWORD, drop_all, web_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def settings() -> AsyncIterator[WebSettings]:
    settings = web_settings()
    yield settings
    await drop_all(settings)


def users_create(
    settings: WebSettings, *args: str, password: str | None = PASSWORD
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INOVASI_DATABASE_URL": settings.database_url,
           "INOVASI_SCHEMA_PREFIX": settings.schema_prefix, "INOVASI_STREAM_PREFIX": settings.stream_prefix}
    env.pop("INOVASI_PASSWORD", None)
    if password is not None:
        env["INOVASI_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "services.cli", "users", "create", *args], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_users_create_makes_accounts_of_every_scope(settings: WebSettings) -> None:
    for args in (
        ("--username", "admin.gumas", "--role", "region_admin", "--region", "62.10",
         "--email", "bapperinda@gumas.go.id"),
        ("--username", "operator.dinkes", "--role", "operator", "--region", "62.10", "--agency", "dinkes"),
        ("--username", "admin.kalteng", "--role", "province_admin", "--region", "62"),
        ("--username", "kemendagri", "--role", "national"),
    ):
        done = users_create(settings, *args)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"created {args[1]} (acc-") and done.stdout.count("\n") == 1
        assert PASSWORD not in done.stdout + done.stderr


def test_an_existing_user_name_exits_1_with_one_line(settings: WebSettings) -> None:
    first = users_create(settings, "--username", "admin.gumas", "--role", "region_admin", "--region", "62.10")
    assert first.returncode == 0
    again = users_create(settings, "--username", "ADMIN.gumas", "--role", "viewer", "--region", "62.10")
    assert again.returncode == 1
    assert again.stderr == "inovasi users: user name 'ADMIN.gumas' is already taken\n"


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("--role", "province_admin", "--region", "62.10"), PASSWORD, "--region must be the code of a provinsi"),
        (("--role", "national", "--region", "62"), PASSWORD, "--region must be empty for a national account"),
        (("--role", "viewer"), PASSWORD, "--region is not a Kemendagri region code"),
        (("--role", "operator", "--region", "62.10"), PASSWORD, "--agency is required for an operator"),
        (("--role", "viewer", "--region", "62.10"), "short", "--password must be at least 10 characters"),
        (("--role", "viewer", "--region", "62.10"), None, "set INOVASI_PASSWORD"),
    ],
)
def test_wrong_arguments_exit_2_with_one_line(settings: WebSettings, args: tuple[str, ...], password: str | None,
                                              message: str) -> None:
    done = users_create(settings, "--username", "someone", *args, password=password)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("inovasi users: ") and message in done.stderr and done.stderr.count("\n") == 1
