"""The package version (the one source: pyproject reads it) and the model code's identity (both
guard ``--resume`` through the experiment's fingerprint)."""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

__version__ = "0.1.0"

#: The sources that decide what a run produces: the rules, state and set-up, the scenario
#: loader, and the batch layer's run loop, experiment resolution and transplants. The analysis
#: and the interfaces are left out: they read results, they do not make them.
MODEL_SOURCES = ("core/*.py", "scenarios/*.py", "batch/ensemble.py", "batch/experiment.py", "batch/transplant.py")


def _code_only(source: str) -> str:
    """A module's syntax tree without its docstrings, comments or layout: a change that cannot
    alter what the module computes does not alter this."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.cache
def model_code(root: Path | None = None) -> str:
    """A 16-hex-digit hash of :data:`MODEL_SOURCES` under ``root`` (the installed ``sim``
    package by default): their code, not their docstrings, comments or layout. Results made by
    another model cannot be resumed into, or decomposed against, results made by this one,
    whatever ``__version__`` says."""
    root = root or Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted({p for pattern in MODEL_SOURCES for p in root.glob(pattern)}):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(_code_only(path.read_text(encoding="utf-8")).encode() + b"\0")
    return h.hexdigest()[:16]
