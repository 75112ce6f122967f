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
import subprocess
import sys
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402 - this script's own folder first
    DOCKER_CLI,
    ROOT,
    make_hub_image,
    summary,
    temporary_hub_app,
    timed,
)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    client = docker.from_env(timeout=600)
    with temporary_hub_app(client, "python3 -m venv /opt/venv") as bench:
        app, env, images = bench.name, bench.env, bench.images
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


if __name__ == "__main__":
    main()
