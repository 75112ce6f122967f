"""The policy as the hub sees it: re-read from disk whenever the file changes.

The plugin replaces the file atomically (new inode on every write), so comparing the file's
identity (inode, size, mtime) tells a change without parsing it on every spawn. A file that
fails to parse or validate is reported once in the hub log and the last good policy stays in
force; a missing file means the defaults (nobody named: only HUB_ALLOW_ALL lets users in).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from . import policy

_LOG = logging.getLogger("JupyterHub")


class PolicyCache:
    def __init__(self, path: str, log: logging.Logger | None = None) -> None:
        self.path = path
        self.log = log or _LOG
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # identity of the file last looked at
        self._good: dict[str, Any] = policy.empty()
        self._good_from: str = "defaults (no policy file yet)"

    def __deepcopy__(self, memo: dict[int, Any]) -> PolicyCache:
        return self  # shared state by design (see for_path)

    def current(self) -> dict[str, Any]:
        """The policy in force now (a copy: callers may not change the cache)."""
        with self._lock:
            self._refresh()
            return policy.copy_of(self._good)

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._seen != (0, 0, 0):
                self._seen = (0, 0, 0)
                self._good = policy.empty()
                self._good_from = "defaults (no policy file yet)"
                self.log.info("No policy file at %s: using the defaults", self.path)
            return
        except OSError as exc:
            self._report(f"cannot read {self.path}: {exc.strerror}")
            return
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        if identity == self._seen:
            return
        self._seen = identity
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
            doc = policy.loads(text)
        except (OSError, UnicodeDecodeError, policy.PolicyError) as exc:
            self._report(f"policy file {self.path} is invalid: {exc}")
            return
        self._good = doc
        self._good_from = self.path
        self.log.info(
            "Loaded policy %s: %d admins, %d groups",
            self.path,
            len(doc["admins"]),
            len(doc["groups"]),
        )

    def _report(self, message: str) -> None:
        self.log.error("%s; keeping the last good policy (%s)", message, self._good_from)


_caches: dict[str, PolicyCache] = {}
_caches_lock = threading.Lock()


def for_path(path: str, log: logging.Logger | None = None) -> PolicyCache:
    """One shared cache per policy file, so the spawner and the authenticator agree and an
    error is logged once, not once per reader."""
    with _caches_lock:
        cache = _caches.get(path)
        if cache is None:
            cache = _caches[path] = PolicyCache(path, log)
        return cache
