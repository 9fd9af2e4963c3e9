"""A property-based fuzzer over scenario and experiment documents: every document is either
refused with one line (exit 2, nothing written) or gives a valid run; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import Phase, given, settings

from sim.batch.ensemble import simulate
from sim.batch.experiment import experiment_from_dict, load_experiment
from sim.batch.limits import experiment_cost
from sim.cli import main
from sim.scenarios import InputError, load_scenario, resolve, scenario_from_dict

from .strategies import experiment_docs, raw_files, scenario_docs, to_toml

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # SALib's sample-size advice


def refused_in_one_line(e: InputError) -> None:
    text = str(e)
    assert "\n" not in text and len(text) < 2000, text


def scenario_refused_or_runs(doc: dict) -> None:
    """The property over scenario documents: refused in one line, or a valid run."""
    try:
        sc = scenario_from_dict(doc, "fuzz.toml")
    except InputError as e:
        refused_in_one_line(e)
        return
    setup = resolve(sc)
    out = simulate([setup], [1], rounds=min(setup.rounds, 5))
    assert out.rounds[-1] == min(setup.rounds, 5)


def experiment_refused_or_runs(doc: dict) -> None:
    """The property over experiment documents: refused in one line, or its first and last runs
    are valid runs."""
    try:
        exp = experiment_from_dict(doc, "fuzz.toml")
    except InputError as e:
        refused_in_one_line(e)
        return
    assert experiment_cost(exp).runs == exp.n_runs
    for rid in {0, exp.n_runs - 1}:
        s, p, a, r = exp.run_index(rid)
        out = simulate([exp.setup(s, p, a)], [exp.seed_of(p, r)], metrics=exp.timeseries, every=exp.every)
        assert set(exp.timeseries) <= set(out.series)
        assert all(len(out.series[m][0]) == len(out.rounds) for m in exp.timeseries)


class TestScenarioDocuments:
    @settings(max_examples=60)
    @given(scenario_docs)
    def test_refused_in_one_line_or_it_runs(self, doc):
        scenario_refused_or_runs(doc)

    @settings(max_examples=80)
    @given(raw_files(scenario_docs))
    def test_any_file_is_refused_in_one_line_or_loads(self, tmp_path_factory, data):
        f = tmp_path_factory.mktemp("fz") / "s.toml"
        f.write_bytes(data)
        try:
            load_scenario(f)
        except InputError as e:
            refused_in_one_line(e)


class TestExperimentDocuments:
    @settings(max_examples=40)
    @given(experiment_docs)
    def test_refused_in_one_line_or_it_runs(self, doc):
        experiment_refused_or_runs(doc)

    @settings(max_examples=60)
    @given(raw_files(experiment_docs))
    def test_any_file_is_refused_in_one_line_or_loads(self, tmp_path_factory, data):
        f = tmp_path_factory.mktemp("fz") / "e.toml"
        f.write_bytes(data)
        try:
            load_experiment(f)
        except InputError as e:
            refused_in_one_line(e)


class TestTheFuzzerCanFail:
    """Mutation tests of the fuzzer: with one field check taken out of the validation, the same
    property over the same documents finds a traceback (a bounded, derandomized search without
    shrinking, so it is fast and always the same)."""

    SEARCH = settings(max_examples=300, phases=[Phase.generate], derandomize=True, database=None, report_multiple_bugs=False)

    @staticmethod
    def finds_a_traceback(prop, docs) -> BaseException:
        found: list[int] = []

        def counted(doc: dict) -> None:
            found.append(1)
            prop(doc)

        with pytest.raises(Exception) as ei:  # noqa: PT011 - the property failed: a traceback, or a refusal after the work began
            TestTheFuzzerCanFail.SEARCH(given(docs)(counted))()
        assert len(found) < 300  # found before the search ran out
        return ei.value

    def test_without_the_parameter_value_check(self, monkeypatch):
        import sim.scenarios.loader as loader
        from sim.core.params import PARAMS

        real = loader._params

        def keys_checked_values_not(src: str, where: str, raw: object, allow_side: bool) -> dict:
            if not isinstance(raw, dict):
                return real(src, where, raw, allow_side)
            names = real(src, where, {k: PARAMS[k].default if k in PARAMS else v for k, v in raw.items()}, allow_side)
            return {k: raw[k] for k in names}

        monkeypatch.setattr(loader, "_params", keys_checked_values_not)
        self.finds_a_traceback(scenario_refused_or_runs, scenario_docs)
        monkeypatch.undo()
        with pytest.raises(InputError):  # the real check refuses such a value in one line
            scenario_from_dict({"params": {"turnover": [0.1]}}, "fuzz.toml")

    def test_without_the_experiment_parameter_value_check(self, monkeypatch):
        from sim.batch.experiment import Experiment

        monkeypatch.setattr(Experiment, "_check_value", lambda self, where, key, v: self._check_name(where, key, v))
        self.finds_a_traceback(experiment_refused_or_runs, experiment_docs)
        monkeypatch.undo()
        with pytest.raises(InputError):  # the real check refuses such a value in one line
            experiment_from_dict({"scenarios": ["lean-years"], "params": {"turnover": [0.1]}}, "fuzz.toml")


class TestCommandLine:
    """The same documents through the command: exit 0 with output, or exit 2, one line, no output."""

    @settings(max_examples=5)
    @given(doc=scenario_docs)
    def test_run(self, tmp_path_factory, capsys, doc):
        self._check(tmp_path_factory.mktemp("cli"), capsys, "run", to_toml(doc))

    @settings(max_examples=12)
    @given(doc=experiment_docs)
    def test_sweep(self, tmp_path_factory, capsys, doc):
        self._check(tmp_path_factory.mktemp("cli"), capsys, "sweep", to_toml(doc), "--workers", "1")

    @staticmethod
    def _check(folder: Path, capsys, cmd: str, text: str, *extra: str) -> None:
        f = folder / "doc.toml"
        f.write_text(text, encoding="utf-8")
        out = folder / "out"
        rc = main([cmd, str(f), "--out", str(out), *extra])
        cap = capsys.readouterr()
        if rc == 0:
            assert out.is_dir() and any(out.iterdir())
        else:
            assert rc == 2, cap.err
            lines = cap.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("dialogue-sim: error: "), cap.err
            assert not out.exists()
        assert sorted(p.name for p in folder.iterdir()) in (["doc.toml"], ["doc.toml", "out"])
