"""The package's import structure follows the data flow (the contracts in pyproject.toml),
and the contracts fail when a wrong-way import is added."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(cwd: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the package found in ``cwd`` with the contracts of ``cwd/pyproject.toml``."""
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120
    )


def copy_tree(tmp: Path) -> Path:
    shutil.copytree(ROOT / "sim", tmp / "sim", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


class TestContracts:
    def test_kept(self):
        r = lint(ROOT)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "4 kept, 0 broken" in r.stdout

    @pytest.mark.parametrize(
        ("module", "line", "contract"),
        [
            ("core/rules.py", "import sim.analysis.stats", "layers follow the data flow"),
            ("scenarios/loader.py", "from sim.batch import ensemble", "layers follow the data flow"),
            ("batch/ensemble.py", "import sim.abm.model", "layers follow the data flow"),
            ("core/state.py", "import pandas", "the model core is numpy (and numba) only"),
            ("analysis/report.py", "from sim.batch.ensemble import simulate", "the report reads results and runs no simulation"),
            ("batch/store.py", "from sim.batch import executors", "the batch layer runs sweep > executors > store > experiment > ensemble"),
        ],
    )
    def test_wrong_way_import_breaks_a_contract(self, tmp_path, module, line, contract):
        tree = copy_tree(tmp_path)
        target = tree / "sim" / module
        target.write_text(target.read_text() + f"\n{line}  # noqa\n")
        r = lint(tree)
        assert r.returncode != 0
        assert f"{contract} BROKEN" in r.stdout


class TestNoRootImports:
    """Subpackages never import the package root (it re-exports everything, so that would hide a cycle)."""

    def test_no_subpackage_imports_sim_root(self):
        bad = []
        for f in (ROOT / "sim").rglob("*.py"):
            if f.parent == ROOT / "sim":
                continue
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == "sim" and node.level == 0:
                    bad.append(str(f.relative_to(ROOT)))
                if isinstance(node, ast.Import) and any(a.name == "sim" for a in node.names):
                    bad.append(str(f.relative_to(ROOT)))
        assert bad == []
