"""`inovasi`: the one command-line entry point. Each service contributes its own commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.scoring.entrypoints import cli as scoring_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inovasi",
        description="Regional innovation submissions and the live Indeks Inovasi Daerah (IID).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scoring_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
