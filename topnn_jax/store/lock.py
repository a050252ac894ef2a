"""One writer per store: an exclusive `flock` on `DIR/.lock`, held while a run writes the store
and released by the operating system when the process ends, however it ends."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from topnn_jax.atomic import raise_write_error
from topnn_jax.errors import InputError

LOCK_FILE = ".lock"


class StoreLock:
    """The store's lock, taken on creation (the directory is created if missing); release it
    with `release` or by leaving a `with` block (or by dropping the object).

    Raises:
        InputError: another process (or another `StoreLock` of this one) holds it.
    """

    def __init__(self, directory: Path) -> None:
        self._descriptor: int | None = None
        self.path = Path(directory) / LOCK_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise_write_error(error, self.path, 0)
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._descriptor, 32, 0).decode(errors="replace").strip()
            self.release()
            raise InputError(
                f"{directory} is in use by another topnn-jax run (pid {holder or 'unknown'}); "
                "wait for it to end, or choose another --out"
            ) from None
        except BaseException:
            self.release()
            raise
        os.ftruncate(self._descriptor, 0)
        os.pwrite(self._descriptor, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Let another run write the store (closing the file releases the lock)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
