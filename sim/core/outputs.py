"""Safe output: every file and folder is written under a temporary name beside its target and
renamed into place; a folder is replaced only if it is new, empty or an earlier output of the
same kind (marked with :data:`MARKER`, which lists the files the program wrote), and only the
files it lists are ever removed. Output folders are never the current folder, one of its
parents, the home folder or a root.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sim.core.setup import InputError

#: The file that marks a folder as written by dialogue-sim (JSON: what kind, which files).
MARKER = ".dialogue-sim"


def check_out_dir(target: Path, flag: str = "--out") -> None:
    """An output folder must be a folder (or not exist yet) whose parent can be made, and never
    the current folder, one of its ancestors, the home folder or a filesystem root."""
    if target.exists() and not target.is_dir():
        raise InputError(flag, "out", str(target), "is an existing file; allowed: a folder path")
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve() or resolved.parent == resolved:
        raise InputError(
            flag, "out", str(target), "is the current folder, one of its parents, the home folder or a root; allowed: a new folder"
        )
    for parent in resolved.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(flag, "out", str(target), f"{parent} is a file; allowed: a folder path")
            if not os.access(parent, os.W_OK | os.X_OK):  # before the work, not after it (by the rules of access(2))
                raise InputError(flag, "out", str(target), f"{parent} cannot be written; allowed: a folder you can write in")
            break


def marked_files(folder: Path, kind: str) -> list[str] | None:
    """The files dialogue-sim wrote in ``folder`` if it is marked as ``kind`` output, else None."""
    try:
        m = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or m.get("kind") != kind or not isinstance(m.get("files"), list):
        return None
    return [f for f in m["files"] if isinstance(f, str) and f and "/" not in f and f not in (".", "..")]


def check_replaceable(target: Path, kind: str, flag: str = "--out") -> None:
    """``target`` may be written: it does not exist, is empty, or holds only the files of an
    earlier ``kind`` output of dialogue-sim (its marker lists them)."""
    check_out_dir(target, flag)
    if not target.is_dir() or not any(target.iterdir()):
        return
    files = marked_files(target, kind)
    if files is None:
        raise InputError(
            flag, "out", str(target), f"holds files dialogue-sim did not write; allowed: a new folder or an earlier {kind} folder"
        )
    extra = sorted(p.name for p in target.iterdir() if p.name not in {*files, MARKER})
    if extra:
        raise InputError(
            flag, "out", str(target), f"holds files dialogue-sim did not write ({', '.join(extra[:3])}); allowed: a new folder"
        )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_dir(target: Path, kind: str = "run", flag: str = "--out", keep: bool = False):
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    ``target`` must be new, empty, or an earlier ``kind`` output (marked with :data:`MARKER`);
    only the files the marker lists are removed from it. With ``keep``, the earlier output's
    files that the new one does not write again are carried into it (hard links, else copies)
    and listed in its marker: a figures folder keeps the report's figures that ``plot`` does not
    redraw. Permissions follow the umask."""
    check_replaceable(target, kind, flag)
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old: Path | None = None
    try:
        tmp.chmod(0o777 & ~_umask())
        yield tmp
        if target.exists():
            check_replaceable(target, kind, flag)  # still ours (nothing was added meanwhile)
            for name in (marked_files(target, kind) or []) if keep else []:
                src, dst = target / name, tmp / name
                if src.is_file() and not src.is_symlink() and not dst.exists():
                    try:
                        os.link(src, dst)
                    except OSError:
                        shutil.copy2(src, dst)
        files = sorted(p.name for p in tmp.iterdir())
        _write_text(tmp / MARKER, json.dumps({"kind": kind, "files": files}))
        fsync(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old)  # rename over the empty folder just made
        os.replace(tmp, target)
        fsync(target.parent)
    finally:
        if tmp.exists():
            _remove_ours(tmp, None)
        if old is not None:
            _remove_ours(old, kind)


def _remove_ours(folder: Path, kind: str | None) -> None:
    """Remove a folder this program made: ``kind`` None for a temporary folder (all of it),
    else only the files its marker lists (anything else is left where it is)."""
    if kind is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for name in [*(marked_files(folder, kind) or []), MARKER]:
        p = folder / name
        if p.is_file() or p.is_symlink():
            p.unlink(missing_ok=True)
    with suppress(OSError):
        folder.rmdir()


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def mark_folder(folder: Path, kind: str) -> None:
    """Mark ``folder`` as ``kind`` output listing the files it holds now (for a folder the
    program wrote into directly, after :func:`check_replaceable` allowed it)."""
    files = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    atomic_write(folder / MARKER, json.dumps({"kind": kind, "files": files}).encode())


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary file path beside ``target``; on success it is fsynced and renamed over
    ``target``, on failure removed."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fsync(tmp)
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (after a rename into it), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: The manifest's fields the readers rely on, with the type each must have (checked by
#: :func:`read_manifest`, so a damaged manifest is a one-line error, not a traceback).
MANIFEST_SHAPE: dict[str, type | tuple[type, ...]] = {
    "experiment": dict,
    "experiment.name": str,
    "experiment.scenarios": list,
    "experiment.arms": list,
    "experiment.analysis": dict,
    "experiment.timeseries": list,
    "design_names": list,
    "fingerprint": str,
}


def read_manifest(path: Path) -> dict[str, Any]:
    """A results folder's manifest.json, its shape checked (:data:`MANIFEST_SHAPE`; every arm a
    table with a name): :class:`InputError` naming the file and the field otherwise."""
    allowed = "allowed: a manifest.json written by 'sweep'"
    try:
        m = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(str(path), "manifest", type(e).__name__, f"unreadable; {allowed}") from None
    if not isinstance(m, dict):
        raise InputError(str(path), "manifest", type(m).__name__, f"not a table; {allowed}")
    for key, kind in MANIFEST_SHAPE.items():
        top, _, sub = key.partition(".")
        v = m.get(top) if not sub else m["experiment"].get(sub, {} if kind is dict else None)
        if not isinstance(v, kind):
            raise InputError(str(path), key, v if isinstance(v, (int, float, str)) else type(v).__name__, f"the wrong type; {allowed}")
    arms = m["experiment"]["arms"]
    if not arms or not all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in arms):
        raise InputError(str(path), "experiment.arms", "…", f"every arm a table with a name; {allowed}")
    return m
