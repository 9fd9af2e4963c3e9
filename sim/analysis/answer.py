"""The answer of an experiment: every estimand with its CI, the decomposition, where the effect
holds, and verdict sentences computed from those numbers alone (``answer.json``).

:func:`build_answer` computes the JSON-able dict from a runs table; :func:`verdict` writes the
sentences from that dict only; :func:`answer_html` renders the report's answer box from it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import estimands
from sim.core.outputs import atomic_write

DEFAULT_RATIONALES = {
    "effect_curve": "the effect at every round from the shift to the horizon shows when a payoff appears and whether it lasts",
    "soon": "a payoff soon after the shift is what the essay claims: the channel exists when the need becomes acute",
    "by_horizon": "whether agreements are gained or only moved earlier shows at the horizon",
    "rmst": "the restricted mean time to agreement combines earlier and more in one number of rounds",
    "earlier": "timing among pairs that both agree separates speed from reach",
    "more": "the share that ever agree separates reach from speed",
    "before_shift": "agreements before the shift are not a payoff of the shift and are counted apart",
    "decomposition": "what the kept-open channel carries into the shift, component by component, says why it pays or costs",
    "discovery": "a grid average hides where the effect holds and where it reverses",
}


_UNIFORM = ", i.e. a uniform distribution over the swept ranges (an assumption, not a prior anyone stated)"

#: What a pooled estimate averages over, by design kind: (the short name used in "on this … average",
#: the caveat's clause). Only a grid has levels; a sample's average is over a uniform distribution on
#: the swept ranges, and a Morris design's is over no stated distribution at all.
DESIGN_AVERAGE: dict[str, tuple[str, str]] = {
    "none": ("single-point", "the experiment's one parameter set (nothing is swept: only the replications are averaged)"),
    "grid": ("grid", "the experiment's design grid with every level weighted equally"),
    "lhs": (
        "sampled-design",
        "the experiment's Latin-hypercube sample" + _UNIFORM,
    ),
    "sobol": (
        "sampled-design",
        "the experiment's Sobol' sample" + _UNIFORM,
    ),
    "morris": (
        "Morris-design",
        "the points of the Morris trajectories, which are not a uniform sample of the ranges: the average weights no stated distribution",
    ),
    "table": ("design-table", "the rows of the experiment's design table, each weighted equally"),
}


def design_average(design: str) -> tuple[str, str]:
    """:data:`DESIGN_AVERAGE` for ``design`` (a :class:`~sim.batch.experiment.Design` value)."""
    return DESIGN_AVERAGE.get(design, (f"{design}-design", f"the experiment's {design} design, each point weighted equally"))


#: What answer.json answers (also how ``report`` knows an answer.json it may replace).
QUESTION = "Do channels kept open through the lean years pay off when conditions shift?"


def sign(e: Mapping[str, Any] | None) -> str:
    """'positive' / 'negative' where the 95% CI excludes zero, else 'null' (cannot be told from zero)."""
    if not e or e.get("low") is None or e.get("high") is None:
        return "unknown"
    if e["low"] > 0:
        return "positive"
    if e["high"] < 0:
        return "negative"
    return "null"


def fmt_signed(v: float | None, decimals: int = 2) -> str:
    """A signed difference with ``decimals`` decimals, or more where a nonzero value would otherwise
    print as ±0.00 (so a bound below zero never reads −0.00); "—" when not a number."""
    if v is None or not np.isfinite(v):
        return "—"
    if 1e-9 < abs(v) < 0.5 * 10**-decimals:
        decimals = min(6, int(np.ceil(-np.log10(abs(v)))))
        if round(abs(v), decimals) == 0:
            decimals += 1
    return f"{v:+.{decimals}f}"


def _ci(e: Mapping[str, Any], fmt: str = "+.2f") -> str:
    v = e.get("value")
    if v is None:
        return "n/a"
    f = fmt_signed if fmt == "+.2f" else (lambda x: f"{x:{fmt}}")  # noqa: E731
    if e.get("low") is None:
        return f(v)
    return f"{f(v)} (95% CI [{f(e['low'])}, {f(e['high'])}])"


def _neg(e: Mapping[str, Any]) -> dict[str, Any]:
    n = lambda v: None if v is None else -v  # noqa: E731
    return {"value": n(e.get("value")), "low": n(e.get("high")), "high": n(e.get("low"))}


def curve_shape(curve: Mapping[str, Any]) -> dict[str, Any]:
    """Where the simultaneous band lies above or below zero, and where the estimate changes sign
    (``last_sign_change_round``: the last round whose estimate has the opposite sign of the last
    non-zero estimate before it, rounds at exactly 0 passed over; None if it never changes)."""
    est = np.array([np.nan if v is None else v for v in curve["estimate"]], float)
    lo = np.array([np.nan if v is None else v for v in curve["simultaneous_low"]], float)
    hi = np.array([np.nan if v is None else v for v in curve["simultaneous_high"]], float)
    rounds = np.array(curve["round"])
    above = rounds[lo > 0].tolist()
    below = rounds[hi < 0].tolist()
    crossing = None
    last = 0.0  # the sign of the last non-zero estimate so far
    for r, v in zip(rounds, np.sign(np.where(np.abs(est) < 1e-12, 0, est)), strict=True):
        if v != 0 and last != 0 and v != last:
            crossing = int(r)
        last = v if v != 0 else last
    peak = int(rounds[np.nanargmax(est)]) if np.isfinite(est).any() else None
    trough = int(rounds[np.nanargmin(est)]) if np.isfinite(est).any() else None
    return {
        "rounds_above_zero": above,
        "rounds_below_zero": below,
        "last_sign_change_round": crossing,
        "peak": {"round": peak, "value": float(np.nanmax(est)) if peak is not None else None},
        "trough": {"round": trough, "value": float(np.nanmin(est)) if trough is not None else None},
        "crosses": bool(above and below),
    }


def _span(rounds: Sequence[int]) -> str:
    if not rounds:
        return "none"
    runs, start, prev = [], rounds[0], rounds[0]
    for r in list(rounds[1:]) + [None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        runs.append(f"{start}" if start == prev else f"{start}–{prev}")
        if r is not None:
            start = prev = r
    return ", ".join(runs)


def build_answer(
    runs: pd.DataFrame,
    *,
    name: str,
    fingerprint: str,
    arms: Sequence[str],
    scenarios: Sequence[str],
    horizons: Mapping[str, int],
    analysis: Mapping[str, Any],
    decompositions: Sequence[Mapping[str, Any]] = (),
    discovery: Mapping[str, Any] | None = None,
    phase: Sequence[Mapping[str, Any]] = (),
    versions: Mapping[str, Any] | None = None,
    design: str = "grid",
    decomposition_note: str = "",
    leaning: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Every estimand, the decompositions (one per declared recipient; the first is also
    ``decomposition``), discovery, phase cells, checks and the verdict; ``design`` (the
    experiment's design kind) says what the pooled estimates average over; ``decomposition_note``
    why a decomposition the experiment declares was not run (the verdict then says so);
    ``leaning`` the parameters held at a default that favours an arm (name, default, favours)."""
    a = dict(analysis)
    treatment = a.get("treatment", arms[0])
    reference = a.get("reference", arms[-1])
    main = a.get("main", scenarios[0])
    shift = int(a.get("shift_round", 0))
    soon = int(a.get("soon", a.get("window", 10)))
    declared = {k: v for k, v in (a.get("estimands") or {}).items()}
    conditions = list(a.get("conditions", []))
    rows = estimands.compute(runs, arms, scenarios, shift, horizons, treatment, reference, soon, conditions, main)
    for r in rows:
        r["shape"] = curve_shape(r["curve"])
    out: dict[str, Any] = {
        "experiment": name,
        "fingerprint": fingerprint,
        "versions": dict(versions or {}),
        "question": QUESTION,
        "design": {"kind": design, "averaged_over": design_average(design)[1]},
        "primary": {
            "estimand": a.get("primary", "effect_curve"),
            "scenario": main,
            "arm": treatment,
            "reference": reference,
            "shift_round": shift,
            "soon_rounds": soon,
            "horizon": int(horizons[main]),
        },
        "estimands_declared": {k: declared.get(k, DEFAULT_RATIONALES[k]) for k in estimands.ESTIMANDS},
        "conditions": conditions,
        "bootstrap": "paired bootstrap over pairs (same seed in both arms), 999 resamples; pointwise: percentile; "
        "simultaneous: max-|t| (sup-t) over rounds",
        "estimands": rows,
        "fair_restart": a.get("fair_restart"),
        "decomposition": decompositions[0] if decompositions else None,
        "decompositions": list(decompositions),
        "decomposition_missing": (decomposition_note or "it was not run") if a.get("decomposition") and not decompositions else None,
        "discovery": discovery,
        "phase": list(phase),
        "checks": _checks(runs, a, treatment, shift),
        "leaning": [dict(x) for x in leaning],
    }
    out["verdict"] = verdict(out)
    return out


def _checks(runs: pd.DataFrame, a: Mapping[str, Any], treatment: str, shift: int) -> dict[str, Any]:
    ok = runs[runs["status"] == "ok"]
    out: dict[str, Any] = {}
    for key in ("placebo", "one_sided"):
        if key in a:
            g = ok[(ok["scenario"] == a[key]) & (ok["arm"] == treatment)]
            out[key] = {"scenario": a[key], "runs": int(len(g)), "agreements": int(g["agreement"].astype(bool).sum())}
    out["failed_runs"] = int((runs["status"] != "ok").sum())
    return out


def _phrase(e: Mapping[str, Any], up: str, down: str, what: str) -> str:
    s = sign(e)
    if s == "positive":
        return f"{up} {what} by {_ci(e)}"
    if s == "negative":  # the verb carries the sign: the magnitude, as _neg prints it
        return f"{down} {what} by {_ci(_neg(e), '.2f')}"
    return f"made no difference to {what} that can be told from zero: {_ci(e)}"


def verdict(ans: Mapping[str, Any]) -> list[str]:
    """The verdict sentences, computed from the answer dict alone."""
    pr = ans["primary"]
    arm, ref, main = pr["arm"], pr["reference"], pr["scenario"]
    row = estimands.find(ans["estimands"], main, arm, ref)
    out: list[str] = []
    if row is None:
        return [f"No pairs of {arm} and {ref} in {main}: nothing to answer."]
    soon, hz = row["soon"], row["by_horizon"]
    out.append(
        f"Soon after the shift (agreement within {soon['k']} rounds, by round {soon['round']}), in {main}, {arm} rather than {ref} "
        + _phrase(soon, "raised", "lowered", "the chance of agreement")
        + f" ({soon['arm']:.0%} vs {soon['reference']:.0%}; {row['curve']['n_pairs']} pairs)."
    )
    out.append(
        f"By the horizon (round {hz['round']}), it "
        + _phrase(hz, "raised", "lowered", "the chance of agreement")
        + f" ({hz['arm']:.0%} vs {hz['reference']:.0%})."
    )
    sh = row["shape"]
    if sh["crosses"]:
        out.append(
            f"The effect curve crosses zero: its simultaneous 95% band lies above zero in rounds {_span(sh['rounds_above_zero'])} "
            f"and below zero in rounds {_span(sh['rounds_below_zero'])}, so "
            + (
                "the payoff comes first and reverses later."
                if min(sh["rounds_above_zero"]) < min(sh["rounds_below_zero"])
                else "the effect is negative first and turns positive later."
            )
        )
    elif sh["rounds_above_zero"]:
        out.append(
            f"The effect is positive (simultaneous 95% band above zero) in rounds {_span(sh['rounds_above_zero'])}; "
            "the band is nowhere below zero "
            "(a statement about all rounds at once; one round, such as the horizon, can still differ pointwise); "
            f"it peaks at {sh['peak']['value']:+.2f} in round {sh['peak']['round']}."
        )
    elif sh["rounds_below_zero"]:
        out.append(
            f"The effect is negative (simultaneous 95% band below zero) in rounds {_span(sh['rounds_below_zero'])}; "
            "the band is nowhere above zero "
            "(a statement about all rounds at once; one round, such as the horizon, can still differ pointwise); "
            f"it is lowest at {sh['trough']['value']:+.2f} in round {sh['trough']['round']}."
        )
    else:
        out.append("At no round from the shift to the horizon can the effect be told from zero (simultaneous 95% band).")
    ea, mo, rm = row["earlier"], row["more"], row["rmst"]
    se, sm = sign(ea), sign(mo)
    if se == "negative":
        timing = f"agreement comes earlier by {_ci(_neg(ea), '.1f')} rounds"
    elif se == "positive":
        timing = f"agreement comes later by {_ci(ea, '.1f')} rounds"
    elif se == "unknown":  # too few pairs in which both arms agree: no interval for the timing
        k = int(ea.get("pairs_both_agree") or 0)
        timing = (
            f"the timing cannot be compared (an interval needs {estimands.MIN_TIMED_PAIRS} such pairs)"
            if k
            else "the timing cannot be compared"
        )
    else:
        timing = f"the timing does not differ detectably ({_ci(ea, '+.1f')} rounds)"
    kind = {
        ("unknown", "positive"): "more (timing unknown)",
        ("unknown", "negative"): "fewer agreements (timing unknown)",
        ("unknown", "null"): "neither more nor fewer (timing unknown)",
        ("negative", "positive"): "earlier and more",
        ("negative", "null"): "earlier, not more",
        ("negative", "negative"): "earlier but fewer",
        ("null", "positive"): "more, not earlier",
        ("null", "negative"): "fewer agreements",
        ("positive", "negative"): "later and fewer",
        ("positive", "positive"): "more but later",
        ("positive", "null"): "later, not more",
    }.get((se, sm), "neither earlier nor more")
    out.append(
        f"Earlier vs more — {kind}: among the {ea['pairs_both_agree']} pairs in which both arms agree, {timing}; the share that ever "
        f"agree differs by {_ci(mo)}; the restricted mean time to agreement up to the horizon differs by {_ci(rm)} rounds"
        + {
            "positive": f", so {arm} takes longer on this measure.",
            "negative": f", so {arm} is quicker on this measure.",
        }.get(sign(rm), ", which cannot be told from zero.")
    )
    out += _construction(ans, row)
    out += _where(ans)
    for r in ans["estimands"]:
        if r["condition"] is not None:
            out.append(
                f"Under the condition '{r['condition']}' ({r['n_pairs']} pairs): soon {_ci(r['soon'])}, "
                f"by the horizon {_ci(r['by_horizon'])}."
            )
    out += _caveats(ans, row)
    return out


def _construction(ans: Mapping[str, Any], row: Mapping[str, Any]) -> list[str]:
    out = []
    pr = ans["primary"]
    fair = ans.get("fair_restart")
    if fair:
        pen = estimands.find(ans["estimands"], pr["scenario"], fair, pr["reference"])
        con = estimands.find(ans["estimands"], pr["scenario"], pr["arm"], fair)
        if pen and con:
            out.append(
                f"Split at the fair restart: the restart penalty imposed by construction ({fair} − {pr['reference']}: the same "
                f"gap with no set-up delay and no fresh personnel) is {_ci(pen['soon'])} soon and {_ci(pen['by_horizon'])} "
                f"by the horizon; the loss of contact itself ({pr['arm']} − {fair}) is {_ci(con['soon'])} soon and "
                f"{_ci(con['by_horizon'])} by the horizon."
            )
    from sim.analysis import decompose  # here: decompose imports this module

    if ans.get("decomposition_missing"):
        out.append(f"What carries it: the experiment declares a decomposition, but none is in this answer — {ans['decomposition_missing']}")

    for dec in ans.get("decompositions") or ([ans["decomposition"]] if ans.get("decomposition") else []):
        for key, when in (("soon", "soon after the shift"), ("by_horizon", "by the horizon")):
            part = dec[key]
            warning = decompose.not_exact(dec, key)
            comps = sorted(part["components"], key=lambda c: -abs(c["shapley"]["value"] or 0))
            sig = [c for c in comps if sign(c["shapley"]) in ("positive", "negative")]  # CIs that exclude 0
            named = "; ".join(f"{c['name']} {_ci(c['shapley'])}" for c in sig[:4]) or "no component's share can be told from zero"
            reopen = (
                f"set by the reopen event ({', '.join(dec['by_construction'])}; a lower bound on what the restart imposes, whose "
                f"resets of familiarity and positions count in their own components) {_ci(part['construction'])}"
                if dec["by_construction"]
                else f"net of the restart rules ({dec['recipient']}'s reopen sets no component)"
            )
            out.append(
                f"What carries it {when} ({dec['donor']} − {dec['recipient']}, state transplant at round {dec['at_round']}, "
                f"{dec['pairs']} pairs): {warning + ' — ' if warning else ''}total {_ci(part['total'])}, {reopen}, "
                f"carried state {_ci(part['carried'])}"
                + (
                    f" (carry-overs {_ci(part['carry_overs'])}, costs of staying open {_ci(part['costs'])})"
                    if "costs" in part and "carry_overs" in part
                    else ""
                )
                + f"; largest shares: {named}."
            )
    return out


def held_out_text(b: Mapping[str, Any]) -> str:
    h = b["held_out"]
    if h["pairs"] < 2:
        return f"held-out pairs in it: {h['pairs']}"
    return f"held-out effect {fmt_signed(h['value'])} [{fmt_signed(h['low'])}, {fmt_signed(h['high'])}]"


def _region(d: Mapping[str, Any], cls: str, verb: str) -> str:
    """The first confirmed PRIM box of ``cls`` as a clause; else why there is none."""
    bx = d["boxes"].get(cls) or []
    ok = [b for b in bx if b["held_out"]["confirmed"]]
    if ok:
        b = ok[0]
        again = "" if b.get("stability") is None else f", found again in {b['stability']:.0%} of resamples"
        return f"it {verb} where {b['rule']} (coverage {b['coverage']:.0%}, density {b['density']:.0%}; {held_out_text(b)}{again})"
    if bx:
        b = bx[0]
        return f"no region where it {verb} that the held-out half confirms (PRIM's box {b['rule']}: {held_out_text(b)})"
    return f"no region where it {verb} (of {d['counts'][cls]} {cls} points)"


def _where(ans: Mapping[str, Any]) -> list[str]:
    out = []
    disc = ans.get("discovery")
    if disc:
        for key, when in (("soon", "soon after the shift"), ("by_horizon", "by the horizon")):
            d = disc.get(key)
            if not d:
                continue
            parts = [_region(d, cls, verb) for cls, verb in (("positive", "holds"), ("negative", "reverses"))]
            out.append(
                f"Where ({when}; per-point effects beyond ±{d['margin']:g} on half the pairs, PRIM, each region tested on the "
                "other half): " + "; ".join(parts) + "."
            )
    for ph in ans.get("phase", []):
        pos = sum(1 for c in ph["cells"] if c["significant"] and c["mean_diff"] > 0)
        neg = sum(1 for c in ph["cells"] if c["significant"] and c["mean_diff"] < 0)
        inad = sum(1 for c in ph["cells"] if not c["adequate"])
        need, have, tol = ph.get("replications_needed"), ph.get("replications"), ph.get("tolerance")
        if need is not None and have:
            rule = (
                f" (a cell is decided when significant, precise when its CI half-width is at most ±{tol:g}; "
                f"the most demanding cell needs {need} replications per point to be decided or precise, the experiment has {have})"
            )
        else:
            rule = ""
        out.append(
            f"Over {ph['x']} × {ph['y']} ({ph['outcome']}), after {ph['correction']}: positive in {pos} of {len(ph['cells'])} cells, "
            f"negative in {neg}"
            + (
                f"; {inad} cell{'s' if inad != 1 else ''} need{'' if inad != 1 else 's'} more replications"
                if inad
                else "; every cell is decided or precise"
            )
            + rule
            + "."
        )
    return out


def _caveats(ans: Mapping[str, Any], row: Mapping[str, Any]) -> list[str]:
    out = []
    ch = ans.get("checks", {})
    if "placebo" in ch:
        p = ch["placebo"]
        out.append(
            f"Caveat — placebo ({p['scenario']}, no shift): {p['agreements']} of {p['runs']} kept-open runs reached agreement"
            + (
                " (it does not manufacture agreements; where the leaderships never become serious the agreement rule "
                "guarantees this: a consistency check, not evidence)."
                if p["agreements"] == 0
                else "; the placebo check fails."
            )
        )
    b = row["before_shift"]
    if b["arm"] or b["reference"]:
        out.append(
            f"Caveat — {b['arm']} {row['arm']} and {b['reference']} {row['reference']} runs agreed before the shift; the "
            f"{b['pairs_left_out']} pairs concerned are left out of the estimands above."
        )
    lean = ans.get("leaning") or []
    if lean:
        held = ", ".join(f"{x['name']} = {x['default']:g}" for x in lean)
        out.append(
            f"Caveat — held at defaults that no source sets and that favour a channel kept open over one closed and "
            f'reopened: {held}; docs/ODD.md §1 ("Defaults that lean toward keep-open") gives their measured effect '
            "(experiments/exposure-rule.toml sweeps the forgetting rules)."
        )
    over = (ans.get("design") or {}).get("averaged_over") or design_average("grid")[1]
    out.append(
        f"Caveat — the estimates average over {over}; the "
        "conditions and regions above say where they hold, and the model's carry-overs and costs are listed in docs/ODD.md."
    )
    return out


# ---------------------------------------------------------------- files and HTML


def write_answer(ans: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``answer.json`` atomically."""
    path = Path(path)
    atomic_write(path, json.dumps(ans, indent=1, default=_default, allow_nan=False).encode())
    return path


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def answer_html(ans: Mapping[str, Any], figure: str = "") -> str:
    """The report's answer box: the question, the Δ(t) figure (``figure``: an HTML fragment) and
    the verdict sentences, with the primary estimand's numbers, all from ``ans``."""
    pr = ans["primary"]
    row = estimands.find(ans["estimands"], pr["scenario"], pr["arm"], pr["reference"])
    items = "".join(f"<li>{html.escape(s)}</li>" for s in ans["verdict"])
    head = ""
    if row is not None:
        head = (
            "<table class='t'><tr><th>estimand</th><th>estimate (95% CI)</th></tr>"
            + "".join(
                f"<tr><td>{html.escape(lbl)}</td><td>{html.escape(_ci(row[k], fmt))}</td></tr>"
                for k, lbl, fmt in (
                    ("soon", f"Δ P(agreement within {row['soon']['k']} rounds of the shift)", "+.3f"),
                    ("by_horizon", f"Δ P(agreement by round {row['by_horizon']['round']})", "+.3f"),
                    ("rmst", f"Δ restricted mean rounds to agreement (τ = {row['rmst']['tau']})", "+.2f"),
                    ("earlier", "Δ rounds to agreement, pairs where both agree", "+.2f"),
                )
            )
            + "</table>"
        )
    return (
        "<section id='answer'><div class='box'><div><h2>Answer</h2>"
        f"<p><b>{html.escape(ans['question'])}</b> Primary estimand: the effect curve Δ(t) of "
        f"{html.escape(pr['arm'])} − {html.escape(pr['reference'])} in {html.escape(pr['scenario'])}, rounds {pr['shift_round']}–"
        f"{pr['horizon']} (experiment fingerprint <code>{html.escape(str(ans['fingerprint']))}</code>; every number from "
        f"answer.json).</p><ul>{items}</ul>{head}</div>{figure}</div></section>"
    )
