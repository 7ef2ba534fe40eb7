"""The biggest rooms of the code: the largest files and the longest functions of some trees.

    .venv/bin/python -m devtools.code_size services devtools [--top 12]

A long function is a sign that a concept has no name yet; a large file, that a room holds
more than one thing.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator, Sequence
from pathlib import Path


def python_files(roots: Sequence[str]) -> Iterator[Path]:
    for root in roots:
        yield from sorted(Path(root).rglob("*.py"))


def function_lengths(path: Path) -> Iterator[tuple[int, str]]:
    """(lines, "path:line name") for every function and method of a file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            end = node.end_lineno or node.lineno
            yield end - node.lineno + 1, f"{path}:{node.lineno} {node.name}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("roots", nargs="*", default=["services"])
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    files = [(len(p.read_text(encoding="utf-8").splitlines()), str(p)) for p in python_files(args.roots)]
    functions = [item for p in python_files(args.roots) for item in function_lengths(p)]
    print("largest files (lines):")
    for lines, name in sorted(files, reverse=True)[: args.top]:
        print(f"  {lines:5d}  {name}")
    print("longest functions (lines):")
    for lines, name in sorted(functions, reverse=True)[: args.top]:
        print(f"  {lines:5d}  {name}")


if __name__ == "__main__":
    main()
