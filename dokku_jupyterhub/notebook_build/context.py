"""The notebook build context: the `images/` folder of the deployed hub image, byte for byte.

The hub Dockerfile COPYs the app's `images/` folder to `/srv/jupyterhub/images/`, so the
deployed image `dokku/<app>:<tag>` holds exactly the revision that is running, whether it came
from a git push or from the plugin's own deploy. The folder is read with the Docker API
(`get_archive` on a created, never started container): a tar stream, so binary files,
permission bits, symlinks and subfolders arrive unchanged. Dokku's `copy_dir_from_image` is
text-oriented and is not used.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import docker.errors

from dokku_jupyterhub.hub_runtime.contract import LABEL_PURPOSE, hub_image  # noqa: F401
from dokku_jupyterhub.output import DokkuError

SOURCE_DIR = "/srv/jupyterhub/images"
DOCKERFILE = "Dockerfile"
# Where a revision may be found in the hub image: an env var the hub Dockerfile may set from
# Dokku's GIT_REV build arg, or the OCI label.
REVISION_ENV = "GIT_REV"
REVISION_LABEL = "org.opencontainers.image.revision"
# The archive is spooled to memory up to this size, then to a temporary file.
SPOOL_BYTES = 32 << 20
_REVISION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class HubImage:
    ref: str
    id: str
    labels: dict[str, str]
    env: dict[str, str]


def inspect_hub_image(api: Any, ref: str) -> HubImage:
    try:
        attrs = api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        raise DokkuError(f"image {ref} not found: deploy the app first") from None
    config = attrs.get("Config") or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return HubImage(ref, attrs["Id"], dict(config.get("Labels") or {}), env)


def clean_revision(value: str | None) -> str | None:
    """A revision fit for a label and a report (a git sha or a tag name), else None."""
    value = (value or "").strip()
    return value if _REVISION_RE.fullmatch(value) else None


def revision_from_image(image: HubImage) -> str | None:
    return clean_revision(image.env.get(REVISION_ENV)) or clean_revision(
        image.labels.get(REVISION_LABEL))


def extract(api: Any, image: HubImage, dest: Path) -> bool:
    """Copy `SOURCE_DIR` of the image into the empty directory `dest`.

    Returns False when the image has no such folder (a hub app without `images/`).
    """
    # `create` needs a command for images without one (FROM scratch); it never runs.
    container = api.create_container(
        image.id, command=["/nonexistent"], entrypoint=[], network_disabled=True,
        labels={LABEL_PURPOSE: "read-build-context"},
    )
    cid = container["Id"]
    try:
        try:
            stream, _ = api.get_archive(cid, SOURCE_DIR + "/")
        except docker.errors.NotFound:
            return False
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            for chunk in stream:
                spool.write(chunk)
            spool.seek(0)
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                unpack(tar, dest)
        return True
    finally:
        api.remove_container(cid, v=True, force=True)


def has_dockerfile(root: Path) -> bool:
    return (root / DOCKERFILE).is_file() and not (root / DOCKERFILE).is_symlink()


def _relative(name: str) -> PurePosixPath | None:
    """The member's path below the archive's top folder (`images/`), or None for the top."""
    parts = PurePosixPath(name).parts[1:]
    if not parts:
        return None
    if any(p in ("", ".", "..") for p in parts) or name.startswith("/"):
        raise DokkuError(f"unsafe path in {SOURCE_DIR}: {name!r}")
    return PurePosixPath(*parts)


def _check_parent(dest: str, rel: PurePosixPath) -> None:
    """Refuse to write through a symlink planted earlier in the same archive."""
    parent = os.path.normpath(os.path.join(dest, str(rel.parent)))
    if os.path.realpath(parent) != parent:
        raise DokkuError(f"unsafe path in {SOURCE_DIR}: {rel} goes through a symlink")


def unpack(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract a Docker archive into `dest`, dropping its top folder, refusing path escapes.

    Contents and permission bits are kept exactly; owners are not (COPY makes them root's
    anyway, and the dokku user could not set them). Directory modes are applied last so a
    read-only folder can still be filled.
    """
    root = os.path.realpath(dest)
    dirs: list[tuple[Path, int]] = []
    for member in tar:
        rel = _relative(member.name)
        if rel is None:
            continue
        _check_parent(root, rel)
        target = Path(root) / rel
        mode = stat.S_IMODE(member.mode)
        if member.isdir():
            target.mkdir(exist_ok=True)
            dirs.append((target, mode))
        elif member.isreg():
            source = tar.extractfile(member)
            assert source is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                while block := source.read(1 << 20):
                    fh.write(block)
            os.chmod(target, mode)
            os.utime(target, (member.mtime, member.mtime))
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            # A hard link to an earlier member of the same archive: same content, own copy.
            link_rel = _relative(member.linkname)
            if link_rel is None:
                raise DokkuError(f"unsafe hard link in {SOURCE_DIR}: {member.name!r}")
            _check_parent(root, link_rel)
            origin = Path(root) / link_rel
            if not origin.is_file() or origin.is_symlink():
                raise DokkuError(f"unsafe hard link in {SOURCE_DIR}: {member.name!r}")
            os.link(origin, target)
        # Devices and FIFOs cannot come from a git checkout; they are left out.
    for path, mode in reversed(dirs):
        os.chmod(path, mode)
