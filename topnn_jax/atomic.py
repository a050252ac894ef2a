"""Atomic file writes: write to a temporary file in the same folder, then `os.replace`.

A reader never sees a half-written file, and an interrupted run leaves the old file (or none)
and at most a temporary `.NAME.XXXXXXXX` beside it, which `remove_temp_files` clears. Files are
created with mode 0666 less the umask, as `open` creates them. A full disk or a folder that
cannot be written is an `InputError` naming the path (`raise_write_error`).
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, NoReturn

import numpy as np

from topnn_jax.errors import InputError

_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}$")
"""A temporary file of `atomic_write` (or of its first version, `tempfile`'s names)."""
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR)


class _CountingWriter(io.BufferedWriter):
    """A binary file that counts the bytes written to it (what a full disk was asked for)."""

    written = 0

    def write(self, data) -> int:
        self.written += memoryview(data).nbytes
        return super().write(data)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(handle)` on a temporary binary file, then move it to `path` in one step
    (fsynced, and its folder too). On any failure the temporary file is removed.

    Raises:
        InputError: the disk is full, or the folder cannot be written (`raise_write_error`).
    """
    path = Path(path)
    temp, handle = None, None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp, descriptor = _create_temp(path)
        handle = _CountingWriter(io.FileIO(descriptor, "wb"))
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        temp = None
        fsync_directory(path.parent)
    except OSError as error:
        raise_write_error(error, path, handle.written if handle else 0)
    finally:
        if temp is not None:  # failed: closing flushed what it could, then closed the file
            temp.unlink(missing_ok=True)
    return path


def _create_temp(path: Path) -> tuple[Path, int]:
    """A new `.NAME.XXXXXXXX` beside `path`, opened for writing (mode 0666 less the umask)."""
    while True:
        temp = path.parent / f".{path.name}.{secrets.token_hex(4)}"
        try:
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (where the file system allows)."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(descriptor)


def raise_write_error(error: OSError, path: Path, size: int) -> NoReturn:
    """Raise what a failed write of `size` bytes at `path` means: a one-line `InputError` for a
    full disk or a folder that cannot be written, else `error` itself."""
    if error.errno in _DISK_FULL:
        raise InputError(f"disk full: {size} bytes needed at {path}") from None
    if error.errno in _NOT_WRITABLE:
        raise InputError(f"cannot write {path}: {error.strerror.lower()}") from None
    raise error


def remove_temp_files(directory: Path) -> list[Path]:
    """Remove temporary files that interrupted atomic writes left in `directory` (not in its
    subfolders); returns them. Only for a folder no other process writes now."""
    if not directory.is_dir():
        return []
    stale = [p for p in directory.iterdir() if _TEMP_NAME.match(p.name) and p.is_file()]
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale


def check_output_dir(directory: str | Path, what: str = "--out") -> Path:
    """`directory` if it can hold output (an existing folder this process may write, or one
    that can be created); else `InputError` naming it and what is wrong. Nothing is created."""
    directory = Path(directory)
    existing = directory
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise InputError(f"{what} {directory}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        if existing == directory:
            raise InputError(f"{what} {directory} is a file, not a directory")
        raise InputError(f"{what} {directory}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(existing) else "not writable"
        if existing == directory:
            raise InputError(f"{what} {directory} is {reason}: choose another --out")
        raise InputError(f"{what} {directory} cannot be created: {existing} is {reason}")
    return directory


def _read_only(directory: Path) -> bool:
    """The folder is on a file system mounted read-only."""
    return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text to `path` atomically."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_save_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Save arrays to an uncompressed .npz at `path` atomically."""
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))
