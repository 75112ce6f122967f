"""A content hash of a notebook build: the files docker-py would send, plus the build arguments.

The hash decides whether a deploy rebuilds, so it must change exactly when the build input
does: file names, types, permission bits, contents and symlink targets count; mtimes and
owners do not (a redeploy checks the same files out again with new mtimes, and Docker's COPY
ignores both). The file list is docker-py's own `.dockerignore` walk, so an ignored file never
triggers a build, just as it never reaches the engine.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from docker.utils.build import exclude_paths

# Bump when the scheme changes, so every app rebuilds once rather than trusting an old hash.
SCHEME = b"djh-context-v1"


@dataclass(frozen=True)
class Entry:
    path: str  # relative, "/"-separated
    kind: str  # "file" | "dir" | "symlink"
    mode: int  # permission bits (0o7777)
    data: bytes = b""  # sha256 of a file's content, or a symlink's target


def digest(entries: Iterable[Entry], buildargs: Mapping[str, str]) -> str:
    """Hex sha256 over the sorted entries and build arguments (pure)."""
    h = hashlib.sha256(SCHEME)

    def field(b: bytes) -> None:
        # Length-prefixed, so no two different inputs can concatenate to the same stream.
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)

    for e in sorted(entries, key=lambda e: e.path):
        field(e.path.encode("utf-8", "surrogateescape"))
        field(e.kind.encode())
        field(oct(e.mode & 0o7777).encode())
        field(e.data)
    field(b"buildargs")
    for key in sorted(buildargs):
        field(key.encode())
        field(buildargs[key].encode())
    return h.hexdigest()


def dockerignore_patterns(root: Path) -> list[str]:
    """`.dockerignore` read exactly as docker-py's `APIClient.build(path=...)` reads it."""
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def context_paths(root: Path) -> list[str]:
    """Relative paths (files and directories) docker-py puts into the build context tar."""
    return sorted(exclude_paths(str(root), dockerignore_patterns(root), dockerfile="Dockerfile"))


def entries(root: Path) -> list[Entry]:
    found = []
    for rel in context_paths(root):
        full = os.path.join(root, rel)
        st = os.lstat(full)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            found.append(Entry(rel, "symlink", mode, os.readlink(full).encode()))
        elif stat.S_ISDIR(st.st_mode):
            found.append(Entry(rel, "dir", mode))
        elif stat.S_ISREG(st.st_mode):
            found.append(Entry(rel, "file", mode, _file_sha256(full)))
        # Sockets, FIFOs, devices: docker-py sends no content for them; nor do we hash any.
    return found


def _file_sha256(path: str) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def context_hash(root: Path, buildargs: Mapping[str, str]) -> str:
    return digest(entries(root), buildargs)
