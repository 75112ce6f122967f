"""What the bench scripts share: a temporary hub app (its own DOKKU_LIB_ROOT with the hub-app
marker, a plugin venv on this checkout, an `images/` folder and the hub image a deploy
leaves), timing and the summary line. Not a benchmark itself."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
DOCKER_CLI = "/usr/bin/docker"

from dokku_jupyterhub.hub_runtime.contract import (  # noqa: E402 - after the path set-up
    HUB_APP_PROPERTY,
    LABEL_DOKKU_APP,
    hub_image,
)


@dataclass(frozen=True)
class BenchApp:
    name: str
    lib: Path  # its DOKKU_LIB_ROOT
    env: dict[str, str]  # the environment the plugin's entry points run in
    images: Path  # its images/ folder


@contextmanager
def temporary_hub_app(client: docker.DockerClient, run: str) -> Iterator[BenchApp]:
    """A hub app `djhbench-<random>` whose images/ runs `run` on the test base; its images
    are removed afterwards."""
    from support.baseimages import ensure_bookworm

    base = ensure_bookworm(client)
    app = f"djhbench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="djh-bench-") as tmp:
        lib = Path(tmp) / "lib"
        (lib / "config" / "jupyterhub" / app).mkdir(parents=True)
        (lib / "config" / "jupyterhub" / app / HUB_APP_PROPERTY).write_text("true")
        images = Path(tmp) / "images"
        write_images(images, base, run)
        try:
            yield BenchApp(app, lib, plugin_env(lib), images)
        finally:
            remove_app_images(client, app)


def write_images(dest: Path, base: str, run: str) -> None:
    """A realistic `images/` folder: Dockerfile, requirements, a notebook, a binary asset."""
    files = {
        "Dockerfile": (f"ARG NOTEBOOK_BASE_IMAGE={base}\nFROM ${{NOTEBOOK_BASE_IMAGE}}\n"
                       f"RUN {run}\nCOPY requirements.txt start.sh /opt/nb/\n"
                       "COPY notebooks/ /opt/nb/notebooks/\nCOPY assets/ /opt/nb/assets/\n"),
        ".dockerignore": "*.tmp\n",
        "requirements.txt": "numpy\npandas\nmatplotlib\n",
        "start.sh": "#!/bin/sh\nexec jupyterhub-singleuser \"$@\"\n",
        "notebooks/intro.ipynb": '{"cells": [], "nbformat": 4, "nbformat_minor": 5}\n' * 50,
        "scratch.tmp": "ignored\n",
    }
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (dest / "assets").mkdir()
    (dest / "assets" / "logo.bin").write_bytes(os.urandom(2 << 20))


def make_hub_image(client: docker.DockerClient, app: str, images: Path) -> str:
    """`dokku/<app>:latest` as a deploy leaves it: images/ at /srv/jupyterhub/images/."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        subprocess.run(["cp", "-a", str(images), str(src / "images")], check=True)
        (src / "Dockerfile").write_text(
            "FROM scratch\nCOPY images/ /srv/jupyterhub/images/\n"
            f"LABEL com.dokku.app-name={app} com.dokku.image-stage=release\n")
        image, _ = client.images.build(path=str(src), tag=hub_image(app), rm=True,
                                     forcerm=True)
    return image.id


def plugin_env(lib: Path) -> dict[str, str]:
    """Environment in which the real `post-deploy` file finds a plugin venv.

    The shell runs the venv's python with -I (no PYTHONPATH), so the venv is a real one whose
    .pth files point at this checkout and at this Python's installed packages, as the
    `install` trigger's venv points at the plugin.
    """
    if sys.prefix == sys.base_prefix:
        sys.exit("run this with the project's venv python (.venv/bin/python)")
    venv = lib / "data" / "jupyterhub" / "venv"
    if not venv.exists():
        subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                        "--without-pip", str(venv)], check=True)
        site = subprocess.run([str(venv / "bin" / "python3"), "-c",
                               "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        here = sysconfig.get_paths()["purelib"]
        Path(site, "dokku_jupyterhub.pth").write_text(f"{ROOT}\n{here}\n")
    return {**os.environ, "DOKKU_LIB_ROOT": str(lib), "DOKKU_BIN": str(dokku_stub(lib))}


STUB = """#!/bin/sh
case "$1" in
  config:export) echo "{}" ;;
  checks:report) echo web ;;
  network:report) echo ;;
  *) echo "dokku-stub: $1 is not modelled" >&2; exit 1 ;;
esac
"""


def dokku_stub(lib: Path) -> Path:
    """What `post-deploy` asks Dokku of a hub app made before the proxy and the gate (no
    proxy token, zero-downtime already off), so the figures are the plugin's own work and
    not the cost of a Dokku that is not there."""
    stub = lib / "dokku-stub"
    stub.write_text(STUB)
    stub.chmod(0o755)
    return stub


def remove_app_images(client: docker.DockerClient, app: str) -> None:
    for image in client.api.images(filters={"label": f"{LABEL_DOKKU_APP}={app}"}):
        client.api.remove_image(image["Id"], force=True)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return (f"  {label:<52} median {statistics.median(ms):7.1f} ms   "
            f"min {ms[0]:7.1f} ms   max {ms[-1]:7.1f} ms   ({len(ms)} runs)")
