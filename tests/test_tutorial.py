"""docs/tutorial.ipynb runs from top to bottom on a small size, in this environment's Python."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_tutorial_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("TUTORIAL_REPLICATIONS", "2")
    monkeypatch.setenv("TUTORIAL_OUT", str(tmp_path))
    nb = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "32 runs" in text and "32 runs, 0 failed" in text
    assert (tmp_path / "results" / "report.html").is_file()
    assert (tmp_path / "results" / "figures" / "phase-turnover-handover.png").is_file()
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the figures were drawn inline
