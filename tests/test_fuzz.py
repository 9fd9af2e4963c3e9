"""A property-based fuzzer over scenario and experiment documents: every document is either
refused with one line (exit 2, nothing written) or gives a valid run; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

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


class TestScenarioDocuments:
    @settings(max_examples=100)
    @given(scenario_docs)
    def test_refused_in_one_line_or_it_runs(self, doc):
        try:
            sc = scenario_from_dict(doc, "fuzz.toml")
        except InputError as e:
            refused_in_one_line(e)
            return
        setup = resolve(sc)
        out = simulate([setup], [1], rounds=min(setup.rounds, 5))
        assert out.rounds[-1] == min(setup.rounds, 5)

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
    @settings(max_examples=80)
    @given(experiment_docs)
    def test_refused_in_one_line_or_it_runs(self, doc):
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

    @settings(max_examples=60)
    @given(raw_files(experiment_docs))
    def test_any_file_is_refused_in_one_line_or_loads(self, tmp_path_factory, data):
        f = tmp_path_factory.mktemp("fz") / "e.toml"
        f.write_bytes(data)
        try:
            load_experiment(f)
        except InputError as e:
            refused_in_one_line(e)


class TestCommandLine:
    """The same documents through the command: exit 0 with output, or exit 2, one line, no output."""

    @settings(max_examples=8)
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
