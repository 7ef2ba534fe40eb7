"""`inovasi`: the one command-line entry point. Each service contributes its own commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.common.auth import ROLES, TokenError, issue_token
from services.common.settings import Settings
from services.scoring.entrypoints import cli as scoring_cli


def _issue_token(args: argparse.Namespace) -> int:
    secret = Settings().auth_secret
    if secret is None:
        print("inovasi token: set INOVASI_AUTH_SECRET (the secret the services verify tokens with)", file=sys.stderr)
        return 2
    try:
        token = issue_token(secret.get_secret_value(), args.role, args.region, args.agency, ttl_s=args.ttl)
    except TokenError as exc:
        print(f"inovasi token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _add_token_commands(commands: argparse._SubParsersAction) -> None:
    token = commands.add_parser("token", help="bearer tokens for the APIs")
    sub = token.add_subparsers(dest="token_command", required=True, metavar="SUBCOMMAND")
    issue = sub.add_parser("issue", help="print a signed token (HS256, INOVASI_AUTH_SECRET)")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--region", required=True, help="Kemendagri code, e.g. 62.10")
    issue.add_argument("--agency", help="the operator's agency id")
    issue.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires (default 12 h)")
    issue.set_defaults(run=_issue_token)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inovasi",
        description="Regional innovation submissions and the live Indeks Inovasi Daerah (IID).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scoring_cli.add_commands(commands)
    _add_token_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
