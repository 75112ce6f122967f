"""Benchmark (prints figures, asserts nothing): `post-deploy` of a hub app whose `images/` did
not change (a `ps:restart`, a `config:set`, a push that only touched the hub). Goal: <= 1 s,
beside a fully cached `docker build` of the same context with the CLI, which is what the old
post-deploy plugin ran on every deploy.

    python bench/post_deploy_unchanged.py [RUNS]

Needs the Docker engine and the debootstrap'd test base (made once, as the tests do). Uses
its own temporary DOKKU_LIB_ROOT and removes the images it makes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
DOCKER_CLI = "/usr/bin/docker"


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
        image, _ = client.images.build(path=str(src), tag=f"dokku/{app}:latest", rm=True,
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
    return {**os.environ, "DOKKU_LIB_ROOT": str(lib)}


def remove_app_images(client: docker.DockerClient, app: str) -> None:
    for image in client.api.images(filters={"label": f"com.dokku.app-name={app}"}):
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


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    from support.baseimages import ensure_bookworm

    client = docker.from_env(timeout=600)
    base = ensure_bookworm(client)
    app = f"djhbench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="djh-bench-") as tmp:
        lib = Path(tmp) / "lib"
        (lib / "config" / "jupyterhub" / app).mkdir(parents=True)
        (lib / "config" / "jupyterhub" / app / "hub-app").write_text("true")
        env = plugin_env(lib)
        images = Path(tmp) / "images"
        write_images(images, base, "python3 -m venv /opt/venv")
        try:
            make_hub_image(client, app, images)
            post_deploy = [str(ROOT / "post-deploy"), app, "", "", "latest"]
            first = subprocess.run(post_deploy, env=env, capture_output=True, text=True)
            if "built in" not in first.stdout:
                sys.exit(f"first build failed:\n{first.stdout}{first.stderr}")
            cli_tag = f"dokku/{app}-oldway:latest"
            cli_build = [DOCKER_CLI, "build", "-q", "-t", cli_tag, str(images)]
            cli_env = {**os.environ, "DOCKER_BUILDKIT": "0"}
            subprocess.run(cli_build, env=cli_env, check=True, capture_output=True)  # warm
            make_hub_image(client, app, images)  # a fresh deploy: new hub image, same images/

            def plugin() -> None:
                done = subprocess.run(post_deploy, env=env, capture_output=True, text=True)
                if "is current" not in done.stdout:
                    sys.exit(f"expected no build:\n{done.stdout}{done.stderr}")

            ours = timed(plugin, runs)
            old_way = timed(lambda: subprocess.run(cli_build, env=cli_env, check=True,
                                                capture_output=True), runs)
            print("post-deploy of a hub app, images/ unchanged (goal: <= 1 s)")
            print(summary("post-deploy (read images/, hash, compare: no build)", ours))
            print(summary("docker build, fully cached (the old setup's way)", old_way))
        finally:
            subprocess.run([DOCKER_CLI, "rmi", "-f", f"dokku/{app}-oldway:latest"],
                           capture_output=True)
            remove_app_images(client, app)


if __name__ == "__main__":
    main()
