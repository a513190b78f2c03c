"""The data directory's lock: one engine per data directory, since two would run the same jobs on one database.

The lock is an advisory `flock` on `<data-dir>/jobnode.lock`, which the OS releases when the process ends however
it ends (even SIGKILL), so a crash never leaves a stale lock behind. The file holds the holder's pid, for the error.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from jobnode.core.errors import ConfigurationError

LOCK_FILE = "jobnode.lock"


class DataDirLock:
    """Holds the lock of a data directory until `release` (or the process's end).

    Example:
        ```python
        lock = DataDirLock(Path(".jobnode"))   # ConfigurationError if another service holds it
        ...
        lock.release()
        ```
    """

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigurationError(
                f"another jobnode service (pid {holder}) is using the data directory {data_dir}; stop it, or give "
                "this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
