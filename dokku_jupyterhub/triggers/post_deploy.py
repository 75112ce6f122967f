"""`post-deploy APP INTERNAL_PORT INTERNAL_IP IMAGE_TAG` for a hub app (the shell file has
already checked the hub-app property): bring the notebook image up to date.

Dokku runs this after the new hub is up and before the old one is retired; a non-zero exit
would fail the deploy and leave both hubs running. So every failure is reported loudly and
recorded, and the exit code is always 0.
"""

from __future__ import annotations

import contextlib
import os
import traceback

from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.notebook_build import pipeline, records
from dokku_jupyterhub.output import warn


def main(argv: list[str]) -> int:
    if not argv or not argv[0]:
        warn("post-deploy: no app name given")
        return 0
    app = argv[0]
    image_tag = argv[3] if len(argv) > 3 and argv[3] else "latest"
    try:
        if not is_hub_app(app):
            return 0
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
