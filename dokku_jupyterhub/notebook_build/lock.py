"""One notebook build per app at a time: an flock on `<plugin data>/locks/<app>.lock`.

A second trigger (two deploys in a row, a `ps:restart` during a push, `rebuild-image` by hand)
waits for the first and then decides again: by then the image usually holds its context and
nothing is built twice. The kernel drops the lock when a process dies, so no stale lock can
block later deploys.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import plugin_data_dir


def lock_path(app: str) -> Path:
    return plugin_data_dir() / "locks" / f"{app}.lock"


@contextmanager
def app_lock(app: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the app's build lock; call `on_wait` once if another process holds it first."""
    path = lock_path(app)
    try:
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        # Read-only is enough for flock, and works on a lock file another user created.
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DokkuError(f"cannot open the build lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
