"""`post-delete APP TAG` (apps:destroy): drop the plugin's properties of a hub app; keep the
users' data (deleting it takes `dokku jupyterhub:destroy APP --purge-data`)."""

from __future__ import annotations

from dokku_jupyterhub import properties
from dokku_jupyterhub.output import verbose_quiet
from dokku_jupyterhub.paths import storage_root


def main(argv: list[str]) -> int:
    app = argv[0]
    if properties.get(app, "hub-app") is None:
        return 0
    properties.destroy(app)
    root = storage_root(app)
    if root.exists():
        verbose_quiet(f"jupyterhub: users' data of {app} kept in {root}")
    return 0
