"""sim.analysis.report and the plot/report commands on a small real sweep: the tables and sentences
carry numbers recomputed here from the runs, the HTML is self-contained and complete, the
verdict follows the data (a treatment that does worse is not reported as a success), and bad
input to the commands gives exit 2 and one error line."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from sim.analysis import sensitivity as S
from sim.analysis import stats
from sim.analysis.cases import cases as case_list
from sim.analysis.cases import run_cases
from sim.analysis.report import (
    SECTIONS,
    Results,
    build_report,
    effects_table,
    outcome_table,
    phase_cells,
    sensitivity,
    summary,
)
from sim.batch.experiment import Arm
from sim.batch.sweep import read_runs, run_sweep
from sim.cli import main

from .conftest import ANALYSIS, HORIZON, MAIN, PLACEBO, SHIFT, WINDOW, small_experiment, wind_down_arm

WIND_DOWN = wind_down_arm()


@pytest.fixture(scope="module")
def results(small_sweep) -> Path:
    return small_sweep


@pytest.fixture(scope="module")
def runs(results) -> pd.DataFrame:
    r = read_runs(results)
    assert (r["status"] == "ok").all()
    return r


@pytest.fixture(scope="module")
def report_path(results, tmp_path_factory) -> Path:
    path = build_report(results, tmp_path_factory.mktemp("report") / "report.html")
    assert path.name == "report.html"
    return path


@pytest.fixture(scope="module")
def report(report_path) -> str:
    return report_path.read_text(encoding="utf-8")


def test_answer_json_is_written_beside_the_html_and_the_answer_box_comes_first(report_path, report, runs, results):
    ans = json.loads((report_path.parent / "answer.json").read_text(encoding="utf-8"))
    assert ans["fingerprint"] == json.loads((results / "manifest.json").read_text())["fingerprint"]
    body = report.split("<body>", 1)[1]
    first = re.search(r"<section id='([^']+)'>", body).group(1)
    assert first == "answer"
    box = sections(report)["answer"]
    assert 'alt="answer-effect"' in box and "data:image/png;base64," in box  # the Δ(t) figure with both bands
    for sentence in ans["verdict"]:
        assert html.escape(sentence) in box
    # the primary estimand recomputed from the runs: Δ P(agreement by the horizon), post-shift agreements only
    row = [r for r in ans["estimands"] if r["scenario"] == MAIN and r["arm"] == "keep-open" and r["reference"] == "wind-down"][0]
    d = pairs(runs, MAIN, ((runs["agreement_round"] >= SHIFT) & (runs["agreement_round"] <= HORIZON)).astype(float))["diff"]
    assert row["by_horizon"]["value"] == pytest.approx(d.mean(), abs=1e-6)
    assert row["curve"]["n_pairs"] == len(d)


# ---------------------------------------------------------------- helpers computed from the runs


def in_window(runs: pd.DataFrame, w: int = WINDOW) -> pd.Series:
    ar = runs["agreement_round"].astype(float)
    return ((ar >= SHIFT) & (ar < SHIFT + w)).astype(float)


def pairs(runs: pd.DataFrame, scenario: str, values: pd.Series) -> pd.DataFrame:
    """keep-open − wind-down per (point, replication) within ``scenario``, with the swept values."""
    r = runs.assign(v=values)
    r = r[r["scenario"] == scenario]
    a = r[r["arm"] == "keep-open"].set_index(["point", "replication"])
    b = r[r["arm"] == "wind-down"].set_index(["point", "replication"])
    return a[["turnover", "handover"]].assign(diff=a["v"] - b.loc[a.index, "v"]).reset_index()


def km_median(durations: np.ndarray, observed: np.ndarray) -> float | None:
    """First event time at which the product-limit estimate drops to 0.5 or below."""
    s = 1.0
    for u in np.unique(durations[observed]):
        s *= 1 - np.sum((durations == u) & observed) / np.sum(durations >= u)
        if s <= 0.5:
            return float(u)
    return None


def sections(page: str) -> dict[str, str]:
    found = re.findall(r"<section id='([^']+)'>(.*?)</section>", page, flags=re.S)
    return dict(found)


def summary_items(page: str) -> list[str]:
    """Every summary sentence, wherever the layout put it (answer, conditions, mechanisms, ...)."""
    found = []
    for sid, body in sections(page).items():
        if sid != "experiment":
            found += [html.unescape(s) for s in re.findall(r"<li>(.*?)</li>", body, flags=re.S)]
    return found


def html_table(fragment: str) -> list[dict[str, str]]:
    head = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", fragment, flags=re.S)]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", fragment, flags=re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr, flags=re.S)]
        if cells:
            rows.append(dict(zip(head, cells, strict=True)))
    return rows


def main_sentence(lines: list[str]) -> str:
    hits = [s for s in lines if s.startswith(f"In {MAIN}, keeping the channel open")]
    assert len(hits) == 1, lines
    return hits[0]


# ---------------------------------------------------------------- tables


def test_outcome_table_matches_the_runs(results, runs):
    res = Results.load(results)
    t = outcome_table(res).set_index(["scenario", "arm"])
    assert len(t) == 4
    iw = in_window(runs)
    for (sc, arm), g in runs.groupby(["scenario", "arm"]):
        row = t.loc[(sc, arm)]
        assert row["runs"] == len(g) == 16
        assert row[f"P(agreement within {WINDOW} rounds of the shift)"].startswith(f"{iw[g.index].mean():.0%} [")
        assert row["P(agreement by the horizon)"] == f"{g['agreement'].mean():.0%}"
        assert row["agreements before the shift"] == int((g["agreement_round"] < SHIFT).sum())
        ar = g["agreement_round"].astype(float).to_numpy()
        ar = ar[~(ar < SHIFT)]  # agreements before the shift have no time from it
        obs = ~np.isnan(ar)
        med = km_median(np.where(obs, ar - SHIFT + 1, HORIZON - SHIFT + 1), obs)  # the shift round is the first
        assert row["median rounds from shift to agreement (KM)"] == ("not reached" if med is None else f"{med:.0f}")
        assert row["mean cost"].startswith(f"{g['cost'].mean():.1f} [")


def test_effects_table_matches_the_runs(results, runs):
    res = Results.load(results)
    e = effects_table(res)
    label = f"P(agreement within {WINDOW} rounds)"
    assert set(e["outcome"]) == {label, "cost"}
    assert set(e["arm"]) == {"keep-open"} and set(e["reference"]) == {"wind-down"}
    for sc in (MAIN, PLACEBO):
        for outcome, values in ((label, in_window(runs)), ("cost", runs["cost"])):
            row = e[(e["scenario"] == sc) & (e["outcome"] == outcome)].iloc[0]
            d = pairs(runs, sc, values)["diff"]
            assert row["n_pairs"] == len(d) == 16
            assert row["mean_diff"] == pytest.approx(d.mean())
            assert row["ci_low"] <= row["mean_diff"] <= row["ci_high"]


def test_phase_cells_match_the_runs(results, runs):
    res = Results.load(results)
    cells = phase_cells(res, "turnover", "handover", MAIN)
    d = pairs(runs, MAIN, in_window(runs))
    assert len(cells) == 4
    for _, c in cells.iterrows():
        g = d[(d["turnover"] == c["turnover"]) & (d["handover"] == c["handover"])]
        assert c["n_pairs"] == len(g) == 4
        assert c["mean_diff"] == pytest.approx(g["diff"].mean())
        sub = runs[(runs["scenario"] == MAIN) & (runs["turnover"] == c["turnover"]) & (runs["handover"] == c["handover"])]
        assert c["p_treatment"] == pytest.approx(in_window(sub[sub["arm"] == "keep-open"]).mean())
        assert c["p_reference"] == pytest.approx(in_window(sub[sub["arm"] == "wind-down"]).mean())
    # "window" as an axis: each cell uses its own window length
    cells = phase_cells(res, "window", "turnover", MAIN)
    assert sorted(cells["window"].unique()) == [5, 10]
    for _, c in cells.iterrows():
        dw = pairs(runs, MAIN, in_window(runs, int(c["window"])))
        g = dw[dw["turnover"] == c["turnover"]]
        assert c["n_pairs"] == len(g) == 8
        assert c["mean_diff"] == pytest.approx(g["diff"].mean())


def test_phase_cells_are_corrected_and_judged_per_cell(results):
    from sim.analysis.report import correct

    res = Results.load(results)
    cells = correct(phase_cells(res, "turnover", "handover", MAIN), "holm")
    p = cells["p_value"].to_numpy()
    m = len(p)
    assert (cells["p_adjusted"] >= cells["p_value"] - 1e-12).all()
    # Holm: the smallest p-value is multiplied by the number of cells
    assert cells["p_adjusted"].min() == pytest.approx(min(1.0, p.min() * m))
    assert (cells["significant"] == (cells["p_adjusted"] < 0.05)).all()
    half = (cells["ci_high"] - cells["ci_low"]) / 2
    assert (cells["adequate"] == (cells["significant"] | (half <= 0.05))).all()


# ---------------------------------------------------------------- the HTML report


def test_report_has_every_section_once_in_order(report):
    ids = re.findall(r"<section id='([^']+)'>", report)
    assert ids == SECTIONS
    assert report.startswith("<!doctype html>") and report.rstrip().endswith("</html>")


def test_report_is_self_contained(report):
    srcs = re.findall(r"""src\s*=\s*["']([^"']*)""", report)
    # the answer's Δ(t); outcome/difference curves for agreement, trust, progress, cost; survival; 2 phase
    # diagrams; the Δ(t) of the other comparisons
    assert len(srcs) == 1 + 4 * 2 + 1 + 2 + 1
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        png = base64.b64decode(s.split(",", 1)[1], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    img = mpimg.imread(io.BytesIO(base64.b64decode(srcs[0].split(",", 1)[1])), format="png")
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    assert "figures/" not in report
    assert not re.search(r"""(href|src)\s*=\s*["'](?!data:|#)""", report)  # only in-page links
    s = sections(report)
    assert s["answer"].count("data:image/png;base64,") == 1
    assert s["effect"].count("data:image/png;base64,") == 8 + 1 + 1  # curves, survival, the other comparisons' Δ(t)
    assert s["conditions"].count("data:image/png;base64,") == 2


def test_report_includes_the_experiment_spec(report):
    assert "<details>" in sections(report)["experiment"]  # collapsed
    pre = re.search(r"<pre>(.*?)</pre>", sections(report)["experiment"], flags=re.S)
    assert pre
    assert json.loads(html.unescape(pre.group(1))) == small_experiment().spec()


def test_report_tables_and_notes(report, runs):
    s = sections(report)
    outcomes = html_table(s["effect"].split("<h3>Paired effects</h3>")[0])
    assert [(r["scenario"], r["arm"]) for r in outcomes] == [
        (MAIN, "keep-open"),
        (MAIN, "wind-down"),
        (PLACEBO, "keep-open"),
        (PLACEBO, "wind-down"),
    ]
    effects = html_table(s["effect"].split("<h3>Paired effects</h3>")[1].split("<h3>Estimands")[0])
    assert len(effects) == 4
    assert "not Sobol or Morris" in s["sensitivity"] and "'grid'" in html.unescape(s["sensitivity"])
    adequacy = html_table(s["adequacy"])
    assert len(adequacy) == 2 * 2 * 3  # scenarios × arms × outcomes
    assert "Case studies not run" in s["cases"]
    assert f"{len(runs)} runs (0 failed)" in report


def test_report_summary_states_numbers_from_the_runs(report, runs):
    lines = summary_items(report)
    main = main_sentence(lines)
    g = runs[runs["scenario"] == MAIN]
    iw = in_window(g)
    pt, pr = iw[g["arm"] == "keep-open"].mean(), iw[g["arm"] == "wind-down"].mean()
    d = pairs(runs, MAIN, in_window(runs))["diff"]
    assert f"from {pr:.0%} to {pt:.0%}" in main
    assert f"paired difference {d.mean():+.2f}" in main
    assert "16 pairs" in main
    # cost
    ct, cr = g[g["arm"] == "keep-open"]["cost"].mean(), g[g["arm"] == "wind-down"]["cost"].mean()
    assert any(f"It cost {ct / cr:.1f}× as much over the whole run ({ct:.0f} vs {cr:.0f}" in s for s in lines)
    # placebo: the exact count of kept-open agreements in lean-years
    p = runs[(runs["scenario"] == PLACEBO) & (runs["arm"] == "keep-open")]
    k = int(p["agreement"].sum())
    placebo = [s for s in lines if s.startswith(f"Placebo ({PLACEBO}, no shift)")]
    assert len(placebo) == 1
    assert f"reached agreement in {k} of {len(p)} runs" in placebo[0]
    assert ("does not manufacture agreements" in placebo[0]) == (k == 0)


def test_report_summary_verdict_agrees_with_the_effects_table(report):
    main = main_sentence(summary_items(report))
    m = re.search(r"95% CI \[([+-][\d.]+), ([+-][\d.]+)\]", main)
    assert m
    lo, hi = float(m.group(1)), float(m.group(2))
    effects = html_table(sections(report)["effect"].split("<h3>Paired effects</h3>")[1].split("<h3>Estimands")[0])
    row = [r for r in effects if r["scenario"] == MAIN and r["outcome"].startswith("P(agreement")][0]
    assert row["95% CI"] == f"[{lo:+.2f}, {hi:+.2f}]"
    if lo > 0:
        assert "positive on this grid average" in main
    elif hi < 0:
        assert "negative on this grid average" in main
    else:
        assert "not distinguishable from zero" in main
    assert "the claim holds" not in report


def test_report_summary_phase_and_replication_sentences(report, results, runs):
    from sim.analysis.report import correct

    lines = summary_items(report)
    res = Results.load(results)
    for x, y in ANALYSIS["phase"]:
        cells = phase_cells(res, x, y, MAIN)
        s = [line for line in lines if line.startswith(f"Over {x} × {y} ({MAIN}")]
        assert len(s) == 1
        m = re.search(r"positive in (\d+) of (\d+) cells, negative in (\d+) and inconclusive in (\d+)", s[0])
        assert m
        holds, total, rev, flat = map(int, m.groups())
        cells = correct(cells)
        assert total == len(cells) == 4 and holds + rev + flat == total
        assert holds == int((cells["significant"] & (cells["mean_diff"] > 0)).sum())
        assert rev == int((cells["significant"] & (cells["mean_diff"] < 0)).sum())
        assert ("It is positive at" in s[0]) == (holds > 0)
        assert "Benjamini–Hochberg" in s[0]
    # replication warning: recount the intervals wider than their tolerance (t interval, 95%; for a
    # share at least the Wilson interval: half its width is z·sqrt(p(1−p)/n + z²/4n²)/(1 + z²/n))
    r = runs.assign(in_window=in_window(runs))
    bad = 0
    for _, g in r.groupby(["scenario", "arm"]):
        for o in ("in_window", "agreement", "cost"):
            x = g[o].astype(float).to_numpy()
            n, z = len(x), sps.norm.ppf(0.975)
            hw = sps.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n)
            share = set(np.unique(x)) <= {0.0, 1.0}
            if share:
                p = x.mean()
                hw = max(hw, z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n))
            tol = 0.05 if share else 0.05 * abs(x.mean())
            bad += hw > tol
    if bad:
        assert any(s.startswith(f"Replication warning: {bad} of 12 estimates") for s in lines)
    else:
        assert "Every reported estimate is within its replication tolerance." in lines


def test_report_with_cases(results, tmp_path):
    page = build_report(results, tmp_path / "with-cases.html", cases=run_cases(20)).read_text(encoding="utf-8")
    rows = html_table(sections(page)["cases"])
    expected = {c.name: c for c in case_list()}
    assert [r["case"] for r in rows] == list(expected)
    direct = {c.case.name: c.reproduced for c in run_cases(20)}
    lines = summary_items(page)
    for r in rows:
        assert r["reproduced"] in ("yes", "no")
        assert r["reproduced"] == ("yes" if direct[r["case"]] else "no")
        assert r["runs"] == "20"
        assert r["scenario"] == expected[r["case"]].scenario
        verdict = "reproduced" if r["reproduced"] == "yes" else "NOT reproduced"
        assert any(s.startswith(f"Case study — {r['case']} ({r['scenario']}): {verdict};") for s in lines)


# ---------------------------------------------------------------- the decompositions, one per recipient


def test_report_shows_every_decomposition_labelled_and_in_order(results, tmp_path):
    """With recipients wind-down then paused, the mechanisms section shows both, each headed by its
    recipient and what it measures, with its sentences and figure; answer.json keeps wind-down as
    ``decomposition`` and lists both; the phase cells' mechanisms are wind-down's. Mutation
    evidence: run_declared cut to the first recipient, or the two swapped, fails here."""
    from sim.analysis import decompose

    from .test_decompose import declared, two_recipient_experiment

    dec, note = declared(two_recipient_experiment(), tmp_path)
    out = tmp_path / "two" / "report.html"
    out.parent.mkdir()
    page = build_report(results, out, decomposition=(dec, note)).read_text(encoding="utf-8")
    mech = sections(page)["mechanisms"]
    heads = [html.unescape(h) for h in re.findall(r"<h4>(.*?)</h4>", mech)]
    assert heads == ["keep-open → wind-down (including the restart rules)", "keep-open → paused (net of the restart rules)"]
    first, second = mech.split("<h4>")[1:3]
    for block, d in ((first, dec), (second, decompose.all_of(dec)[1])):
        assert html.escape(d["measures"]) in block
        for s in decompose.sentences(d):
            assert html.escape(s) in block
    assert "includes the restart rules" in html.unescape(first) and "is net of the restart rules" in html.unescape(second)
    assert 'alt="decomposition"' in first and 'alt="decomposition-paused"' in second
    assert "set-up delay, personnel (who sits) left out: paused" in html.unescape(second)
    ans = json.loads((out.parent / "answer.json").read_text(encoding="utf-8"))
    assert ans["decomposition"]["recipient"] == "wind-down"
    assert [d["recipient"] for d in ans["decompositions"]] == ["wind-down", "paused"]
    cells = {(c["turnover"], c["handover"]): c["mechanism"] for c in ans["phase"][0]["cells"]}
    want = decompose.cell_mechanisms(dec, "turnover", "handover")
    assert cells == {(r.turnover, r.handover): r.mechanism for r in want.itertuples()}


def planted_decomposition(errors: dict[str, float], gaps: dict[str, float]) -> dict:
    """A one-component decomposition in the shape _one_decomposition_html reads, with the planted
    additivity error and transplant gap of each window in ``errors`` / ``gaps``."""
    e = {"value": 0.1, "low": 0.05, "high": 0.15, "n": 8}
    comp = {"name": "familiarity", "kind": "carry-over", "by_construction": False, "differs_in_pairs": 8, "shapley": e, "single": e}
    part = {"components": [comp], "interaction": e, "total": e}
    return {
        "method": "counterfactual state transplant",
        "pairs": 8,
        "donor": "keep-open",
        "recipient": "wind-down",
        "scenario": "leadership-change",
        "components": {"familiarity": ["familiarity"]},
        "descriptions": {"familiarity": "trust built in meetings"},
    } | {w: part | {"additivity_error": errors[w], "transplant_gap": gaps[w]} for w in errors}


def decomposition_paragraph(dec: dict) -> str:
    from sim.analysis.report import _one_decomposition_html

    return html.unescape(re.search(r"<p>(.*?)</p>", _one_decomposition_html(dec, None), re.S).group(1))


class TestDecompositionExactness:
    """The sentence on additivity and the full transplant follows the planted numbers, both windows.
    Kills: either 'exact' branch taken whatever the numbers (the old fixed wording), or removed."""

    def test_floating_point_errors_are_called_exact(self):
        text = decomposition_paragraph(planted_decomposition({"soon": 2e-16, "by_horizon": 0.0}, {"soon": 0.0, "by_horizon": 0.0}))
        assert (
            "Shapley contributions add up to the total exactly (largest per-pair error 2e-16 soon after the shift, "
            "0 by the horizon); a full transplant reproduces the donor (keep-open) run (mean gap 0 soon after the shift, "
            "0 by the horizon). One component" in text
        )
        assert "NOT" not in text and "not exact" not in text

    def test_errors_beyond_floating_point_are_not_called_exact(self):
        text = decomposition_paragraph(planted_decomposition({"soon": 0.25, "by_horizon": 0.0}, {"soon": 0.4, "by_horizon": 0.1}))
        assert (
            "Shapley contributions do NOT add up to the total: the largest per-pair error is 0.25 soon after the shift, "
            "0 by the horizon; a full transplant does NOT reproduce the donor (keep-open) run (mean gap 0.4 soon after the "
            "shift, 0.1 by the horizon): the decomposition is not exact. One component" in text
        )
        assert "exactly" not in text and "reproduces" not in text

    def test_each_clause_and_window_is_judged_on_its_own_numbers(self):
        """Additivity exact but the horizon's transplant off (by 1e-6, above the floating-point
        tolerance): only the transplant clause says NOT. Kills: the windows' numbers not both read."""
        text = decomposition_paragraph(planted_decomposition({"soon": 0.0, "by_horizon": 0.0}, {"soon": 0.0, "by_horizon": 1e-6}))
        assert "add up to the total exactly (largest per-pair error 0 soon after the shift, 0 by the horizon)" in text
        assert "does NOT reproduce the donor (keep-open) run (mean gap 0 soon after the shift, 1e-06 by the horizon): " in text
        text = decomposition_paragraph(planted_decomposition({"soon": 0.0, "by_horizon": 0.125}, {"soon": 0.0, "by_horizon": 0.0}))
        assert "do NOT add up to the total: the largest per-pair error is 0 soon after the shift, 0.12 by the horizon;" in text
        assert "a full transplant reproduces the donor (keep-open) run (mean gap 0 soon after the shift, 0 by the horizon): " in text

    def test_a_decomposition_with_one_window_shows_that_window(self):
        text = decomposition_paragraph(planted_decomposition({"soon": 0.5}, {"soon": 0.0}))
        assert "do NOT add up to the total: the largest per-pair error is 0.5 soon after the shift;" in text
        assert "by the horizon" not in text


# ---------------------------------------------------------------- the verdict follows the data


@pytest.fixture(scope="module")
def failing(tmp_path_factory) -> Path:
    """The kept-open arm reports nothing upward (gatekeeping 1.0); the reference channel is open
    throughout and ungated, so keeping the (gated) channel open does worse."""
    exp = small_experiment(
        name="gated-keep-open",
        # candid enough (script pressure 0.3) that the ungated channel agrees in most windows
        arms=[Arm("keep-open", params={"gatekeeping": 1.0, "script_pressure": 0.3}), Arm("open-ungated", params={"script_pressure": 0.3})],
        analysis=ANALYSIS | {"reference": "open-ungated"},
    )
    out = tmp_path_factory.mktemp("failing-sweep") / "results"
    run_sweep(exp, out, workers=1, progress=False)
    return out


def test_summary_says_the_claim_fails_when_the_treatment_does_worse(failing, tmp_path):
    runs = read_runs(failing)
    g = runs[runs["scenario"] == MAIN]
    iw = in_window(g)
    pt, pr = iw[g["arm"] == "keep-open"].mean(), iw[g["arm"] == "open-ungated"].mean()
    assert pt == 0 and pr > 0.3  # the data: the gated kept-open channel never agrees in the window
    page = build_report(failing, tmp_path / "report.html").read_text(encoding="utf-8")
    lines = summary_items(page)
    main = main_sentence(lines)
    assert f"from {pr:.0%} to {pt:.0%}" in main
    assert "claim holds" not in main and "positive" not in main
    # every pair is ≤ 0 and most are < 0: the interval must lie below zero, and the verdict say so
    assert "negative on this grid average: the kept-open channel did worse" in main
    for line in lines:
        if line.startswith("Over "):
            assert "It is positive at" not in line, line
    ans = json.loads((tmp_path / "answer.json").read_text())
    assert ans["verdict"][0].count("lowered the chance of agreement") == 1


def test_summary_placebo_and_one_sided_follow_the_data(results, runs):
    """Point the placebo at the scenario with a shift: agreements happen, so the check must fail."""
    res = Results.load(results)
    manifest = json.loads(json.dumps(res.manifest))
    manifest["experiment"]["analysis"] |= {"placebo": MAIN, "one_sided": PLACEBO}
    fake = Results(res.path, manifest, res.runs, res.ts)
    adequacy = stats.replication_adequacy(fake.with_window(), ["in_window", "agreement", "cost"])
    lines = summary(fake, effects_table(fake), [], adequacy, [])
    g = runs[(runs["scenario"] == MAIN) & (runs["arm"] == "keep-open")]
    k = int(g["agreement"].sum())
    assert k > 0
    placebo = [s for s in lines if s.startswith(f"Placebo ({MAIN}, no shift)")][0]
    assert f"reached agreement in {k} of {len(g)} runs" in placebo
    assert "the placebo check fails" in placebo
    o = runs[(runs["scenario"] == PLACEBO) & (runs["arm"] == "keep-open")]
    one = [s for s in lines if s.startswith(f"After a one-sided shift ({PLACEBO})")][0]
    assert f"reached agreement in {o['agreement'].mean():.0%} of runs while carrying {o['ideas_reported'].mean():.1f} ideas upward" in one
    assert "transfer fails without a serious counterpart" in one


def test_report_of_a_single_arm_experiment(results, tmp_path):
    """A results folder with one arm (no paired comparison possible) still gets a full report:
    the effects table is empty and the summary says nothing about a treatment effect."""
    one = tmp_path / "one-arm"
    shutil.copytree(results, one)
    for sub in ("runs", "timeseries"):
        t = pq.read_table(one / sub)
        for part in (one / sub).glob("*.parquet*"):  # parts and their checksum sidecars
            part.unlink()
        if sub == "runs":
            t = t.filter(pc.equal(t.column("arm"), "keep-open"))
            keep = set(t.column("run_id").to_pylist())
        else:
            t = t.filter(pc.is_in(t.column("run_id"), value_set=pa.array(sorted(keep), pa.int64())))
        pq.write_table(t, one / sub / "part-000000.parquet")
    m = json.loads((one / "manifest.json").read_text())
    m["experiment"]["arms"] = [a for a in m["experiment"]["arms"] if a["name"] == "keep-open"]
    m["experiment"]["analysis"] = {k: v for k, v in m["experiment"]["analysis"].items() if k not in ("reference", "treatment", "phase")}
    (one / "manifest.json").write_text(json.dumps(m))
    assert set(read_runs(one)["arm"]) == {"keep-open"}
    page = build_report(one, tmp_path / "one.html").read_text(encoding="utf-8")
    assert re.findall(r"<section id='([^']+)'>", page) == SECTIONS
    lines = summary_items(page)
    assert not any(s.startswith(f"In {MAIN}, keeping the channel open") for s in lines)
    assert any(s.startswith(f"Placebo ({PLACEBO}, no shift)") for s in lines)


# ---------------------------------------------------------------- sensitivity designs


def fake_design_results(tmp_path: Path, kind: str, X: np.ndarray, common_seeds: bool | str = False, second_order: bool = False) -> Results:
    """Results of a Sobol/Morris design: in replication r (of 4) the kept-open arm agrees in the
    window if 0.8·a + 0.2·b > (r + ½)/4, the reference arm if 0.5·a > (r + ½)/4 (the same
    threshold for replication r at every point: what common seeds give). With ``common_seeds =
    "base"`` the threshold is drawn (uniformly) per base sample (4 points, 6 with second order)
    and replication."""
    names, reps = ["a", "b"], 4
    block = 6 if second_order else 4
    drawn = np.random.default_rng(0).uniform(size=(len(X) // block + 1, reps))
    rows = []
    for p, (a, b) in enumerate(X):
        for arm in ("keep-open", "wind-down"):
            for r in range(reps):
                level = 0.8 * a + 0.2 * b if arm == "keep-open" else 0.5 * a
                agree = bool(level > (drawn[p // block, r] if common_seeds == "base" else (r + 0.5) / reps))
                rows.append(
                    {
                        "run_id": len(rows),
                        "scenario": MAIN,
                        "arm": arm,
                        "point": p,
                        "replication": r,
                        "a": a,
                        "b": b,
                        "status": "ok",
                        "agreement": agree,
                        "agreement_round": SHIFT + 3 if agree else np.nan,
                        "cost": 1.0,
                        "ideas_reported": 0.0,
                    }
                )
    manifest = {
        "experiment": {
            "name": kind,
            "scenarios": [MAIN],
            "arms": [{"name": "keep-open"}, {"name": "wind-down"}],
            "design": kind,
            "design_params": {"a": [0.0, 1.0], "b": [0.0, 1.0]},
            "second_order": second_order,
            "common_seeds": common_seeds,
            "replications": reps,
            "analysis": {"shift_round": SHIFT, "window": WINDOW, "main": MAIN, "treatment": "keep-open", "reference": "wind-down"},
        },
        "design_names": names,
        "horizons": {MAIN: HORIZON},
    }
    return Results(tmp_path, manifest, pd.DataFrame(rows), pd.DataFrame())


def _payoff(X: np.ndarray) -> np.ndarray:
    """Per design point: P(agreement in the window), kept-open minus reference (the paired payoff)."""
    q = (np.arange(4) + 0.5) / 4
    return np.array([np.mean(0.8 * a + 0.2 * b > q) - np.mean(0.5 * a > q) for a, b in X])


def _treatment(X: np.ndarray) -> np.ndarray:
    q = (np.arange(4) + 0.5) / 4
    return np.array([np.mean(0.8 * a + 0.2 * b > q) for a, b in X])


def test_sensitivity_with_a_morris_design(tmp_path):
    from SALib.sample import morris as morris_sample

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = morris_sample.sample(problem, 15, num_levels=4, seed=3)
    idx, paths, note = sensitivity(fake_design_results(tmp_path, "morris", X), tmp_path / "fig")
    direct = stats.morris_indices(problem, X, _payoff(X))
    pd.testing.assert_frame_equal(idx, direct)
    assert (idx["mu_star"] > 0).all()
    # the payoff, not the kept-open arm's own outcome
    own = stats.morris_indices(problem, X, _treatment(X))
    assert not np.allclose(idx["mu_star"], own["mu_star"])
    assert len(paths) == 1 and paths[0].is_file() and paths[0].with_suffix(".svg").is_file()
    assert note.startswith("Morris indices")


def test_sensitivity_with_a_sobol_design(tmp_path):
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sobol_sample.sample(problem, 64, calc_second_order=False, seed=3)
    idx, paths, note = sensitivity(fake_design_results(tmp_path, "sobol", X), tmp_path / "fig")
    assert set(idx["output"]) == {"payoff", "p_agree"}
    pay = idx[idx["output"] == "payoff"].set_index("parameter").loc[["a", "b"]].reset_index()
    direct = stats.sobol_indices(problem, _payoff(X))
    # SALib's uncorrected indices of the paired payoff sit beside the noise-corrected ones (sim.analysis.sensitivity)
    np.testing.assert_allclose(pay["ST_salib"], direct["ST"])
    np.testing.assert_allclose(pay["S1_salib"], direct["S1"])
    # here the replications are deterministic thresholds, whose spread exceeds the spread between
    # points: the noise-corrected indices are undefined (NaN) and the verdict says so
    assert pay["ST"].isna().all() and "NOT adequate" in note
    st = pay.set_index("parameter")["ST_salib"]
    assert st["a"] > st["b"]
    own = idx[idx["output"] == "p_agree"].set_index("parameter").loc[["a", "b"]]
    assert not np.allclose(pay["ST_salib"], own["ST_salib"])
    assert len(paths) == 3 and all(p.is_file() for p in paths)  # bars and one convergence figure per output
    assert note.startswith("Sobol indices") and "adequate" in note


def test_sensitivity_with_common_seeds_takes_the_replication_mean_as_it_is(tmp_path, monkeypatch):
    """With ``common_seeds`` the per-point mean is a deterministic function of the parameters: no
    noise is subtracted, the indices are SALib's plain estimators (the totals before their control
    variate, sim.analysis.sensitivity._total_control; within their CI after it), and the note says
    what they mean."""
    from SALib.sample import sobol as sobol_sample

    from sim.analysis import sensitivity as S

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sobol_sample.sample(problem, 64, calc_second_order=False, seed=3)
    salib = stats.sobol_indices(problem, _payoff(X))["ST"].to_numpy()
    with monkeypatch.context() as m:
        m.setattr(S, "_control_coefficient", lambda bt, bq: np.zeros(bt.shape[1]))
        plain = sensitivity(fake_design_results(tmp_path / "plain", "sobol", X, common_seeds=True), tmp_path / "plain-fig")[0]
    np.testing.assert_allclose(plain[plain["output"] == "payoff"].set_index("parameter").loc[["a", "b"], "ST"], salib)
    idx, paths, note = sensitivity(fake_design_results(tmp_path, "sobol", X, common_seeds=True), tmp_path / "fig")
    pay = idx[idx["output"] == "payoff"].set_index("parameter").loc[["a", "b"]]
    assert (abs(pay["ST"].to_numpy() - salib) <= pay["ST_conf"].to_numpy()).all()
    assert pay["ST"].notna().all() and pay.loc["a", "ST"] > pay.loc["b", "ST"]
    assert "mean over 4 common seeds" in note and "no noise subtracted" in note


def test_sensitivity_with_seeds_per_base_sample_estimates_the_mean_function(tmp_path):
    """With ``common_seeds = "base"`` the indices are those of the expected outcome (products across
    replications), not SALib's plain estimators of the replication mean, and the note says so."""
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sobol_sample.sample(problem, 256, calc_second_order=False, seed=3)
    idx, paths, note = sensitivity(fake_design_results(tmp_path, "sobol", X, common_seeds="base"), tmp_path / "fig")
    pay = idx[idx["output"] == "payoff"].set_index("parameter").loc[["a", "b"]]
    assert pay["ST"].notna().all() and pay.loc["a", "ST"] > pay.loc["b", "ST"]
    assert not np.allclose(pay["ST"], pay["ST_salib"])
    assert "indices of the expected outcome" in note and "the CIs include the seed term" in note


def test_sensitivity_with_a_second_order_design(tmp_path):
    """``second_order = true``: the first-order and total indices are the noise-corrected ones of
    any Sobol design (the B_A rows skipped), not SALib's on the point means, and the
    second-order indices follow in their own table. Kills: the second-order design sent to the
    plain SALib path (no output column, no pairs), or the B_A rows read as A_B rows."""
    from SALib.sample import sobol as sobol_sample

    from sim.analysis.report import _second_order_html

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sobol_sample.sample(problem, 256, calc_second_order=True, seed=3)
    res = fake_design_results(tmp_path, "sobol", X, common_seeds="base", second_order=True)
    idx, _, note = sensitivity(res, tmp_path / "fig")
    pairs = idx.attrs["second_order"]
    assert pairs["pair"].tolist() == ["a × b", "a × b"] and set(pairs["output"]) == {"payoff", "p_agree"}
    reps = S.replicates(res.runs, SHIFT, WINDOW, "keep-open", "wind-down")["payoff"]
    direct = S.sobol(problem, *S.mean_and_noise(reps), "payoff", common_seeds="base", reps=reps, second_order=True)
    pay = idx[idx["output"] == "payoff"].set_index("parameter").loc[["a", "b"]]
    np.testing.assert_allclose(pay["ST"], direct.indices.set_index("parameter").loc[["a", "b"], "ST"])
    assert pay.loc["a", "ST"] > pay.loc["b", "ST"] and "Sobol indices" in note
    assert "Second-order indices" in _second_order_html(idx) and _second_order_html(pd.DataFrame()) == ""


# ---------------------------------------------------------------- the commands


@pytest.fixture
def results_copy(results, tmp_path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(results, dst)
    return dst


def test_cli_plot(results_copy, capsys):
    """PNG by default (the SVGs roughly double the drawing time); --svg adds them."""
    out = results_copy / "figures"
    names = ["curves-trust", "diff-trust-keep-open-vs-wind-down", "survival"]
    assert main(["plot", str(results_copy), "--metric", "trust"]) == 0
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(names) and not list(out.glob("*.svg"))
    assert f"wrote {len(names)} figures (PNG)" in capsys.readouterr().out
    assert main(["plot", str(results_copy), "--metric", "trust", "--svg"]) == 0
    for n in names:
        for ext in ("png", "svg"):
            f = out / f"{n}.{ext}"
            assert f.is_file() and f.stat().st_size > 1000, f
    assert f"wrote {len(names)} figures (PNG and SVG)" in capsys.readouterr().out


def test_cli_plot_to_another_folder_by_parameter(results, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", str(results), "--metric", "cost", "--metric", "agreement", "--by", "turnover", "--out", str(out)]) == 0
    # by a parameter: outcome curves only (no arm differences), plus survival
    assert sorted(p.name for p in out.glob("*.png")) == ["curves-agreement.png", "curves-cost.png", "survival.png"]
    assert not (results / "figures").exists()


def test_cli_report(results_copy, capsys):
    assert main(["report", str(results_copy), "--no-cases"]) == 0
    page = results_copy / "report.html"
    assert page.is_file() and page.stat().st_size > 10_000
    assert f"wrote {page}" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert re.findall(r"<section id='([^']+)'>", text) == SECTIONS
    assert "Case studies not run" in text


def test_cli_report_to_a_file(results, tmp_path, capsys):
    target = tmp_path / "sub" / "r.html"
    target.parent.mkdir()
    assert main(["report", str(results), "--no-cases", "--out", str(target)]) == 0
    assert target.is_file() and (target.parent / "figures" / "survival.png").is_file()


def _bad_cases(results: Path, tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "empty").mkdir()
    (tmp / "manifest-only").mkdir()
    (tmp / "manifest-only" / "manifest.json").write_text("{}")
    return [
        (["plot", str(tmp / "empty")], "not a sweep results folder"),
        (["report", str(tmp / "empty"), "--no-cases"], "not a sweep results folder"),
        (["plot", str(tmp / "missing")], "not a sweep results folder"),
        (["report", str(tmp / "manifest-only"), "--no-cases"], "not a sweep results folder"),
        (["plot", str(results), "--metric", "bogus"], "bogus"),
        (["plot", str(results), "--metric", "position_gap"], "position_gap"),  # a metric, but not kept
        (["plot", str(results), "--by", "bogus"], "bogus"),
        (["report", str(results), "--no-cases", "--out", str(tmp)], "is a folder"),
        (["report", str(results), "--no-cases", "--workers", "0"], "--workers"),
    ]


@pytest.mark.parametrize("case", range(9))
def test_cli_bad_input_gives_exit_2_and_one_error_line(case, results, tmp_path, capsys):
    argv, words = _bad_cases(results, tmp_path)[case]
    before = sorted(p.relative_to(results) for p in results.rglob("*"))
    assert main(argv) == 2
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert len(err.splitlines()) == 1, cap.err
    assert err.startswith("dialogue-sim: error:")
    assert words in err
    assert "Traceback" not in cap.err and cap.out == ""
    assert sorted(p.relative_to(results) for p in results.rglob("*")) == before  # nothing written
    if "--metric" in argv:
        assert "allowed: agreement, trust, progress, cost" in err
    assert not (tmp_path / "empty" / "figures").exists()


# ---------------------------------------------------------------- layout and number formats


class TestLayout:
    def test_answer_first_then_a_table_of_contents(self, report):
        body = report.split("<body>", 1)[1]
        assert body.index("<section id='answer'>") < body.index("<nav class='toc'>") < body.index("<section id='effect'>")
        links = re.findall(r"<a href='#([^']+)'>", body)
        assert links == SECTIONS

    def test_no_scientific_notation_or_nan_in_the_tables(self, report):
        for sid, body in sections(report).items():
            for row in re.findall(r"<td>(.*?)</td>", body, flags=re.S):
                assert not re.search(r"\de[+-]\d", row) and "nan" not in row.lower(), (sid, row)

    def test_probabilities_are_percentages(self, report):
        outcomes = html_table(sections(report)["effect"].split("<h3>Paired effects</h3>")[0])
        for r in outcomes:
            assert re.fullmatch(r"\d+% \[\d+%, \d+%\]", r[f"P(agreement within {WINDOW} rounds of the shift)"])


class TestEffectSizeWords:
    def test_zero_spread_is_said_in_words(self):
        from sim.analysis.report import effect_size_words

        assert effect_size_words(np.nan).startswith("undefined")
        assert effect_size_words(0.4567) == "0.46"

    def test_constant_paired_differences_give_an_undefined_d_z(self):
        # every pair differs by 10.1, up to floating-point rounding (sd ~1e-15, not 0)
        x = np.linspace(0.1, 7.3, 8)
        r = pd.DataFrame(
            {
                "scenario": "s",
                "point": np.tile(np.arange(8), 2),
                "replication": 0,
                "arm": ["a"] * 8 + ["b"] * 8,
                "status": "ok",
                "cost": np.concatenate([x + 10.1, x]),
            }
        )
        assert 0 < (r["cost"][:8].to_numpy() - x).std() < 1e-12
        e = stats.paired_effect(r, "cost", "a", "b").iloc[0]
        assert e["mean_diff"] == pytest.approx(10.1)
        assert np.isnan(e["d_z"])
