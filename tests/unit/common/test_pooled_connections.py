"""Pooled connections carry no session state, so the pool releases them without a round trip
(services/common/db.py `reset_on_release`): session advisory locks, LISTEN, session settings
and cursors held across transactions live on dedicated connections, in db.py only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEDICATED = {Path("services/common/db.py")}  # migrate() and WakeupListener: their own connections

SESSION_STATE = {
    "a session advisory lock (use pg_advisory_xact_lock)": re.compile(
        r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.IGNORECASE
    ),
    "a LISTEN (use services.common.db.WakeupListener)": re.compile(
        r"""(add_listener\s*\(|["']\s*LISTEN\s)""", re.IGNORECASE
    ),
    "a session setting (use SET LOCAL)": re.compile(
        r"""(["']\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(TO|=)|set_config\s*\([^)]*\bfalse\s*\))""",
        re.IGNORECASE,
    ),
    "a cursor held across transactions": re.compile(r"\bWITH\s+HOLD\b", re.IGNORECASE),
}


def sources() -> list[Path]:
    return sorted(p.relative_to(ROOT) for base in ("services", "devtools") for p in (ROOT / base).rglob("*.py"))


@pytest.mark.parametrize("kind", sorted(SESSION_STATE))
def test_no_session_state_on_pooled_connections(kind: str) -> None:
    pattern = SESSION_STATE[kind]
    found = [
        f"{path}:{number}: {line.strip()}"
        for path in sources()
        if path not in DEDICATED
        for number, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not found, f"{kind} on a pooled connection would outlive its release:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'await conn.execute("SELECT pg_advisory_lock($1)", key)',
        "await conn.add_listener(channel, callback)",
        'await conn.execute("SET search_path TO other")',
        "await conn.execute(\"SELECT set_config('statement_timeout', '1s', false)\")",
        'await conn.execute("DECLARE c CURSOR WITH HOLD FOR SELECT 1")',
    ],
)
def test_the_patterns_catch_session_state(line: str) -> None:
    assert any(pattern.search(line) for pattern in SESSION_STATE.values())


@pytest.mark.parametrize(
    "line",
    [
        'await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)',
        'await conn.execute("SET LOCAL statement_timeout = 1000")',
        '"UPDATE regions SET score_version = $3 WHERE cycle = $1"',
        "SET level = EXCLUDED.level, version = EXCLUDED.version",
    ],
)
def test_the_patterns_let_transaction_scoped_work_pass(line: str) -> None:
    assert not any(pattern.search(line) for pattern in SESSION_STATE.values())
