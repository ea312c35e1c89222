"""Writing what a command produces: to a regular file or a folder, never over anything else.

An output path that exists and is not a regular file (a directory where a file is expected, a
device such as ``/dev/full``, a FIFO, a socket) is refused before any work is done and never
replaced: an atomic rename would otherwise swap a device node for a regular file. Write failures
(no space, read-only file system, a parent that is a file) become one
:class:`~liqrisk.errors.LiqriskUserError` naming the flag and the path.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from liqrisk.errors import LiqriskUserError


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a folder (``a/f/x`` with ``a/f`` a file)."""
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    return None if parent.is_dir() else parent


def _mode_of(path: Path, flag: str) -> int | None:
    """``path``'s ``st_mode``, None when absent; a user error when a parent is a file or it cannot be read."""
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise LiqriskUserError(f"{flag} {path}: {_file_in_the_way(path) or path.parent} is not a folder") from None
    except OSError as exc:
        raise LiqriskUserError(f"{flag} {path}: cannot use it ({_reason(exc)})") from None


def check_output_file(path: Path, flag: str) -> Path:
    """Refuse ``path`` unless it is absent or a regular file, and its nearest existing parent a folder."""
    mode = _mode_of(path, flag)
    if mode is not None and not stat.S_ISREG(mode):
        raise LiqriskUserError(f"{flag} {path}: is {_kind(mode)}, not a regular file; refusing to write over it")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise LiqriskUserError(f"{flag} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise LiqriskUserError(f"{flag} {path}: folder {parent} is not writable")
    return path


def check_output_dir(path: Path, flag: str) -> Path:
    """Refuse ``path`` unless it is absent or a folder (created, with parents, when absent)."""
    mode = _mode_of(path, flag)
    if mode is not None and not stat.S_ISDIR(mode):
        kind = "a file" if stat.S_ISREG(mode) else _kind(mode)
        raise LiqriskUserError(f"{flag} {path}: is {kind}, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LiqriskUserError(f"{flag} {path}: cannot create the folder ({_reason(exc)})") from None
    if not os.access(path, os.W_OK):
        raise LiqriskUserError(f"{flag} {path}: folder is not writable")
    return path


def write_output(path: Path, text: str, flag: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename) after :func:`check_output_file`."""
    from chain.files import write_atomic

    check_output_file(path, flag)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise LiqriskUserError(f"{flag} {path}: cannot write ({_reason(exc)})") from None
    return path


def guarded(flag: str, path: Path) -> "_Guard":
    """``with guarded("--png", path): chart(path)`` — checks first, turns OSError into one message."""
    return _Guard(flag, path)


class _Guard:
    def __init__(self, flag: str, path: Path) -> None:
        self.flag, self.path = flag, path

    def __enter__(self) -> Path:
        return check_output_file(self.path, self.flag)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> bool:
        if isinstance(exc, OSError):
            raise LiqriskUserError(f"{self.flag} {self.path}: cannot write ({_reason(exc)})") from None
        return False


__all__ = ["check_output_dir", "check_output_file", "guarded", "write_output"]
