"""Writing results: every output file is written atomically (old content or new, never half, no temp file left);
JSON-safe values."""
from __future__ import annotations

import contextlib
import errno
import glob
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from planner.errors import OutputError


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `path` so that it holds the old content or the new one, never part of it, and no temp file is left.

    The data goes into an unnamed file in the target's folder (Linux O_TMPFILE, so a SIGKILL mid-write leaves
    nothing), which is then linked under a temporary name and renamed over the target; SIGINT/SIGTERM are
    held back until the rename is done. Where unnamed files cannot be linked, a named temp file `.NAME.PID-*.tmp` is
    used: removed on any exception (SIGINT included), and, if a SIGKILL left one, by the next write of NAME.
    An unwritable target is an OutputError naming the file.
    """
    path = Path(path)
    payload = data if isinstance(data, bytes) else data.encode("utf-8")
    try:
        _make_folder(path)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        _remove_stale_temps(path)
        fd, tmp = None, None
        try:
            with _signals_blocked():  # an interrupt waits until the rename is done (or undone below)
                fd, tmp = _write_temp(path, payload)
                if tmp is None:
                    tmp = _temp_name(path)
                    os.link(f"/proc/self/fd/{fd}", tmp)
                os.replace(tmp, path)
                tmp = None
        finally:
            if fd is not None:
                os.close(fd)
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _make_folder(path: Path) -> None:
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{path}: cannot write: {parent} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)


def _temp_name(path: Path) -> Path:
    return path.parent / f".{path.name[:180]}.{os.getpid()}-{os.urandom(4).hex()}.tmp"


_LINKABLE: dict[str, bool] = {}
"""Whether unnamed files can be linked on this system (some sandboxes refuse /proc/self/fd links)."""


def _write_temp(path: Path, payload: bytes) -> tuple[int, Path | None]:
    """The payload in an unnamed file (and None) or, where that cannot be linked later, in a named temp file."""
    mode = 0o666 & ~_umask()
    if getattr(os, "O_TMPFILE", 0) and _LINKABLE.get("ok", True):
        try:
            fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, mode)
        except OSError:
            _LINKABLE["ok"] = False
        else:
            try:
                _write_all(fd, payload)
                probe = _temp_name(path)
                os.link(f"/proc/self/fd/{fd}", probe)  # the one way to learn whether linking works here
                probe.unlink()
                return fd, None
            except OSError:
                os.close(fd)
                _LINKABLE["ok"] = False
    tmp = _temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _write_all(fd, payload)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return fd, tmp


def _remove_stale_temps(path: Path) -> None:
    """Temp files of `path` whose writer process is gone (killed mid-write) are removed."""
    for tmp in path.parent.glob(f".{glob.escape(path.name[:180])}.*-*.tmp"):
        pid = tmp.name[len(path.name[:180]) + 2:].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT/SIGTERM held back (delivered on exit) so an interrupt cannot fall between two steps that must pair."""
    mask = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def jsonable(value: Any) -> Any:
    """NaN/inf become null and numpy scalars Python numbers, recursively (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
