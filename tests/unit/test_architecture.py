"""The shape of the code, checked from its imports and routes (see docs/architecture.md):
no import cycles; pure domain packages; handlers that do not speak HTTP; HTTP routes that
only translate, each calling exactly one handler."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "evidence", "scoring", "notify", "web")
# What a pure domain module may import from the project besides its own service's domain.
DOMAIN_MAY_IMPORT = (
    "services.common.events",
    "services.common.errors",
    "services.common.principal",
    "services.common.ids",
    "services.common.data",
    "services.common.methodology",
    "services.common.text",
)
# Third-party packages a domain module may use: validation models and encodings, no I/O.
DOMAIN_THIRD_PARTY = ("pydantic", "pydantic_core", "idna")
WEB = ("fastapi", "starlette", "services.common.http")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_modules() -> dict[str, Path]:
    return {module_name(p): p for top in ("services", "devtools") for p in (ROOT / top).rglob("*.py")}


def imports_of(path: Path) -> Iterator[str]:
    """Every module `path` imports, anywhere in it (function bodies and TYPE_CHECKING
    blocks too), as absolute names; `from package import name` names the submodule when
    there is one."""
    modules = project_modules()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules else base


def project_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_project() -> None:
    cycle = find_cycle(project_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _is(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("service", SERVICES)
def test_domain_packages_are_pure(service: str) -> None:
    own = f"services.{service}.domain"
    for path in sorted((ROOT / "services" / service / "domain").rglob("*.py")):
        for module in imports_of(path):
            if module.split(".")[0] in ("services", "devtools"):
                assert _is(module, (own, *DOMAIN_MAY_IMPORT)), f"{path.relative_to(ROOT)} imports {module}"
            else:
                top = module.split(".")[0]
                assert top in DOMAIN_THIRD_PARTY or _is_stdlib(top), f"{path.relative_to(ROOT)} imports {module}"


def _is_stdlib(top: str) -> bool:
    import sys

    return top in sys.stdlib_module_names or top == "__future__"


def handler_files(service: str) -> list[Path]:
    single = ROOT / "services" / service / "handlers.py"
    return [single] if single.exists() else sorted((ROOT / "services" / service / "handlers").glob("*.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_handlers_views_and_domain_do_not_speak_http(service: str) -> None:
    views = ROOT / "services" / service / "views.py"
    files = handler_files(service) + sorted((ROOT / "services" / service / "domain").rglob("*.py")) + [views]
    assert handler_files(service), f"{service} has no handlers"
    for path in files:
        web = [m for m in imports_of(path) if _is(m, WEB)]
        assert not web, f"{path.relative_to(ROOT)} imports {web}"
        assert "ApiError" not in path.read_text(encoding="utf-8"), path


def _is_route_decorator(decorator: ast.expr) -> bool:
    """`@router.get(...)`, `@router.post(...)`, …"""
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and getattr(decorator.func.value, "id", "") == "router"
    )


def routes(path: Path) -> Iterator[ast.AsyncFunctionDef | ast.FunctionDef]:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            _is_route_decorator(d) for d in node.decorator_list
        ):
            yield node


def handler_calls(route: ast.AST) -> list[str]:
    return [
        node.func.attr
        for node in ast.walk(route)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "handlers"
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_calls_exactly_one_handler_and_no_adapter(service: str) -> None:
    path = ROOT / "services" / service / "entrypoints" / "http.py"
    found = list(routes(path))
    assert found, f"no routes found in {path}"
    for route in found:
        calls = handler_calls(route)
        assert len(calls) == 1, f"{service} route {route.name} calls {calls or 'no handler'}"
    adapters = [m for m in imports_of(path) if ".adapters" in m]
    assert not adapters, f"{path.relative_to(ROOT)} imports {adapters}"


def test_scoring_routes_call_query_handlers() -> None:
    path = ROOT / "services" / "scoring" / "entrypoints" / "http.py"
    query_modules = [ROOT / "services" / "scoring" / "handlers" / f"{m}.py" for m in ("queries", "feed")]
    queries = {
        node.name
        for module in query_modules
        for node in ast.parse(module.read_text(encoding="utf-8")).body
        if isinstance(node, ast.AsyncFunctionDef) and not node.name.startswith("_")
    }
    called = {call for route in routes(path) for call in handler_calls(route)}
    assert called and called <= queries, f"scoring routes call {called - queries} outside the query handlers"
    expected = {"region_score_now", "score_history", "rankings", "explain", "gap", "open_score_feed"}
    assert called == expected


def test_common_holds_no_development_tools() -> None:
    common = ROOT / "services" / "common"
    for path in common.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "devtools" not in text, path
    assert not (common / "embedded.py").exists() and not (ROOT / "services" / "demo.py").exists()
