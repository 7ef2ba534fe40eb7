"""The README's "Walkthrough with curl" as a newcomer follows it: its shell block, as written,
pasted into a second terminal at the root of a checkout while `inovasi up --demo` runs (the
demo moving region 62.10 at the same time), then run again with docs/walkthrough.sh.

The block is taken from README.md itself, so the README cannot drift from what works: only
the API's address is changed, to the port this test's platform listens on."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.principal import Role
from services.common.tokens import issue_token
from tests.support.infra import free_port, wait_until
from tests.support.platform import cleanup, isolated_settings
from tests.support.s3 import moto_s3_server_process

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README_API = "API=http://127.0.0.1:8000\n"
REGION = "62.10"
ACCEPTED = ("sid-16", "sid-17", "sid-32", "sid-35")  # the SID answers whose evidence is accepted
REJECTED = "sid-33"


def walkthrough_block(readme: str) -> str:
    """The fenced ```sh block of the README's "## Walkthrough with curl" section."""
    section = readme.split("\n## Walkthrough with curl\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```sh\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert found, "the README's walkthrough has no ```sh block"
    return found.group(1)


def test_the_walkthrough_block_is_found_and_sets_what_it_uses() -> None:
    block = walkthrough_block((ROOT / "README.md").read_text())
    assert block.count(README_API) == 1
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", block))
    assigned = set(re.findall(r"^\s*(?:export |local )?([A-Z][A-Z0-9_]*)=", block, re.MULTILINE))
    assigned |= set(re.findall(r"\bfor ([A-Z][A-Z0-9_]*) in ", block))
    assert used <= assigned, f"the walkthrough uses variables it never sets: {sorted(used - assigned)}"
    for example in re.findall(r"@(docs/examples/[\w.-]+)", block):
        assert (ROOT / example).is_file(), f"the walkthrough sends {example}, which does not exist"


@dataclass
class Platform:
    url: str
    home: Path  # the directory it runs in, where .inovasi/auth-secret is kept
    log: Path

    def token(self, role: Role) -> dict[str, str]:
        secret = (self.home / ".inovasi" / "auth-secret").read_text().strip()
        return {"Authorization": f"Bearer {issue_token(secret, role, REGION)}"}


@contextmanager
def running_process(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@asynccontextmanager
async def up_with_demo(home: Path) -> AsyncIterator[Platform]:
    """`inovasi up --demo` in `home`, as `./dev run` starts it, on its own schemas, streams,
    port and S3 (moto, in a child process); once the demo has seeded its regions."""
    settings = isolated_settings()
    port = free_port()
    with moto_s3_server_process() as s3:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("INOVASI_")},
            "INOVASI_DATABASE_URL": settings.database_url,
            "INOVASI_REDIS_URL": settings.redis_url,
            "INOVASI_STREAM_PREFIX": settings.stream_prefix,
            "INOVASI_SCHEMA_PREFIX": settings.schema_prefix,
            "INOVASI_S3_ENDPOINT": s3.netloc,
            "INOVASI_S3_ACCESS_KEY": s3.access_key,
            "INOVASI_S3_SECRET_KEY": s3.secret_key,
            "INOVASI_S3_BUCKET": "walkthrough-evidence",
            "INOVASI_DEMO_INTERVAL_S": "1",  # the demo busier than by default while the walkthrough runs
        }
        log = home / "up.log"
        command = [sys.executable, "-m", "services.cli", "up", "--demo", "--port", str(port)]
        try:
            with running_process(command, home, env, log) as process:

                async def demo_seeded() -> bool:
                    assert process.poll() is None, f"inovasi up exited: {log.read_text()[-3000:]}"
                    return "one step every" in log.read_text()

                await wait_until(demo_seeded, timeout=120, interval=0.5)
                yield Platform(f"http://127.0.0.1:{port}", home, log)
        finally:
            await cleanup(settings)


def newcomer_checkout(home: Path) -> None:
    """What the block needs at the root of a checkout: .venv/bin/inovasi, docs/examples/ (and
    README.md for docs/walkthrough.sh); .inovasi/ is where `inovasi up` runs."""
    (home / "docs").symlink_to(ROOT / "docs")
    (home / "README.md").symlink_to(ROOT / "README.md")
    venv = Path(sys.prefix)
    if venv != Path(sys.base_prefix) and (venv / "bin" / "inovasi").exists():
        (home / ".venv").symlink_to(venv)
    else:  # not run from a virtual environment with the console script: the same command
        script = home / ".venv" / "bin" / "inovasi"
        script.parent.mkdir(parents=True)
        script.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m services.cli "$@"\n')
        script.chmod(0o755)


async def run_in_bash(home: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """`bash args...` in `home`, as a terminal without inovasi's settings would."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("INOVASI_")}, **env}
    process = await asyncio.create_subprocess_exec(
        "bash", *args, cwd=home, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(), err.decode()


def innovation_in(output: str) -> str:
    found = re.search(r"^innovation (\S+), version 1$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def figures_in(output: str) -> dict[str, float]:
    """The IID of each figure, from the block's score lines (`claimed 42.17 inovatif rank ...`)."""
    line = r"^(claimed|provisional|validated) (\d+\.\d\d) \w+ rank \d+ of \d+ in the province$"
    figures = dict(re.findall(line, output, re.MULTILINE))
    assert set(figures) == {"claimed", "provisional", "validated"}, output
    return {name: float(iid) for name, iid in figures.items()}


async def explained(client: httpx.AsyncClient, platform: Platform, figure: str, innovation: str) -> dict[str, str]:
    """Each answer's status in `figure` of the region's score, for one innovation."""
    response = await client.get(f"/scoring/v1/cycles/2026/regions/{REGION}/explain", params={"figure": figure},
                                headers=platform.token("viewer"))
    assert response.status_code == 200, response.text
    found = next(i for i in response.json()["innovations"] if i["id"] == innovation)
    return {answer["indicator"]: answer["status"] for answer in found["answers"]}


async def test_the_readme_walkthrough_works_as_written_and_again(tmp_path: Path) -> None:
    block = walkthrough_block((ROOT / "README.md").read_text())
    newcomer_checkout(tmp_path)
    started = time.monotonic()
    async with up_with_demo(tmp_path) as platform:
        block = block.replace(README_API, f"API={platform.url}\n")
        runs = []
        # Pasted, then run again (the same block, through docs/walkthrough.sh): a new agency,
        # nothing collides with the first run nor with the demo.
        for args, env in ((("-c", "set -euo pipefail\n" + block), {}),
                          (("docs/walkthrough.sh",), {"API": platform.url})):
            status, out, err = await run_in_bash(tmp_path, *args, **env)
            assert status == 0, f"the README's walkthrough failed (exit {status}):\n{out}\n{err}"
            runs.append(out)
        async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
            innovations = [innovation_in(out) for out in runs]
            assert innovations[0] != innovations[1]
            for out, innovation in zip(runs, innovations, strict=True):
                lines = out.splitlines()
                assert "Posyandu Digital submitted" in lines
                assert {f"{code} accepted" for code in (*ACCEPTED, "spd-12")} <= set(lines)
                assert f"{REJECTED} rejected" in lines
                figures = figures_in(out)
                assert figures["validated"] > 0 and figures["claimed"] >= figures["provisional"] >= figures["validated"]
                # The verdicts are in the score: the rejected answer counts as claimed only.
                claimed = await explained(client, platform, "claimed", innovation)
                validated = await explained(client, platform, "validated", innovation)
                assert all(claimed[code] == "counted" for code in (*ACCEPTED, REJECTED)), claimed
                assert all(validated[code] == "counted" for code in ACCEPTED), validated
                assert validated[REJECTED] == "evidence_rejected", validated
            # Two agencies of people, beside the demo's, which the demo kept to.
            listed = await client.get(f"/intake/v1/regions/{REGION}/agencies", headers=platform.token("region_admin"))
            ids = [agency["id"] for agency in listed.json()["agencies"]]
            people = [agency for agency in ids if not agency.startswith("demo-")]
            assert len(people) == 2 and all(agency.startswith("dinkes-") for agency in people), ids
            assert any(agency.startswith("demo-") for agency in ids)
    assert "demo: " in platform.log.read_text()  # the demo kept moving meanwhile
    print(f"walkthrough: twice against inovasi up --demo in {time.monotonic() - started:.1f} s")
