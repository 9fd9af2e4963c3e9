"""Types: the package is mypy-clean, mypy catches what the types are for, and the parameter
dataclass has exactly the fields of the parameter spec."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.batch.ensemble import OUTCOMES, EnsembleResult, simulate
from sim.core.metrics import METRICS
from sim.core.params import CHANNEL_PARAMS, PARAMS, SIDE_PARAMS
from sim.core.state import Params, check_fields
from sim.scenarios import load_scenario, resolve

ROOT = Path(__file__).resolve().parent.parent


def mypy(*args: str) -> subprocess.CompletedProcess:
    """mypy with the project's configuration (pyproject.toml) and its cache in the checkout."""
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


class TestMypy:
    def test_package_has_no_type_errors(self):
        r = mypy()
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Success: no issues found" in r.stdout

    @pytest.mark.parametrize(
        ("code", "message"),
        [
            ("Params.from_setups([]).turnovr", 'has no attribute "turnovr"'),
            ("simulate([], [])['trust']", "not indexable"),
            ("EnsembleResult(rounds=np.arange(3), series={}, outcomes=[])", "incompatible type"),
        ],
    )
    def test_mypy_catches_a_misuse(self, tmp_path, code, message):
        bad = tmp_path / "misuse.py"
        bad.write_text(
            f"import numpy as np\nfrom sim.batch.ensemble import EnsembleResult, simulate\nfrom sim.core.state import Params\n\n{code}\n"
        )
        r = mypy(str(bad))
        assert r.returncode == 1, r.stdout + r.stderr
        assert message in r.stdout


class TestParamsFollowTheSpec:
    def test_fields_are_the_spec(self):
        names = [f.name for f in dataclasses.fields(Params) if f.init]
        assert sorted(names) == sorted(PARAMS)
        check_fields()  # the import-time check agrees

    def test_a_spec_parameter_without_a_field_is_refused(self):
        with pytest.raises(TypeError, match=r"missing fields \['new_rate'\]"):
            check_fields([*PARAMS, "new_rate"])

    def test_a_field_not_in_the_spec_is_refused(self):
        with pytest.raises(TypeError, match=r"fields not in the spec \['turnover'\]"):
            check_fields([p for p in PARAMS if p != "turnover"])

    def test_from_setups_shapes_and_values(self):
        sc = load_scenario("leadership-change")
        setups = [resolve(sc), resolve(sc, {"turnover": 0.4, "idea_rate": 0.2})]
        P = Params.from_setups(setups)
        S = len(setups[0].side_names)
        for name in SIDE_PARAMS:
            assert getattr(P, name).shape == (2, S), name
        for name in CHANNEL_PARAMS:
            assert getattr(P, name).shape == (2,), name
        assert P.turnover[1].tolist() == [0.4] * S
        assert P.idea_rate.tolist() == [setups[0].channel["idea_rate"], 0.2]

    def test_frozen(self):
        P = Params.from_setups([resolve(load_scenario("leadership-change"))])
        with pytest.raises(dataclasses.FrozenInstanceError):
            P.turnover = np.zeros(1)  # type: ignore[misc]


class TestEnsembleResult:
    def test_simulate_returns_series_rounds_and_outcomes(self):
        sc = load_scenario("leadership-change")
        res = simulate([resolve(sc)] * 3, [1, 2, 3], rounds=6, metrics=["trust", "agreement"], every=4)
        assert isinstance(res, EnsembleResult)
        assert res.rounds.tolist() == [0, 4, 6]
        assert set(res.series) == {"trust", "agreement"} and res.series["trust"].shape == (3, 3)
        assert set(res.outcomes) == set(OUTCOMES) and res.n_runs == 3
        assert res.agreement_round is res.outcomes["agreement_round"]

    def test_sub_batches_concatenate_to_the_whole(self):
        sc = load_scenario("leadership-change")
        setups, seeds = [resolve(sc)] * 5, [7, 8, 9, 10, 11]
        whole = simulate(setups, seeds, rounds=8)
        split = simulate(setups, seeds, rounds=8, batch=2)
        np.testing.assert_array_equal(whole.rounds, split.rounds)
        for m in METRICS:
            np.testing.assert_allclose(whole.series[m], split.series[m], rtol=1e-12, err_msg=m)
        for k in OUTCOMES:
            np.testing.assert_array_equal(whole.outcomes[k], split.outcomes[k], err_msg=k)
