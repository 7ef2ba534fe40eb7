"""The demo's accounts: one person per role for the home region — its admin, an operator of
one of the demo's own agencies, a verifier and a viewer — plus an admin of its province and
a national account, so that `./dev run` can be tried in the browser at once.

Passwords are generated once and kept in `.inovasi/demo-accounts.json` (readable by the
owner only), like the auth secret: restarting prints the same ones, and an account whose
password was changed on its page gets the kept one back."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.demo.data import WELCOME_OPERATOR_AGENCY
from services.common.data.regions import load_regions
from services.common.principal import Role
from services.web.domain.commands import CreateAccount
from services.web.entrypoints.cli import ensure_accounts
from services.web.settings import WebSettings

PASSWORDS_FILE = "demo-accounts.json"
ROLE_NAMES: dict[Role, str] = {
    "region_admin": "admin", "operator": "operator", "verifier": "verifikator", "viewer": "pemantau",
    "province_admin": "provinsi", "national": "nasional",
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    region: str | None
    agency: str | None = None


Planned = tuple[str, Role, str | None, str | None]


def planned_accounts(region: str) -> list[Planned]:
    """(username, role, region, agency) of the demo's people for `region`."""
    province = load_regions()[region].province_code
    suffix = region.replace(".", "")
    home: list[tuple[Role, str | None]] = [
        ("region_admin", None), ("operator", WELCOME_OPERATOR_AGENCY), ("verifier", None), ("viewer", None),
    ]
    people: list[Planned] = [(f"demo-{ROLE_NAMES[role]}-{suffix}", role, region, agency) for role, agency in home]
    people.append((f"demo-{ROLE_NAMES['province_admin']}-{province}", "province_admin", province, None))
    people.append((f"demo-{ROLE_NAMES['national']}", "national", None, None))
    return people


def _passwords(data_dir: Path, usernames: Sequence[str]) -> dict[str, str]:
    """The kept passwords, with new ones for usernames that have none yet."""
    path = data_dir / PASSWORDS_FILE
    kept: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in usernames if name not in kept]
    if missing:
        kept.update({name: secrets.token_urlsafe(12) for name in missing})
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(kept, indent=2) + "\n")
        path.chmod(0o600)
    return kept


async def ensure_demo_accounts(settings: WebSettings, region: str, data_dir: Path) -> list[DemoAccount]:
    plan = planned_accounts(region)
    passwords = _passwords(data_dir, [username for username, *_ in plan])
    accounts = [
        DemoAccount(username, passwords[username], role, scope_region, agency)
        for username, role, scope_region, agency in plan
    ]
    commands = [
        CreateAccount(username=a.username, password=a.password, role=a.role, region=a.region, agency=a.agency)
        for a in accounts
    ]
    await ensure_accounts(settings, commands, created_by="demo")
    return accounts


ROLE_WORDS: dict[Role, str] = {
    "region_admin": "region admin", "operator": "operator", "verifier": "verifier", "viewer": "viewer",
    "province_admin": "province admin", "national": "national (all regions)",
}


def demo_accounts_text(url: str, accounts: Sequence[DemoAccount]) -> str:
    width = max(len(a.username) for a in accounts)
    lines = ["", f"  Log in at {url}/login with a demo account (passwords kept in .inovasi/{PASSWORDS_FILE}):", ""]
    for a in accounts:
        scope = " ".join(part for part in (a.region, f"agency {a.agency}" if a.agency else None) if part)
        lines.append(f"    {a.username:<{width}}  {a.password}   {ROLE_WORDS[a.role]}{' of ' + scope if scope else ''}")
    return "\n".join(lines)
