"""`inovasi score compute|explain|gap`: the scoring engine on a dataset file."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import BaseModel, ValidationError

from services.scoring.domain.dataset import DatasetError, parse_dataset
from services.scoring.domain.engine import (
    FIGURES,
    CompiledMethodology,
    Figure,
    Region,
    compile_methodology,
    regions_from_dataset,
)
from services.scoring.domain.explain import explain_region, render_explanation
from services.scoring.domain.gap import TargetError, plan_gap, render_gap
from services.scoring.domain.ranking import Position
from services.scoring.domain.results import ScoringResult, compute_result, previous_positions
from services.scoring.domain.schemas import FORMATS, json_schema

EXIT_BAD_INPUT = 2


class _CliError(Exception):
    pass


def _load(args: argparse.Namespace) -> tuple[list[Region], CompiledMethodology]:
    path = Path(args.dataset)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _CliError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _CliError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise _CliError(f"{path}: not valid JSON: nested too deeply") from None
    try:
        dataset, methodology = parse_dataset(raw, getattr(args, "methodology", None))
    except DatasetError as exc:
        raise _CliError(f"{path}: invalid dataset:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None
    return regions_from_dataset(dataset), compile_methodology(methodology.id)


def _region(regions: list[Region], code: str) -> Region:
    for region in regions:
        if region.code == code:
            return region
    raise _CliError(f"--region: no region {code!r} in the dataset")


def _previous_positions(path: str) -> dict[str, dict[Figure, Position]]:
    try:
        previous = ScoringResult.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise _CliError(f"--previous {path}: cannot read: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _CliError(f"--previous {path}: not a result document: {where}: {first['msg']}") from None
    return previous_positions(previous)


def _print_json(model: BaseModel, *, indent: int | None = 2) -> None:
    sys.stdout.write(model.model_dump_json(indent=indent))
    sys.stdout.write("\n")


def _compute(args: argparse.Namespace) -> None:
    regions, compiled = _load(args)
    previous = _previous_positions(args.previous) if args.previous else None
    _print_json(compute_result(regions, compiled, previous), indent=2 if args.pretty else None)


def _explain(args: argparse.Namespace) -> None:
    regions, compiled = _load(args)
    report = explain_region(_region(regions, args.region), compiled, args.figure)
    if args.json:
        _print_json(report)
    else:
        print(render_explanation(report))


def _maturity(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or not (0 < value <= 111):
        raise argparse.ArgumentTypeError("maturity must be above 0 and at most 111")
    return value


def _gap(args: argparse.Namespace) -> None:
    regions, compiled = _load(args)
    try:
        report = plan_gap(_region(regions, args.region), compiled, args.figure, args.target, args.maturity)
    except TargetError as exc:
        raise _CliError(f"--target: {exc}") from None
    if args.json:
        _print_json(report)
    else:
        print(render_gap(report))


def _guarded(command):
    def run(args: argparse.Namespace) -> int:
        try:
            command(args)
        except _CliError as exc:
            print(f"inovasi score: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return 0

    return run


def _schema(args: argparse.Namespace) -> None:
    json.dump(json_schema(args.format), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def add_commands(commands: argparse._SubParsersAction) -> None:
    score = commands.add_parser("score", help="compute, explain and close the gap of IID scores from a dataset file")
    sub = score.add_subparsers(dest="score_command", required=True, metavar="SUBCOMMAND")

    def dataset_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("dataset", help="dataset JSON file (see schemas/dataset.schema.json)")
        p.add_argument("--methodology", help="override the dataset's methodology (iid-2023, iid-2026)")
        return p

    compute = dataset_parser("compute", "print the result JSON (three figures, categories, ranks) for every region")
    compute.add_argument("--previous", help="an earlier result JSON: adds each region's rank change")
    compute.add_argument("--pretty", action="store_true", help="indent the JSON")
    compute.set_defaults(run=_guarded(_compute))

    explain = dataset_parser("explain", "why one region scores what it does")
    explain.add_argument("--region", required=True, help="Kemendagri code, e.g. 62.10")
    explain.add_argument("--figure", choices=FIGURES, default="validated")
    explain.add_argument("--json", action="store_true", help="print JSON instead of a report")
    explain.set_defaults(run=_guarded(_explain))

    gap = dataset_parser("gap", "the fewest actions that lift one region to a target")
    gap.add_argument("--region", required=True, help="Kemendagri code, e.g. 62.10")
    gap.add_argument("--target", required=True, help="a category (inovatif, sangat_inovatif) or an IID (e.g. 45)")
    gap.add_argument("--figure", choices=FIGURES, default="validated")
    gap.add_argument(
        "--maturity", type=_maturity, help="maturity of hypothetical new innovations (default: the region's average)"
    )
    gap.add_argument("--json", action="store_true", help="print JSON instead of a report")
    gap.set_defaults(run=_guarded(_gap))

    schema = sub.add_parser("schema", help="print the JSON Schema of a format (default: the dataset)")
    schema.add_argument("format", nargs="?", choices=FORMATS, default="dataset")
    schema.set_defaults(run=_guarded(_schema))
