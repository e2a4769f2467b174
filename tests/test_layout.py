"""The package's shape: no function over 50 lines (the style guide's rule)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "playcanvas_backup"
MAX_LINES = 50
#: Functions over the limit that are tolerated: none. Never add to it.
KNOWN_LONG: frozenset[str] = frozenset()


def long_functions() -> dict[str, int]:
    """Every function of the package longer than ``MAX_LINES`` lines (docstring included),
    as ``module.py:qualified.name`` -> lines."""
    found: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, name in _functions(tree, ""):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES:
                found[f"{path.relative_to(PACKAGE)}:{name}"] = lines
    return found


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST, prefix: str) -> list[tuple[Function, str]]:
    found: list[tuple[Function, str]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if isinstance(node, Function):
                found.append((node, name))
            found += _functions(node, f"{name}.")
    return found


def test_no_function_is_longer_than_fifty_lines() -> None:
    assert set(long_functions()) - KNOWN_LONG == set()


def test_the_list_of_known_long_functions_only_shrinks() -> None:
    assert KNOWN_LONG - set(long_functions()) == set(), "remove the functions fixed since"
