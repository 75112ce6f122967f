"""Reading and writing an app's policy file on the host (the hub's /data volume).

Writes are validated first, then made atomic (temporary file + rename) under an exclusive
lock, so concurrent commands never lose each other's changes and a crash mid-write leaves
the previous file intact.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dokku_jupyterhub.hub import policy
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root

FILENAME = "policy.json"


def policy_path(app: str) -> Path:
    return data_root(app) / FILENAME


def host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def host_cpus() -> int:
    return os.cpu_count() or 1


def read(app: str) -> dict[str, Any]:
    """The app's policy; defaults when there is no file yet."""
    path = policy_path(app)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return policy.empty()
    try:
        return policy.loads(text)
    except policy.PolicyError as exc:
        raise DokkuError(f"{path} is invalid: {exc}") from None


@contextmanager
def update(app: str) -> Iterator[dict[str, Any]]:
    """Yield the current policy for changing in place; validate and write it on success."""
    path = policy_path(app)
    if not path.parent.is_dir():
        raise DokkuError(f"{app} has no data directory at {path.parent}: is it a hub app?")
    with open(path.parent / ".policy.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = read(app)
        yield doc
        try:
            text = policy.dumps(policy.validate(doc, host_memory(), host_cpus()))
        except policy.PolicyError as exc:
            raise DokkuError(str(exc)) from None
        write_text_atomic(path, text, mode=0o644)


def write_text_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
