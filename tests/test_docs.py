"""The docs stay true to the code: the ODD's parameter table is the spec's, and the Python
examples in the README and in docstrings run."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import sim
from sim.core.params import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_odd_parameter_table_is_the_spec():
    odd = (ROOT / "docs" / "ODD.md").read_text()
    assert markdown_table() in odd, "docs/ODD.md: paste the output of `python -m sim params --markdown`"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    for code in blocks:
        ns: dict = {}
        exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["rows"] and "agreement" in ns["rows"][0]


def test_package_docstring_examples_run():
    failures, tried = doctest.testmod(sim, verbose=False)
    assert tried > 0 and failures == 0
