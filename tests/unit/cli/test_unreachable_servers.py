"""`inovasi dlq` and `inovasi migrate` with their server unreachable: one line on stderr that
names the server, exit status 1, within seconds, no traceback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.infra import DATABASE_URL, free_port

from .running import inovasi

DLQ_COMMANDS = [
    ["dlq", "list", "intake.events"],
    ["dlq", "list", "intake.events", "--json"],
    ["dlq", "replay", "intake.events", "all"],
]


@pytest.fixture
def closed_port() -> int:
    return free_port()  # bound, then closed: nothing listens there


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose accept queue is full: a connection attempt gets no answer at all."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        waiting = [socket.socket() for _ in range(3)]
        for client in waiting:
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
        try:
            yield port
        finally:
            for client in waiting:
                client.close()


@pytest.mark.parametrize("command", DLQ_COMMANDS, ids=" ".join)
def test_dlq_names_the_redis_it_cannot_reach(command, closed_port):
    url = f"redis://127.0.0.1:{closed_port}/0"
    done = inovasi(*command, env={"INOVASI_REDIS_URL": url})
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"inovasi dlq: cannot reach Redis at {url}: Connection refused\n"


def test_migrate_names_the_postgresql_it_cannot_reach(closed_port):
    url = f"postgresql://inovasi@127.0.0.1:{closed_port}/inovasi"
    done = inovasi("migrate", env={"INOVASI_DATABASE_URL": url})
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"inovasi migrate: cannot reach PostgreSQL at {url}: Connection refused\n"


@pytest.mark.parametrize(
    ("command", "variable", "url"),
    [
        (["migrate"], "INOVASI_DATABASE_URL", "postgresql://inovasi@127.0.0.1:{port}/inovasi"),
        (["dlq", "list", "intake.events"], "INOVASI_REDIS_URL", "redis://127.0.0.1:{port}/0"),
    ],
    ids=["migrate", "dlq"],
)
def test_a_server_that_never_answers_is_given_up_on_within_seconds(command, variable, url, silent_port):
    started = time.monotonic()
    done = inovasi(*command, env={variable: url.format(port=silent_port)}, timeout=30)
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    assert done.stderr.endswith(f"{url.format(port=silent_port)}: timed out\n")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "variable", "url", "shown"),
    [
        (["dlq", "list", "intake.events"], "INOVASI_REDIS_URL",
         "redis://:s3cret@127.0.0.1:{port}/0", "redis://:***@127.0.0.1:{port}/0"),
        (["migrate"], "INOVASI_DATABASE_URL",
         "postgresql://inovasi:s3cret@127.0.0.1:{port}/inovasi", "postgresql://inovasi:***@127.0.0.1:{port}/inovasi"),
    ],
    ids=["redis", "postgresql"],
)
def test_the_password_of_a_server_is_not_printed(command, variable, url, shown, closed_port):
    done = inovasi(*command, env={variable: url.format(port=closed_port)})
    assert done.returncode == 1
    assert "s3cret" not in done.stderr
    assert f"at {shown.format(port=closed_port)}: Connection refused" in done.stderr


@pytest.mark.integration
def test_migrate_reports_a_refusal_by_postgresql_in_one_line():
    server = urlsplit(DATABASE_URL)
    url = server._replace(netloc=f"inovasi_no_such_role@{server.hostname}:{server.port or 5432}").geturl()
    done = inovasi("migrate", env={"INOVASI_DATABASE_URL": url})
    assert done.returncode == 1
    assert done.stderr == f'inovasi migrate: PostgreSQL at {url}: role "inovasi_no_such_role" does not exist\n'


def test_an_invalid_setting_is_named_in_one_line():
    done = inovasi("dlq", "list", "intake.events", env={"INOVASI_MAX_DELIVERIES": "0"})
    assert done.returncode == 2
    assert done.stderr == (
        "inovasi dlq: invalid setting INOVASI_MAX_DELIVERIES: Input should be greater than or equal to 1\n"
    )
