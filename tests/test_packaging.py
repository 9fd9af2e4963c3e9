"""The built wheel works on its own: installed into a fresh virtual environment outside the
checkout, it lists the shipped scenarios, runs one and sweeps a shipped experiment.

Offline: the wheel is built without build isolation (setuptools from the test extras), and
the fresh environment reaches the already-installed dependencies through a ``.pth`` line
naming this environment's site-packages. Such a line adds the folder to ``sys.path`` without
processing its own ``.pth`` files, so the editable install of the checkout is not seen; the
test checks that the code that runs is the wheel's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), str(ROOT)],
        cwd=dist,
    )
    (whl,) = dist.glob("dialogue_sim-*.whl")
    return whl


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, wheel) -> Path:
    """A new virtual environment in a temporary folder with the wheel installed; returns its bin/."""
    home = tmp_path_factory.mktemp("fresh")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=home).stdout.strip())
    (site / "_dialogue_sim_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-index", str(wheel)], cwd=home)
    return env_dir / "bin"


class TestWheel:
    def test_wheel_ships_the_scenarios_and_experiments(self, wheel):
        names = zipfile.ZipFile(wheel).namelist()
        assert "sim/data/scenarios/lean-years.toml" in names
        assert "sim/data/experiments/lean-years.toml" in names
        assert "sim/batch/sweep.py" in names and not any(n.startswith("tests/") for n in names)

    def test_the_wheels_code_runs(self, fresh, tmp_path):
        r = run(
            [str(fresh / "python"), "-c", "import sim, sim.scenarios.loader as l; print(sim.__file__); print(l.SCENARIO_DIR)"], cwd=tmp_path
        )
        mod, data = r.stdout.split()
        assert str(fresh.parent) in mod and not mod.startswith(str(ROOT)), mod
        assert str(fresh.parent) in data, data

    def test_scenarios(self, fresh, tmp_path):
        r = run([str(fresh / "dialogue-sim"), "scenarios"], cwd=tmp_path)
        assert "lean-years" in r.stdout and "leadership-change" in r.stdout

    def test_run_a_shipped_scenario(self, fresh, tmp_path):
        run([str(fresh / "dialogue-sim"), "run", "lean-years", "--rounds", "20", "--out", "one"], cwd=tmp_path)
        summary = json.loads((tmp_path / "one" / "summary.json").read_text())
        assert summary and (tmp_path / "one" / "curves.png").stat().st_size > 0

    def test_sweep_a_shipped_experiment(self, fresh, tmp_path):
        exp = run([str(fresh / "python"), "-c", "from sim.scenarios.loader import EXPERIMENT_DIR; print(EXPERIMENT_DIR)"], cwd=tmp_path)
        path = Path(exp.stdout.strip()) / "turnover-handover.toml"
        r = run([str(fresh / "dialogue-sim"), "sweep", str(path), "--out", "res", "--workers", "1"], cwd=tmp_path)
        assert "360/360 runs, 0 failed" in r.stdout + r.stderr
        manifest = json.loads((tmp_path / "res" / "manifest.json").read_text())
        assert manifest["n_runs"] == 360 and manifest["versions"]["git_commit"] is None  # not run from a checkout


class TestNoWritableCache:
    """A read-only install run by a user without a writable cache directory: numba finds nowhere
    to cache the compiled rules. The model must still run (compiling in each process), with one
    warning. ``NUMBA_CACHE_LOCATOR_CLASSES`` naming a locator that never applies (numba's zip-file
    locator) stands for that machine: numba then raises "cannot cache function" at every
    ``cache=True``, as it does on a read-only mount (checked by hand with a read-only bind mount)."""

    CODE = (
        "import numpy as np; from sim.core import rules\n"
        "print(rules.relax(np.array([1.0, 0.5]), 0.0, 1.0, 1.0).tolist())\n"  # numba.vectorize
        "print(rules._norm_inf(np.array([[1.0, -2.0], [0.5, 0.5]])))\n"  # numba.njit
    )

    def test_the_rules_compile_uncached_with_one_warning(self, tmp_path):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env["NUMBA_CACHE_LOCATOR_CLASSES"] = "ZipCacheLocator"
        r = subprocess.run([sys.executable, "-c", self.CODE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        relaxed, norm = r.stdout.split("\n")[:2]
        assert json.loads(relaxed) == pytest.approx([math.exp(-1), 0.5 * math.exp(-1)]) and float(norm) == 3.0
        assert r.stderr.count("numba cannot cache the model's compiled code") == 1, r.stderr
