"""Measured: how the headline answer depends on how a meeting side forgets hollow exposure and
familiarity (``experiments/exposure-rule.toml``), and the numbers the docs quote from it.

Not part of the test suite (about 15 s on two cores). Run from the project root:

    .venv/bin/python benchmarks/bench_exposure_rule.py --out /tmp/exposure-rule
    .venv/bin/python docs/update_numbers.py        # rewrite the quoted passages

It sweeps and reports the experiment with the installed ``dialogue-sim`` (into ``--out``, a
folder it creates and which must not exist), and writes to ``docs/numbers/exposure-rule.json``
the experiment's fingerprint and model-code hash (``tests/test_docs.py`` fails when either no
longer matches the experiment file and the model, so the quoted numbers cannot outlive the model
they were measured on), the pooled and per-condition effects soon after the shift and by the
horizon, the exposure_meeting_decay × candor_wear phase cells, and the report's "Where" sentences.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = ROOT / "docs" / "numbers" / "exposure-rule.json"
EXPERIMENT = ROOT / "experiments" / "exposure-rule.toml"


def _est(e: dict) -> dict:
    return {k: e[k] for k in ("value", "low", "high", "arm", "reference")}


def trim(ans: dict, wall_s: float) -> dict:
    """What the docs quote, from an answer.json."""
    rows = [r for r in ans["estimands"] if r["arm"] == ans["primary"]["arm"] and r["reference"] == ans["primary"]["reference"]]
    phase = ans["phase"][0]
    return {
        "experiment": ans["experiment"],
        "fingerprint": ans["fingerprint"],
        "model_code": ans["versions"]["model_code"],
        "arm": ans["primary"]["arm"],
        "reference": ans["primary"]["reference"],
        "effects": [
            {"condition": r["condition"] or "pooled", "n_pairs": r["n_pairs"], "soon": _est(r["soon"]), "by_horizon": _est(r["by_horizon"])}
            for r in rows
        ],
        "phase": {
            "x": phase["x"],
            "y": phase["y"],
            "cells": [{k: c[k] for k in (phase["x"], phase["y"], "mean_diff", "ci_low", "ci_high", "significant")} for c in phase["cells"]],
        },
        "where": [s for s in ans["verdict"] if s.startswith("Where (")],
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "wall_s": round(wall_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="results folder to create (must not exist)")
    ap.add_argument("--numbers", type=Path, default=NUMBERS, help=f"where to write the summary (default {NUMBERS})")
    a = ap.parse_args(argv)
    exe = Path(sys.executable).with_name("dialogue-sim")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "sweep", str(EXPERIMENT), "--out", str(a.out)], check=True)
    subprocess.run([str(exe), "report", str(a.out)], check=True)
    ans = json.loads((a.out / "answer.json").read_text())
    a.numbers.write_text(json.dumps(trim(ans, time.perf_counter() - t0), indent=1) + "\n")
    print(f"wrote {a.numbers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
