"""Wheels and Debian packages fetched on the host for image builds that run with
`network_mode="none"`.

No image registry is reachable here, but PyPI and Debian's mirror are: the host downloads
what a build needs into a cache keyed by exactly what was asked for, and the build installs
from the copy in its context. The cache survives runs (`/var/cache/djh-test` by default,
`DJH_TEST_CACHE` to move it), so a warm run touches no network at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

DEBIAN_SOURCES = """\
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
"""


def cache_root() -> Path:
    root = Path(os.environ.get("DJH_TEST_CACHE", "/var/cache/djh-test"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def key_of(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise fillers of one cache entry (other test processes may share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _fill_once(dest: Path, fill) -> Path:
    """Run `fill(tmpdir)` unless `dest` already exists; publish atomically by rename."""
    if dest.is_dir():
        return dest
    with locked(dest):
        if dest.is_dir():
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
        try:
            fill(tmp)
            tmp.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def normalise(requirements: Sequence[str]) -> list[str]:
    """Requirement lines without comments, blanks or pip options, sorted (the cache key)."""
    lines = []
    for raw in requirements:
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return sorted(set(lines))


def wheelhouse(requirements: Sequence[str]) -> Path:
    """A folder of wheels that satisfies `requirements` and all their dependencies.

    `pip wheel` (not `pip download`): a dependency published only as an sdist is built into a
    wheel here, where build tools can be fetched, so the image needs no network. The host's
    Python is Debian 12's 3.11, the same ABI as the bookworm images the wheels go into.
    """
    reqs = normalise(requirements)
    if not reqs:
        raise ValueError("empty requirement list")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    dest = cache_root() / "wheels" / f"{tag}-{key_of(tag, *reqs)}"

    def fill(tmp: Path) -> None:
        req_file = tmp / ".requirements.txt"
        req_file.write_text("\n".join(reqs) + "\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
             "--wheel-dir", str(tmp), "-r", str(req_file)],
            check=True,
        )
        req_file.unlink()

    return _fill_once(dest, fill)


def _apt_options(state: Path, status: Path, archives: Path) -> list[str]:
    """apt-get options for a private apt: our own sources and lists, the IMAGE's dpkg status
    (so exactly the packages missing from the image are fetched), nothing of the host's."""
    etc = state / "etc"
    return [
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"Dir::State::status={status}",
        "-o", f"Dir::Etc::sourcelist={etc / 'sources.list'}",
        "-o", f"Dir::Etc::sourceparts={etc / 'empty'}",
        "-o", f"Dir::Etc::preferencesparts={etc / 'empty'}",
        "-o", f"Dir::Cache::archives={archives}",
        "-o", "Dir::Cache::pkgcache=",
        "-o", "Dir::Cache::srcpkgcache=",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
        "-o", "Acquire::Languages=none",
        "-o", "APT::Install-Recommends=false",
    ]


def debs(packages: Sequence[str], image_status: bytes) -> Path:
    """The .deb files that install `packages` (and their missing dependencies) on an image
    whose `/var/lib/dpkg/status` is `image_status`, for `dpkg -i *.deb` in an offline build."""
    pkgs = sorted(set(packages))
    if not shutil.which("apt-get"):
        raise RuntimeError("apt-get is missing: Debian packages for the test images come from it")
    dest = cache_root() / "debs" / key_of(*pkgs, hashlib.sha256(image_status).hexdigest())
    state = cache_root() / "apt"

    def fill(tmp: Path) -> None:
        with locked(state):
            (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
            (state / "etc" / "empty").mkdir(parents=True, exist_ok=True)
            (state / "etc" / "sources.list").write_text(DEBIAN_SOURCES)
            status = tmp / ".status"
            status.write_bytes(image_status)
            (tmp / "partial").mkdir()
            opts = _apt_options(state, status, tmp)
            subprocess.run(["apt-get", *opts, "update", "-qq"], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(
                ["apt-get", *opts, "install", "-y", "-qq", "--download-only", *pkgs],
                check=True, stdout=subprocess.DEVNULL,
            )
            status.unlink()
            shutil.rmtree(tmp / "partial")
            (tmp / "lock").unlink(missing_ok=True)
        if not any(tmp.glob("*.deb")):
            raise RuntimeError(f"apt fetched no package for {pkgs}: already in the image?")

    return _fill_once(dest, fill)


def npm_package(spec: str) -> Path:
    """`npm install` of `spec` (pure JavaScript, like configurable-http-proxy) into a cached
    folder whose `node_modules` is copied into an image as is."""
    if not shutil.which("npm"):
        raise RuntimeError("npm is missing: apt-get install -y npm")
    dest = cache_root() / "npm" / key_of(spec)

    def fill(tmp: Path) -> None:
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--omit=dev",
             "--prefix", str(tmp), spec],
            check=True, stdout=subprocess.DEVNULL,
        )

    return _fill_once(dest, fill)
