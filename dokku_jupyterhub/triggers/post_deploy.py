"""`post-deploy APP INTERNAL_PORT INTERNAL_IP IMAGE_TAG` for a hub app (the shell file has
already checked the hub-app property): the hub's Docker gate and proxy running and wired
(the new hub waits for both before it starts), then the notebook image brought up to date.

Dokku runs this after the new hub container started (zero-downtime is off for hub apps, so
the old one is already stopped). A non-zero exit would fail a deploy that cannot be undone
any more, so every failure is reported loudly (and a build's recorded), and the exit code is
always 0.
"""

from __future__ import annotations

import contextlib
import os
import traceback

from dokku_jupyterhub import companions
from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.notebook_build import pipeline, records
from dokku_jupyterhub.output import DokkuError, warn


def wire_proxy(app: str, image_tag: str) -> None:
    try:
        companions.reconcile(app, image_tag)
    except Exception as exc:  # noqa: BLE001 - the notebook build must still run
        if os.environ.get("DOKKU_TRACE"):
            traceback.print_exc()
        why = exc.message if isinstance(exc, DokkuError) else f"{type(exc).__name__}: {exc}"
        warn(f"The hub's proxy or Docker gate for {app} is not running: "
             f"{records.one_line(why)}")
        warn(f"Users cannot reach the hub until it runs: dokku jupyterhub:restart-proxy {app}")


def main(argv: list[str]) -> int:
    if not argv or not argv[0]:
        warn("post-deploy: no app name given")
        return 0
    app = argv[0]
    image_tag = argv[3] if len(argv) > 3 and argv[3] else "latest"
    try:
        if not is_hub_app(app):
            return 0
        wire_proxy(app, image_tag)
        pipeline.ensure_notebook_image(app, image_tag=image_tag)
    except pipeline.BuildFailed as exc:
        pipeline.report_failure(exc, trigger=True, app=app)
    except Exception as exc:  # noqa: BLE001 - a bug here must still not fail the deploy
        if os.environ.get("DOKKU_TRACE"):
            traceback.print_exc()
        message = records.one_line(f"{type(exc).__name__}: {exc}")
        # Recording must not mask the original error.
        with contextlib.suppress(Exception):
            records.failed(app, f"unexpected error: {message}")
        warn(f"Notebook image step for {app} failed unexpectedly: {message}")
        warn(f"The deploy itself succeeded; for details run: "
             f"dokku --trace jupyterhub:rebuild-image {app}")
    return 0
