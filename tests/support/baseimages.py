"""Base images made offline for tests: a Debian bookworm rootfs by debootstrap, imported
with `docker import`. Nothing is pulled; derived images are built from it with
`network_mode="none"` and wheels downloaded on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import docker

BOOKWORM = "djh-test/bookworm:minbase"
PACKAGES = "python3,python3-venv,ca-certificates"


def has_image(cli: docker.DockerClient, ref: str) -> bool:
    try:
        cli.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_bookworm(cli: docker.DockerClient) -> str:
    """`djh-test/bookworm:minbase`, made by debootstrap when the engine lacks it (~40 s)."""
    if has_image(cli, BOOKWORM):
        return BOOKWORM
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is missing: apt-get install -y debootstrap")
    cache = os.environ.get("DJH_ROOTFS_CACHE")
    with tempfile.TemporaryDirectory(prefix="djh-rootfs-") as tmp:
        rootfs = cache or os.path.join(tmp, "bookworm")
        if not (cache and os.path.isdir(os.path.join(cache, "usr"))):
            subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", rootfs],
                check=True, stdout=subprocess.DEVNULL,
            )
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BOOKWORM], stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap rootfs failed")
    return BOOKWORM
