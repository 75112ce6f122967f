"""`post-delete APP TAG` (apps:destroy): drop the plugin's properties of a hub app and release
what create made around it (users' notebook servers, the app's network, its notebook
images), so a plain `dokku apps:destroy` leaves nothing behind but the users' data, which
is kept (deleting it takes `dokku jupyterhub:destroy APP --purge-data`). Never fails the
chain: what cannot be removed is one warning line saying what is left."""

from __future__ import annotations

from dokku_jupyterhub import docker_api, properties, state
from dokku_jupyterhub.cmds.lifecycle import release
from dokku_jupyterhub.output import DokkuError, verbose_quiet, warn
from dokku_jupyterhub.paths import storage_root


def main(argv: list[str]) -> int:
    app = argv[0]
    if properties.get(app, "hub-app") is None:
        return 0
    properties.destroy(app)
    net = state.network_name(app)
    try:
        release(docker_api.client(), app, net)
    except DokkuError as exc:
        warn(f"jupyterhub: {exc.message}; {net} and dokku/{app}-notebook images may remain")
    root = storage_root(app)
    if root.exists():
        verbose_quiet(f"jupyterhub: users' data of {app} kept in {root}")
    return 0
