"""Which login identity owns which hub username.

Usernames are derived from claims (the old setup's Azure AD rule shortens long names; GitHub
logins can be renamed and re-registered), so two different people can map to one name.
The first identity that logs in under a name owns it and its data folder; any other identity
mapping to the same name is refused. The record is a small JSON file on the hub's data
volume, changed under an exclusive lock and replaced atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from typing import Any

VERSION = 1


class NameTaken(Exception):
    """`name` already belongs to another identity."""

    def __init__(self, name: str, owner: str, identity: str) -> None:
        super().__init__(name)
        self.name = name
        self.owner = owner
        self.identity = identity


class Registry:
    def __init__(self, path: str) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            return {"version": VERSION, "names": {}}
        if not isinstance(doc, dict) or not isinstance(doc.get("names"), dict):
            # Refusing every login is safer than silently forgetting who owns what.
            raise ValueError(f"{self.path} is not a valid identity record")
        return doc

    def owner(self, name: str) -> str | None:
        entry = self._load()["names"].get(name)
        return entry.get("identity") if isinstance(entry, dict) else None

    def check(self, name: str, identity: str) -> None:
        """Raise NameTaken when another identity owns `name` (no change)."""
        owner = self.owner(name)
        if owner is not None and owner != identity:
            raise NameTaken(name, owner, identity)

    def claim(self, name: str, identity: str) -> bool:
        """Record `identity` as the owner of `name`; True when newly recorded.
        Check and write happen under one lock, so two first logins cannot both win."""
        directory = os.path.dirname(self.path) or "."
        with open(os.path.join(directory, ".identities.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = self._load()
            entry = doc["names"].get(name)
            if isinstance(entry, dict) and entry.get("identity"):
                if entry["identity"] != identity:
                    raise NameTaken(name, entry["identity"], identity)
                return False
            doc["names"][name] = {
                "identity": identity,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            self._write(doc, directory)
            return True

    def _write(self, doc: dict[str, Any], directory: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".identities.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
