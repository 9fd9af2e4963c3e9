"""Outputs built beside their target and moved into place at the end: a file with companion
files and a marked folder beside it (a report, its answer.json and its figures). Interrupted or
failed, nothing of the new output is left, and an earlier one is there exactly as it was: never
a mix of its files and the new ones. Signals (Ctrl-C, SIGTERM) are held during the moves and
acted on after them; if one came, the moves are undone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.core.outputs import MARKER, atomic_write, marked_files
from sim.core.setup import InputError
from sim.core.signals import signals_held


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (same folder tree, so atomic; replaces a file at ``dst``)."""
    os.replace(src, dst)


def _swap_in(
    stage: Path, target: Path, held: list[int], companions: Sequence[Path], folder: str | None, check: Callable[[Path], None]
) -> None:
    """Move an output built at ``stage / target.name`` (with its ``companions`` and the marked
    ``folder``) into place beside ``target``: the folder's files one by one (the folder whole if
    there was none, with its marker), then the companions, then ``target``. Each file replaced is
    first moved into ``stage / "old"``. If anything fails, or a signal was held meanwhile, every
    move is undone in reverse: the earlier output's files are back where they were, unchanged."""
    check(target)  # still replaceable (nothing was put in the earlier output's place meanwhile)
    old = stage / "old"
    old.mkdir()
    steps: list[tuple[Path, Path, Path]] = []  # (new file, where it goes, where the one it replaces is kept)
    if folder is not None and (new_dir := stage / folder).is_dir():
        here = target.parent / folder
        names = sorted(p.name for p in new_dir.iterdir() if p.name != MARKER)
        if here.is_dir():  # an earlier folder keeps the files this output does not write again
            (old / folder).mkdir()
            listed = set(marked_files(here, folder) or [])
            atomic_write(new_dir / MARKER, json.dumps({"kind": folder, "files": sorted(listed | set(names))}).encode())
            steps += [(new_dir / n, here / n, old / folder / n) for n in [*names, MARKER]]
        else:
            atomic_write(new_dir / MARKER, json.dumps({"kind": folder, "files": names}).encode())
            steps.append((new_dir, here, old / f"{folder}.new"))
    steps += [(stage / c.name, c, old / c.name) for c in companions]
    steps.append((stage / target.name, target, old / target.name))
    done: list[tuple[Path, Path, Path, bool]] = []  # (new, where, kept, whether the new one is in place)
    try:
        for src, dst, keep in steps:
            if not src.exists():
                continue
            if dst.is_dir() and not src.is_dir():
                raise InputError("--out", "out", str(dst), "is a folder dialogue-sim did not write; allowed: a new path")
            if dst.exists():
                _move(dst, keep)
            done.append((src, dst, keep, False))
            _move(src, dst)
            done[-1] = (src, dst, keep, True)
        if held:  # Ctrl-C or SIGTERM during the moves: undone like any interruption before them
            raise KeyboardInterrupt
    except BaseException:
        for src, dst, keep, placed in reversed(done):
            with contextlib.suppress(OSError):  # one that fails stays in stage / "old", which is then kept
                if placed:
                    _move(dst, src)
                if keep.exists() or keep.is_symlink():
                    _move(keep, dst)
        raise


def staged(
    target: Path,
    build: Callable[[Path], object],
    *,
    companions: Sequence[Path] = (),
    folder: str | None = None,
    check: Callable[[Path], None] = lambda _t: None,
) -> Path:
    """Run ``build`` (which writes an output at the path it is given, with the files named like
    ``companions`` and the ``folder`` beside it) in a temporary folder beside ``target``, then move
    the files into place (:func:`_swap_in`, after ``check(target)``: the files to be replaced are
    still the program's). Interrupted or failed, nothing of the new output is left: the earlier
    one, if any, is there as it was, else nothing the command added (nor the folders it made for
    ``target``)."""
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]  # the folders this output makes
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    held: list[int] = []
    try:
        build(stage / target.name)
        with signals_held(held):
            _swap_in(stage, target, held, companions, folder, check)
    except BaseException:
        with signals_held(held):  # a second Ctrl-C does not cut the clean-up short
            if not any(p.is_file() or p.is_symlink() for p in (stage / "old").rglob("*")):  # every replaced file is back
                shutil.rmtree(stage, ignore_errors=True)
            for p in made:  # innermost first; only if still empty
                with contextlib.suppress(OSError):
                    p.rmdir()
        if getattr(signal, "SIGTERM", None) in held:
            signal.raise_signal(signal.SIGTERM)  # as it would have ended the command, now that nothing is half done
        raise
    with signals_held(held):
        shutil.rmtree(stage, ignore_errors=True)  # what remains: the earlier output's replaced files (its own)
    if getattr(signal, "SIGTERM", None) in held:
        signal.raise_signal(signal.SIGTERM)
    return target  # a Ctrl-C during this last clean-up came after the output was complete: it stands
