"""Reading and writing an app's policy file on the host (the hub's /data volume).

Writes are validated first, then made atomic (temporary file + rename) under an exclusive
lock, so concurrent commands never lose each other's changes and a crash mid-write leaves
the previous file intact. A change that leaves the policy as it was writes nothing (the file
keeps its bytes and mtime), so repeating a command is harmless.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.hub_runtime.contract import POLICY_FILE
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root

LOCKNAME = ".policy.lock"

T = TypeVar("T")


def policy_path(app: str) -> Path:
    return data_root(app) / POLICY_FILE


def host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def host_cpus() -> int:
    return os.cpu_count() or 1


def read(app: str) -> dict[str, Any]:
    """The app's policy; defaults when there is no file yet."""
    path = policy_path(app)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return policy.empty()
    except OSError as exc:
        raise DokkuError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return policy.loads(text)
    except policy.PolicyError as exc:
        raise DokkuError(
            f"{path} is invalid: {exc}; fix or restore it (nothing was changed)"
        ) from None


def change(
    app: str, op: Callable[[dict[str, Any]], T], before_write: Callable[[T], None] | None = None
) -> T:
    """Apply `op` (a pure function returning an object with a `.doc`, such as
    `policy_ops.PolicyChange`) to the current policy under the lock; write the new doc when
    it differs. Returns what `op` returned. `before_write(result)` runs under the lock just
    before the write (an effect the change depends on, such as a group's folder). An
    exception from either (PolicyError for bad input) writes nothing."""
    with _policy_lock(app) as path:
        before = read(app)
        result = op(policy.copy_of(before))
        if before_write is not None:
            before_write(result)
        _write_if_changed(path, before, result.doc)  # type: ignore[attr-defined]
        return result


@contextmanager
def _policy_lock(app: str) -> Iterator[Path]:
    path = policy_path(app)
    if not path.parent.is_dir():
        raise DokkuError(f"{app} has no data directory at {path.parent}: is it a hub app?")
    try:
        # Read-only is enough for flock, so a lock file left by root still works for dokku.
        fd = os.open(path.parent / LOCKNAME, os.O_RDONLY | os.O_CREAT, 0o644)
    except PermissionError:
        raise DokkuError(f"no permission to write in {path.parent}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(fd)


def _write_if_changed(path: Path, before: dict[str, Any], doc: dict[str, Any]) -> None:
    checked = policy.validate(doc)
    _check_new_limits(before, checked)
    if checked == before and path.exists():
        return
    if checked == policy.empty() and not path.exists():
        return
    write_text_atomic(path, policy.dumps(checked), mode=0o644)


def _check_new_limits(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Host size is checked for limits this change sets, not for ones already written: a
    policy from a bigger host must not block every other command."""
    old, new = before.get("limits", {}), after.get("limits", {})
    entries = [(old.get("default", {}), new.get("default", {}))]
    for kind in ("users", "groups"):
        for name, limit in new.get(kind, {}).items():
            entries.append((old.get(kind, {}).get(name, {}), limit))
    for was, now in entries:
        if now.get("memory") is not None and now.get("memory") != was.get("memory"):
            policy.check_memory(now["memory"], host_memory())
        if now.get("cpu") is not None and now.get("cpu") != was.get("cpu"):
            policy.check_cpu(now["cpu"], host_cpus())


def write_text_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DokkuError(f"no space left on {path.parent}: {path.name} was not "
                             "changed") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename is durable only once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
