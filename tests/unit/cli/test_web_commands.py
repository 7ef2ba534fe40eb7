"""The web app's commands and roles on the command line, without servers: one line and the
right exit status when something is missing."""

from __future__ import annotations

import socket

from services.common.tokens import verify_token
from tests.unit.cli.running import inovasi

SECRET = "cli-test-" + "ab" * 32


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_token_issue_takes_the_two_oversight_roles():
    env = {"INOVASI_AUTH_SECRET": SECRET}
    province = inovasi("token", "issue", "--role", "province_admin", "--region", "62", env=env)
    assert province.returncode == 0, province.stderr
    assert verify_token(SECRET, province.stdout.strip()).region == "62"
    national = inovasi("token", "issue", "--role", "national", env=env)
    assert national.returncode == 0, national.stderr
    principal = verify_token(SECRET, national.stdout.strip())
    assert (principal.role, principal.region) == ("national", None)
    wrong = inovasi("token", "issue", "--role", "province_admin", "--region", "62.10", env=env)
    assert wrong.returncode == 2 and wrong.stderr.startswith("inovasi token: ") and wrong.stderr.count("\n") == 1


def test_serve_web_alone_needs_the_api_url():
    done = inovasi("serve", "web", env={"INOVASI_AUTH_SECRET": SECRET, "INOVASI_WEB_API_URL": ""})
    assert done.returncode == 2
    assert done.stderr.startswith("inovasi serve: set INOVASI_WEB_API_URL") and done.stderr.count("\n") == 1


def test_users_create_names_the_postgresql_it_cannot_reach():
    url = f"postgresql://inovasi@127.0.0.1:{_closed_port()}/inovasi"
    done = inovasi("users", "create", "--username", "admin.gumas", "--role", "region_admin", "--region", "62.10",
                   env={"INOVASI_DATABASE_URL": url, "INOVASI_PASSWORD": "kopi tubruk di tepi kahayan"}, timeout=20)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"inovasi users: cannot reach PostgreSQL at {url}: Connection refused\n"


def test_users_create_refuses_wrong_arguments_before_asking_for_a_password():
    done = inovasi("users", "create", "--username", "x y", "--role", "viewer", "--region", "62.10",
                   env={"INOVASI_PASSWORD": ""})
    assert done.returncode == 2
    assert done.stderr.startswith("inovasi users: --username must be 3 to 64") and done.stderr.count("\n") == 1
