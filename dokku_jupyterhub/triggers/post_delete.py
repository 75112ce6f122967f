"""`post-delete APP TAG` (apps:destroy): drop the plugin's properties of a hub app and release
what create made around it (users' notebook servers, the app's network, its notebook
images), so a plain `dokku apps:destroy` leaves nothing behind but the users' data, which
is kept (deleting it takes `dokku jupyterhub:destroy APP --purge-data`). Never fails the
chain: the app is gone by now, so what cannot be removed (Docker down or failing, Dokku
refusing) is one warning line saying what is left, and the exit code is 0."""

from __future__ import annotations

import os
import traceback

from dokku_jupyterhub import docker_api, properties, teardown
from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.hub_runtime.contract import network_name, notebook_repository
from dokku_jupyterhub.output import DokkuError, verbose_quiet, warn
from dokku_jupyterhub.paths import storage_root


def main(argv: list[str]) -> int:
    app = argv[0]
    if not is_hub_app(app):
        return 0
    properties.destroy(app)
    net = network_name(app)
    try:
        teardown.release(docker_api.client(), app, net)
    except Exception as exc:  # noqa: BLE001 - Docker's errors are not all DockerExceptions
        if os.environ.get("DOKKU_TRACE"):
            traceback.print_exc()
        why = exc.message if isinstance(exc, DokkuError) else docker_api.explain(exc)
        warn(f"jupyterhub: {why}; {net}, notebook servers of {app} and "
             f"{notebook_repository(app)} images may remain "
             f"(see docker ps -a, docker network ls, docker images)")
    root = storage_root(app)
    if root.exists():
        verbose_quiet(f"jupyterhub: users' data of {app} kept in {root}")
    return 0
