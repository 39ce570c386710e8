"""Every `wait_for_function` predicate in the journeys is a function, never a bare expression.

Playwright evaluates a bare expression with `eval()` on every poll after the first; our pages send
a CSP without 'unsafe-eval', so such a wait passes on a fast machine (the first check is true) and
fails on a slower one. A function is evaluated once and then called, which the CSP allows.
"""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).parent


def _string_value(node: ast.expr, constants: dict[str, ast.expr]) -> str | None:
    """The literal text a predicate starts with, following module constants, `%` and `+`."""
    if isinstance(node, ast.Name) and node.id in constants:
        return _string_value(constants[node.id], constants)
    if isinstance(node, ast.BinOp):
        return _string_value(node.left, constants)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return _string_value(node.values[0], constants)
    return None


def test_every_wait_for_function_predicate_is_a_function() -> None:
    offenders, seen = [], 0
    for path in sorted(HERE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: stmt.value
            for stmt in tree.body
            if isinstance(stmt, ast.Assign)
            for target in stmt.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for_function"
                and node.args
            ):
                continue
            seen += 1
            text = _string_value(node.args[0], constants)
            if text is None or not text.lstrip().startswith(("() =>", "function")):
                offenders.append(f"{path.name}:{node.lineno}")
    assert seen >= 10, "the walk found the journeys' waits"
    assert offenders == [], f"bare-expression waits (eval'd per poll, refused by CSP): {offenders}"
