"""Every shipped scenario loads, runs to its horizon and reports what the analysis needs;
scenario validation and parameter resolution."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sim import DialogueModel, InputError, load_scenario, resolve, scenario_names
from sim.core.params import CHANNEL_PARAMS, CHANNELS, PARAMS, SIDE_PARAMS, check_param, markdown_table
from sim.scenarios import scenario_from_dict

from .conftest import REQUIRED_AGENT_REPORTERS, REQUIRED_REPORTERS

SHIPPED = [
    "canada-china-hrd",
    "delegation-downgrade",
    "iran-us-track-two",
    "leadership-change",
    "lean-years",
    "multilateral-track15",
    "one-sided-shift",
]


def test_scenario_names_lists_shipped_files():
    names = scenario_names()
    assert names == sorted(names)
    assert set(SHIPPED) <= set(names)


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_runs_to_horizon_with_reporters(name):
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.description
    for ev in sc.events:
        assert 1 <= ev.round <= sc.rounds
    model = DialogueModel(name, rng=1)
    assert model.setup.rounds == sc.rounds
    model.run_for(sc.rounds)
    assert model.steps == sc.rounds
    assert not model.running
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == sc.rounds + 1
    for col in REQUIRED_REPORTERS:
        assert col in df.columns, col
        assert np.all(np.isfinite(df[col].to_numpy(dtype=float))), col
    assert "agreement_round" in df.columns
    agents = model.datacollector.get_agent_vars_dataframe()
    for col in REQUIRED_AGENT_REPORTERS:
        assert col in agents.columns, col
    assert len(agents) == (sc.rounds + 1) * model.layout.N
    assert set(agents["side"]) == {s.name for s in sc.sides}


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_loads_by_path(name, tmp_path):
    from sim.scenarios import SCENARIO_DIR

    by_path = load_scenario(SCENARIO_DIR / f"{name}.toml")
    assert by_path.events == load_scenario(name).events


class TestShippedNamesWin:
    """A bare shipped name is the shipped scenario whatever the working folder holds (a results
    folder ``lean-years`` there made ``report`` fail to rebuild its experiment, so the
    decomposition silently dropped out); a path is still a path."""

    def test_a_folder_of_that_name_does_not_shadow_it(self, tmp_path, monkeypatch):
        from sim.scenarios import find_scenario
        from sim.scenarios.loader import SCENARIO_DIR

        monkeypatch.chdir(tmp_path)
        (tmp_path / "lean-years").mkdir()
        (tmp_path / "leadership-change").write_text("not a scenario")
        assert find_scenario("lean-years") == SCENARIO_DIR / "lean-years.toml"
        assert find_scenario("leadership-change") == SCENARIO_DIR / "leadership-change.toml"
        with pytest.raises(InputError, match="is a folder"):
            find_scenario(f".{os.sep}lean-years")
        assert find_scenario(f".{os.sep}leadership-change") == Path(".") / "leadership-change"

    def test_an_unshipped_bare_name_is_still_a_path(self, tmp_path, monkeypatch):
        from sim.scenarios import find_scenario

        monkeypatch.chdir(tmp_path)
        (tmp_path / "mine").write_text("x")
        assert find_scenario("mine") == Path("mine")


def test_resolve_precedence():
    sc = scenario_from_dict(
        {
            "channel": "track1",
            "params": {"turnover": 0.2, "handover": 0.4},
            "sides": [{"name": "A", "params": {"turnover": 0.3}}, {"name": "B"}],
        }
    )
    setup = resolve(sc)
    assert setup.side["turnover"] == [0.3, 0.2]  # side > scenario
    assert setup.side["openness"] == [CHANNELS["track1"]["openness"]] * 2  # channel preset
    assert setup.side["reporting"] == [CHANNELS["track1"]["reporting"]] * 2
    assert setup.side["winset"] == [PARAMS["winset"].default] * 2  # default
    assert setup.channel["self_weight"] == PARAMS["self_weight"].default
    setup = resolve(sc, {"turnover": 0.6, "B.turnover": 0.7, "self_weight": 3})
    assert setup.side["turnover"] == [0.6, 0.7]  # side override > all override > side params
    assert setup.channel["self_weight"] == 3.0
    assert set(setup.side) == set(SIDE_PARAMS)
    assert set(setup.channel) == set(CHANNEL_PARAMS)


def test_default_positions_spread_over_players():
    sc = scenario_from_dict({"sides": [{"name": "H", "host": True}, {"name": "A"}, {"name": "B"}, {"name": "C"}]})
    setup = resolve(sc)
    np.testing.assert_allclose(setup.side["position"], [0.5, 0.3, 0.5, 0.7])


def test_resolve_rounds_past_event_rejected():
    sc = load_scenario("leadership-change")
    with pytest.raises(InputError) as e:
        resolve(sc, rounds=30)
    assert e.value.value == 40
    assert e.value.source == sc.path
    assert resolve(sc, rounds=45).rounds == 45


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"bogus": 1}, "bogus"),
        ({"rounds": 0}, "rounds"),
        ({"rounds": 2.5}, "rounds"),
        ({"channel": "track3"}, "channel"),
        ({"channel_open": "yes"}, "channel_open"),
        ({"params": {"turnover": 2}}, "params.turnover"),
        ({"params": {"members": 2.5}}, "params.members"),
        ({"params": {"nope": 2}}, "params.nope"),
        ({"sides": [{"name": "A"}]}, "sides"),
        ({"sides": [{"name": "A"}, {"name": "A"}]}, "sides[1].name"),
        ({"sides": [{"name": "A"}, {"name": "all"}]}, "sides[1].name"),
        ({"sides": [{"name": "A"}, {"name": "B", "host": True}]}, "sides"),
        ({"sides": [{"name": "A"}, {"name": "B", "regime": "hot"}]}, "sides[1].regime"),
        ({"sides": [{"name": "A"}, {"name": "B", "params": {"self_weight": 2}}]}, "sides[1].params.self_weight"),
        ({"events": [{"round": 1, "kind": "meteor"}]}, "events[0].kind"),
        ({"events": [{"kind": "crisis"}]}, "events[0].round"),
        ({"rounds": 10, "events": [{"round": 11, "kind": "crisis"}]}, "events[0].round"),
        ({"events": [{"round": 1, "kind": "crisis", "severity": 1.5}]}, "events[0].severity"),
        ({"events": [{"round": 1, "kind": "crisis", "side": "A"}]}, "events[0].side"),
        ({"events": [{"round": 1, "kind": "turnover_shock", "side": "Z"}]}, "events[0].side"),
        ({"events": [{"round": 1, "kind": "channel_reopen", "fresh_personnel": 1}]}, "events[0].fresh_personnel"),
        ({"events": [{"round": 1, "kind": "channel_reopen", "setup_rounds": 51}]}, "events[0].setup_rounds"),
        ({"events": [{"round": 1, "kind": "leadership_change", "regime": "hot"}]}, "events[0].regime"),
    ],
)
def test_scenario_validation_errors(data, field):
    with pytest.raises(InputError) as e:
        scenario_from_dict(data, src="x.toml")
    assert e.value.source == "x.toml"
    assert e.value.field == field
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("x.toml: ")
    assert "allowed" in msg or "required" in msg or "channel parameter" in msg


def test_param_spec_is_consistent():
    assert set(SIDE_PARAMS) | set(CHANNEL_PARAMS) == set(PARAMS)
    assert not set(SIDE_PARAMS) & set(CHANNEL_PARAMS)
    for p in PARAMS.values():
        assert p.low <= p.default <= p.high, p.name
        assert check_param(p.name, p.default) == p.default
        with pytest.raises(ValueError):
            p.check(p.high + 1)
        with pytest.raises(ValueError):
            p.check(True)
    for preset in CHANNELS.values():
        for k, v in preset.items():
            check_param(k, v)
    with pytest.raises(KeyError):
        check_param("nope", 1)
    table = markdown_table()
    for name in PARAMS:
        assert f"`{name}`" in table


def test_param_check_rejects_non_finite():
    """Every parameter rejects inf and nan with a ValueError that says what is allowed
    (TOML has inf and nan literals; --set parses them with float())."""
    problems = []
    for name, p in PARAMS.items():
        for value in (float("inf"), float("-inf"), float("nan")):
            try:
                p.check(value)
            except ValueError as e:
                if str(e) != p.allowed():
                    problems.append(f"{name}={value}: ValueError {e!r}")
            except Exception as e:  # any other exception is itself the failure
                problems.append(f"{name}={value}: {type(e).__name__} {e}")
            else:
                problems.append(f"{name}={value}: accepted")
    assert not problems, "; ".join(problems)


class TestEmptyScenarioFile:
    """A scenario file that defines nothing (0 bytes, only comments, only blank lines or a
    byte-order mark) ran silently as all defaults (bad-input audit): almost surely not the file
    meant. ``run`` refuses it in one line naming the file and the least it needs (one field, e.g.
    a name: every field has a default), leaving nothing on disk."""

    @pytest.mark.parametrize(
        "contents",
        [b"", b"# a scenario, one day\n\n   # more later\n", b"\n \n\t\n", b"\xef\xbb\xbf"],
        ids=["0-bytes", "comments", "blank", "bom"],
    )
    def test_run_refuses_it_in_one_line(self, contents, tmp_path, monkeypatch, capsys):
        from sim.cli import main

        path = tmp_path / "empty.toml"
        path.write_bytes(contents)
        monkeypatch.chdir(tmp_path)  # where run's default output folder (runs/…) would go
        assert main(["run", str(path)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert err.startswith(f"dialogue-sim: error: {path}: scenario = ") and "defines nothing" in err
        assert 'required: at least one field, e.g. name = "' in err
        assert list(tmp_path.iterdir()) == [path]

    def test_the_installed_command_refuses_it(self, tmp_path):
        import subprocess
        import sys
        from pathlib import Path

        path = tmp_path / "empty.toml"
        path.write_bytes(b"")
        exe = Path(sys.executable).parent / "dialogue-sim"
        proc = subprocess.run([str(exe), "run", str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1 and "defines nothing" in proc.stderr and str(path) in proc.stderr
        assert list(tmp_path.iterdir()) == [path]

    def test_one_field_is_enough(self, tmp_path):
        """The least the error asks for loads, every other field at its default."""
        path = tmp_path / "minimal.toml"
        path.write_text('name = "minimal"\n')
        sc = load_scenario(path)
        assert sc.name == "minimal" and sc.rounds == 60 and [s.name for s in sc.sides] == ["A", "B"] and not sc.events
