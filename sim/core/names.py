"""Names that become file names: scenario, experiment and arm names.

A name is checked once, when its file is read (:func:`check_name`), so it can never make a
path that leaves the output folder; :func:`safe_filename` is the second line of defence where
a label is joined into a file name.
"""

from __future__ import annotations

import re

from sim.core.setup import InputError

#: Letters, digits and ``_ . + -``, starting with a letter or digit, at most 64 characters.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
NAME_RULE = "allowed: 1-64 letters, digits, '_', '.', '+' or '-', starting with a letter or digit, no '..'"


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None and ".." not in name


def check_name(source: str, field: str, name: object) -> str:
    """``name`` if it is safe as a file name; otherwise an :class:`InputError`."""
    if not is_safe_name(name):
        raise InputError(source, field, name, NAME_RULE)
    return name  # type: ignore[return-value]


def safe_filename(label: str) -> str:
    """A file-name-safe version of any label: unsafe characters become ``_``, no leading dot,
    at most 120 characters."""
    text = re.sub(r"[^A-Za-z0-9_.+-]", "_", str(label)).replace("..", "_")
    text = text.lstrip(".") or "_"
    return text[:120]
