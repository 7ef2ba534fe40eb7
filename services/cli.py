"""`inovasi`: the one command-line entry point.

    inovasi up [--demo]             the four services and the web app in one process, on one port
    inovasi serve <service>         one service (or the web app), as a container runs it
    inovasi migrate [service …]     apply schema migrations (also done at start-up)
    inovasi dlq list|replay …       dead-letter streams
    inovasi token issue …           a signed bearer token
    inovasi users create …          an account of the web app (the first region admin, …)
    inovasi score …                 the scoring engine on a dataset file
    inovasi asyncapi                the AsyncAPI document of the event contract

A command that fails prints one line to stderr, `inovasi COMMAND: reason`, never a
traceback, and exits with
    1   when it could not do its work: a server it needs (Redis for `dlq`, PostgreSQL for
        `migrate`, `users`) is unreachable or refused it, a user name is taken, or stdout was
        closed early (`… | head`);
    2   when what it was given is wrong: arguments, a dataset, an unknown dead letter, an
        invalid INOVASI_* setting;
    130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from services.common.principal import ROLES
from services.common.settings import Settings
from services.common.tokens import TokenError, issue_token
from services.scoring.entrypoints import cli as scoring_cli

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from services.common.dlq import DeadLetter

SERVICES = ("intake", "evidence", "scoring", "notify", "web")
DATA_DIR = Path(".inovasi")

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

T = TypeVar("T")
S = TypeVar("S", bound=Settings)


class CommandFailed(Exception):
    """Raised where a command cannot go on; `main` prints it as the command's one line."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _fail(command: str, message: str, status: int = EXIT_BAD_INPUT) -> int:
    print(f"inovasi {command}: {message}", file=sys.stderr)
    return status


def _settings() -> Settings:
    return _settings_of(Settings)


def _settings_of(cls: type[S]) -> S:
    try:
        return cls()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "INOVASI_" + str(first["loc"][0]).upper() if first["loc"] else "INOVASI_*"
        raise CommandFailed(f"invalid setting {name}: {first['msg']}", EXIT_BAD_INPUT) from None


# --- servers the commands talk to ----------------------------------------------------------


def _shown(url: str) -> str:
    """`url` without its password, fit for a message."""
    parts = urlsplit(url)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}")
    return re.sub(r"(password=)[^&\s]*", r"\1***", urlunsplit(parts))


def _network_reason(exc: BaseException) -> str | None:
    """Why a connection failed, in the operating system's words ('Connection refused');
    None when the server was reached and answered with an error."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, TimeoutError):
            return "timed out"
        if isinstance(error, OSError):
            if error.errno is not None and error.errno > 0:
                return os.strerror(error.errno)
            return error.strerror or str(error)
    return None


@contextmanager
def _server_errors(server: str, url: str, errors: tuple[type[Exception], ...]) -> Iterator[None]:
    """Turn `errors` from talking to `server` into a CommandFailed naming it."""
    try:
        yield
    except errors as exc:
        reason = _network_reason(exc)
        message = f"cannot reach {server} at {_shown(url)}: {reason}" if reason else f"{server} at {_shown(url)}: {exc}"
        raise CommandFailed(" ".join(message.split()), EXIT_FAILURE) from None


# --- token -------------------------------------------------------------------------------


def _issue_token(args: argparse.Namespace) -> int:
    secret = _settings().auth_secret
    if secret is None:
        return _fail("token", "set INOVASI_AUTH_SECRET (the secret the services verify tokens with)")
    try:
        token = issue_token(secret.get_secret_value(), args.role, args.region, args.agency, ttl_s=args.ttl)
    except TokenError as exc:
        return _fail("token", str(exc))
    print(token)
    return 0


def _add_token_commands(commands: argparse._SubParsersAction) -> None:
    token = commands.add_parser("token", help="bearer tokens for the APIs")
    sub = token.add_subparsers(dest="token_command", required=True, metavar="SUBCOMMAND")
    issue = sub.add_parser("issue", help="print a signed token (HS256, INOVASI_AUTH_SECRET)")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--region", help="Kemendagri code, e.g. 62.10; a provinsi's (62) for province_admin; "
                       "none for national")
    issue.add_argument("--agency", help="the operator's agency id")
    issue.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires (default 12 h)")
    issue.set_defaults(run=_issue_token)


# --- users -------------------------------------------------------------------------------


def _password(username: str) -> str:
    """INOVASI_PASSWORD, else asked twice on the terminal (never an argument: arguments are
    visible to every user of the machine)."""
    configured = os.environ.get("INOVASI_PASSWORD")
    if configured:
        return configured
    if not sys.stdin.isatty():
        raise CommandFailed("set INOVASI_PASSWORD, or run on a terminal to be asked for the password", EXIT_BAD_INPUT)
    import getpass

    first = getpass.getpass(f"password for {username}: ")
    if getpass.getpass("repeat it: ") != first:
        raise CommandFailed("the two passwords differ", EXIT_BAD_INPUT)
    return first


def _users_create(args: argparse.Namespace) -> int:
    import asyncpg

    from services.common.db import OUTAGE_ERRORS
    from services.common.errors import InvalidInput
    from services.web.domain.commands import CreateAccount
    from services.web.entrypoints.cli import check_new_user, create_user
    from services.web.settings import WebSettings

    settings = _settings_of(WebSettings)
    from services.common.logging import configure_logging

    # The command's answer is its one line; the migrations' and handler's logs only on trouble.
    configure_logging("WARNING", json=settings.log_json, service="inovasi", stream=sys.stderr)
    command = CreateAccount(username=args.username, password="", role=args.role, region=args.region,
                            agency=args.agency, email=args.email)
    try:
        check_new_user(command, with_password=False)  # wrong arguments before a password is asked for
        command = replace(command, password=_password(args.username))
        check_new_user(command)
        postgres_errors: tuple[type[Exception], ...] = (*OUTAGE_ERRORS, asyncpg.PostgresError)
        with _server_errors("PostgreSQL", settings.database_url, postgres_errors):
            # create_user's migrations wait up to a minute for a connection; this finds out in seconds.
            asyncio.run(_check_postgres(settings.database_url, settings.pg_connect_timeout_s))
            account = asyncio.run(create_user(settings, command))
    except InvalidInput as exc:
        if exc.code == "username_taken":
            raise CommandFailed(f"user name {args.username!r} is already taken", EXIT_FAILURE) from None
        problems = "; ".join(f"--{problem.field.replace('_', '-')} {problem.reason}" for problem in exc.problems)
        raise CommandFailed(problems or str(exc), EXIT_BAD_INPUT) from None
    scope = " ".join(part for part in (account.region, account.agency) if part)
    print(f"created {account.username} ({account.id}): {account.role}{' ' + scope if scope else ''}")
    return 0


def _add_users_commands(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="accounts of the web app")
    sub = users.add_subparsers(dest="users_command", required=True, metavar="SUBCOMMAND")
    create = sub.add_parser(
        "create", help="create an account (password from INOVASI_PASSWORD, else asked for)",
        description="Create an account of the web app: the first region admin of a region, or a province admin "
        "or national account (which no page can create).",
    )
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--region", help="a region code for the region roles (62.10), a provinsi's code for "
                        "province_admin (62), none for national")
    create.add_argument("--agency", help="the operator's agency id")
    create.add_argument("--email")
    create.set_defaults(run=_users_create)


# --- migrate -----------------------------------------------------------------------------


async def _check_postgres(dsn: str, timeout_s: float) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=timeout_s)
    await connection.close()


def _migrate(args: argparse.Namespace) -> int:
    import asyncpg

    from services.common.db import OUTAGE_ERRORS, migrate

    unknown = [name for name in args.services if name not in SERVICES]
    if unknown:
        return _fail("migrate", f"unknown service {unknown[0]!r}; one of {', '.join(SERVICES)}")
    settings = _settings()
    postgres_errors: tuple[type[Exception], ...] = (*OUTAGE_ERRORS, asyncpg.PostgresError)
    # migrate() waits up to a minute for a connection; the check first finds out in seconds.
    with _server_errors("PostgreSQL", settings.database_url, postgres_errors):
        asyncio.run(_check_postgres(settings.database_url, settings.pg_connect_timeout_s))
    for name in args.services or SERVICES:
        with _server_errors("PostgreSQL", settings.database_url, postgres_errors):
            applied = asyncio.run(
                migrate(settings.database_url, settings.schema_of(name), f"services.{name}.migrations")
            )
        print(f"{name}: {', '.join(applied) if applied else 'up to date'}")
    return 0


# --- dlq ---------------------------------------------------------------------------------


def _on_redis(url: str, work: Callable[[Redis], Awaitable[T]]) -> T:
    """`work` with a client on `url` (connect timeout 2 s, see `make_redis`)."""
    from redis.exceptions import RedisError

    from services.common.bus import make_redis

    async def run() -> T:
        redis = make_redis(url)
        try:
            return await work(redis)
        finally:
            await redis.aclose()

    with _server_errors("Redis", url, (RedisError,)):
        return asyncio.run(run())


def _letter_json(letter: DeadLetter) -> dict[str, object]:
    return {
        "id": letter.entry_id, "original_id": letter.original_id, "group": letter.group,
        "deliveries": letter.deliveries, "reason": letter.reason, "at": letter.dead_at,
        "event_type": letter.event_type, "event_id": letter.event_id,
    }


def _print_letters(letters: list[DeadLetter], dlq: str, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([_letter_json(letter) for letter in letters], indent=2))
        return
    for letter in letters:
        print(f"{letter.entry_id}  {letter.event_type or '?':<22} {letter.event_id or '?'}  "
              f"group={letter.group} deliveries={letter.deliveries}  {letter.reason}")
    if not letters:
        print(f"no dead letters in {dlq}")


def _dlq(args: argparse.Namespace) -> int:
    from services.common.dlq import dlq_list, dlq_replay
    from services.common.events import STREAMS, dlq_of

    if args.stream not in STREAMS:
        return _fail("dlq", f"unknown stream {args.stream!r}; one of {', '.join(STREAMS)}")
    settings = _settings()
    key = settings.stream(args.stream)
    if args.dlq_command == "list":
        letters = _on_redis(settings.redis_url, lambda redis: dlq_list(redis, key, count=args.count))
        _print_letters(letters, dlq_of(key), as_json=args.json)
        return 0
    try:
        replayed = _on_redis(settings.redis_url, lambda redis: dlq_replay(redis, key, args.entry))
    except LookupError as exc:
        return _fail("dlq", str(exc))
    entries = "entry" if len(replayed) == 1 else "entries"
    print(f"replayed {len(replayed)} {entries} into {key}: {' '.join(replayed)}")
    return 0


def _add_dlq_commands(commands: argparse._SubParsersAction) -> None:
    dlq = commands.add_parser("dlq", help="list and replay dead-lettered stream entries")
    sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="SUBCOMMAND")
    listing = sub.add_parser("list", help="entries that kept failing, oldest first")
    listing.add_argument("stream", help="intake.events, evidence.events, scoring.events or notify.events")
    listing.add_argument("--count", type=int, default=None)
    listing.add_argument("--json", action="store_true", help="print a JSON array of the dead letters")
    listing.set_defaults(run=_dlq)
    replay = sub.add_parser("replay", help="put dead letters back on their stream")
    replay.add_argument("stream")
    replay.add_argument("entry", help="a dead letter's id from `dlq list`, or 'all'")
    replay.set_defaults(run=_dlq)


# --- serve / up --------------------------------------------------------------------------


def _uvicorn(app, host: str, port: int, level: str, access_log: bool) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            # Before uvicorn waits for open responses to finish: the live feeds end now.
            app.state.begin_shutdown()
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    # log_config=None keeps our structlog JSON logging for uvicorn's loggers too.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level=level.lower(), timeout_graceful_shutdown=10,
        access_log=access_log,
    )
    Server(config).run()


def _serve(args: argparse.Namespace) -> int:
    from services.common.logging import configure_logging
    from services.platform import create_platform_app

    settings = _settings()
    if settings.auth_secret is None:
        return _fail("serve", "set INOVASI_AUTH_SECRET")
    if args.service == "web":
        from services.web.settings import WebSettings

        if not _settings_of(WebSettings).web_api_url:
            return _fail("serve", "set INOVASI_WEB_API_URL: where the web app alone reaches the APIs "
                         "(e.g. the gateway, http://gateway:8000)")
    configure_logging(settings.log_level, json=settings.log_json, service=args.service)
    app = create_platform_app([args.service], settings)
    _uvicorn(app, args.host, args.port, settings.log_level, settings.access_log)
    return 0


def _auth_secret_for_up() -> str:
    """INOVASI_AUTH_SECRET, else one kept in .inovasi/ so tokens survive restarts."""
    configured = os.environ.get("INOVASI_AUTH_SECRET")
    if configured:
        return configured
    path = DATA_DIR / "auth-secret"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def _up(args: argparse.Namespace) -> int:
    try:
        from devtools.embedded import EmbeddedServers
    except ImportError as exc:
        return _fail("up", f"needs the development tools of a source checkout (devtools/), not importable here: {exc}")
    from services.common.data.regions import load_regions
    from services.common.logging import configure_logging
    from services.platform import create_platform_app

    if args.region not in load_regions():
        return _fail("up", f"--region: {args.region!r} is not a Kemendagri region code (e.g. 62.10)")
    os.environ["INOVASI_AUTH_SECRET"] = secret = _auth_secret_for_up()
    base = _settings()
    configure_logging(base.log_level, json=base.log_json, service="inovasi")
    with EmbeddedServers.from_environment(DATA_DIR) as servers:
        endpoints = servers.start()
        os.environ.update(endpoints.environment())
        settings = Settings()
        app = create_platform_app(SERVICES, settings)
        url = f"http://{args.host}:{args.port}"
        viewer = issue_token(secret, "viewer", args.region)
        print("\ninovasi is starting on " + url, file=sys.stderr)
        for choice in servers.choices:
            print(f"  {choice}", file=sys.stderr)
        if args.demo:
            print(_demo_accounts_text(url, args.region), file=sys.stderr)
        else:
            print(f"\n  Log in at {url}/login; make the first account with\n"
                  f"  inovasi users create --username admin --role region_admin --region {args.region}",
                  file=sys.stderr)
        print(f"\n  API docs: {url}/api. A viewer token for region {args.region} (12 h), and a first request:\n",
              file=sys.stderr)
        print(f"  export TOKEN={viewer}", file=sys.stderr)
        print(f'  curl -H "Authorization: Bearer $TOKEN" {url}/scoring/v1/cycles/2026/regions/{args.region}/score\n',
              file=sys.stderr)
        if args.demo:
            try:
                from devtools.demo import attach_demo
            except ImportError as exc:
                return _fail("up", f"--demo needs the development tools of a source checkout (devtools/): {exc}")

            attach_demo(app, base_url=url, secret=secret, region=args.region)
        _uvicorn(app, args.host, args.port, settings.log_level, settings.access_log)
    return 0


def _demo_accounts_text(url: str, region: str) -> str:
    """The demo's accounts (created where missing, passwords kept in .inovasi/), as printed."""
    from devtools.demo.accounts import demo_accounts_text, ensure_demo_accounts
    from services.web.settings import WebSettings

    settings = _settings_of(WebSettings)
    accounts = asyncio.run(ensure_demo_accounts(settings, region, DATA_DIR))
    return demo_accounts_text(url, accounts)


def _configured_host() -> str:
    """INOVASI_HOST. With an invalid configuration, the setting's default: the command that
    listens then reports the configuration."""
    try:
        return Settings().host
    except ValidationError:
        return str(Settings.model_fields["host"].default)


def _add_run_commands(commands: argparse._SubParsersAction) -> None:
    host = _configured_host()
    host_help = "the address to listen on (default: INOVASI_HOST, else 127.0.0.1)"
    up = commands.add_parser("up", help="run the four services and the web app in one process on one port")
    up.add_argument("--host", default=host, help=host_help)
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--region", default="62.10", help="the region the printed tokens, demo accounts and demo use")
    up.add_argument("--demo", action="store_true", help="seed a small cycle, keep it moving, and make demo accounts")
    up.set_defaults(run=_up)
    serve = commands.add_parser("serve", help="run one service (or the web app), as a container does")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host", default=host, help=host_help)
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)
    migrate = commands.add_parser("migrate", help="apply the services' schema migrations")
    migrate.add_argument("services", nargs="*", metavar="SERVICE", help="default: all five")
    migrate.set_defaults(run=_migrate)


def _asyncapi(args: argparse.Namespace) -> int:
    from services.common.asyncapi import render_asyncapi

    sys.stdout.write(render_asyncapi())
    return 0


# --- main --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inovasi",
        description="Regional innovation submissions and the live Indeks Inovasi Daerah (IID).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_commands(commands)
    _add_dlq_commands(commands)
    _add_token_commands(commands)
    _add_users_commands(commands)
    scoring_cli.add_commands(commands)
    asyncapi = commands.add_parser("asyncapi", help="print the AsyncAPI document of the event contract")
    asyncapi.set_defaults(run=_asyncapi)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CommandFailed as exc:
        return _fail(args.command, str(exc), exc.status)


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; on the closed pipe that would print an error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe (`… | head`) shows here at the latest
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
