"""Benchmark (prints figures, asserts nothing): a cold notebook build (`--no-cache`) by the
plugin's docker-py streaming build against `/usr/bin/docker build` on the same context.
Goal: overhead <= 5 %.

Rows, each the median of RUNS builds, run in rotation so drift hits all alike; the reference
is the plain CLI build (classic builder, which docker-py's API build uses too):
  - docker build CLI, also with the plugin's four labels as `--label` (the engine makes one
    step per label), for scale;
  - the plugin's `engine.build` (docker-py, output streamed and parsed, then its four labels
    in one extra step);
  - `dokku jupyterhub:rebuild-image APP --no-cache` end to end as a process: Python start,
    reading images/ from the hub image, hashing, build, retag, prune, records.

    python bench/build_overhead.py [RUNS]
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import DOCKER_CLI, ROOT, make_hub_image, temporary_hub_app  # noqa: E402

# A few seconds of real work on the bookworm base: venv creation runs ensurepip.
RUN_STEP = "python3 -m venv /opt/venv && /opt/venv/bin/python -m compileall -q /usr/lib/python3.11"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5

    from dokku_jupyterhub.hub_runtime import contract
    from dokku_jupyterhub.notebook_build import engine, fingerprint, records

    client = docker.from_env(timeout=600)
    with temporary_hub_app(client, RUN_STEP) as bench:
        app, env, images = bench.name, bench.env, bench.images
        repo = f"dokku/{app}-bench"
        context_hash = fingerprint.context_hash(images, {})
        labels = {contract.LABEL_NOTEBOOK_APP: app, contract.LABEL_BUILD_HASH: context_hash,
                  contract.LABEL_BUILD_REVISION: "bench", contract.LABEL_BUILT_AT: records.now()}
        label_args = [f"--label={k}={v}" for k, v in labels.items()]
        cli_env = {**os.environ, "DOCKER_BUILDKIT": "0"}

        def cli(extra: list[str]) -> None:
            subprocess.run([DOCKER_CLI, "build", "--no-cache", "-q", *extra, "-t",
                            f"{repo}:cli", str(images)], env=cli_env, check=True,
                           capture_output=True)

        def docker_py() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                engine.build(client.api, images, tag=f"{repo}:py", buildargs={},
                             labels=labels, nocache=True, on_line=print)

        def rebuild_image() -> None:
            # The way Dokku runs it: the subcommand shim, then the plugin venv's python.
            done = subprocess.run([str(ROOT / "subcommands" / "rebuild-image"),
                                   "jupyterhub:rebuild-image", app, "--no-cache"],
                                  env=env, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"rebuild-image failed:\n{done.stdout}{done.stderr}")

        variants = {
            "docker build --no-cache (CLI)": lambda: cli([]),
            "docker build --no-cache (CLI) --label x4": lambda: cli(label_args),
            "plugin engine.build (docker-py, labelled)": docker_py,
            "dokku jupyterhub:rebuild-image --no-cache": rebuild_image,
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        try:
            make_hub_image(client, app, images)
            cli([])  # warm the page cache and the base image layers
            for _ in range(runs):
                for name, fn in variants.items():
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
            medians = {name: statistics.median(t) for name, t in times.items()}
            reference = medians["docker build --no-cache (CLI)"]
            print(f"cold notebook build, same context, median of {runs} (goal: overhead <= 5 %)")
            for name, value in medians.items():
                spread = f"{min(times[name]):.2f}-{max(times[name]):.2f} s"
                print(f"  {name:<48} {value:6.2f} s  ({spread})  "
                      f"{(value / reference - 1) * 100:+5.1f} % vs the CLI")
        finally:
            for tag in (f"{repo}:cli", f"{repo}:py"):
                subprocess.run([DOCKER_CLI, "rmi", "-f", tag], capture_output=True)


if __name__ == "__main__":
    main()
