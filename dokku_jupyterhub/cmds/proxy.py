"""`jupyterhub:restart-proxy`: a new proxy for a hub, which is also how the proxy is
upgraded (it is made from the hub's current image)."""

from __future__ import annotations

import click

from dokku_jupyterhub import companions
from dokku_jupyterhub.hub_apps import require_hub_app


@click.command("restart-proxy")
@click.argument("app")
def restart_proxy(app: str) -> None:
    """Replace the hub's proxy with a new one from the hub's current image and restart the hub

    The proxy carries every user's connection and outlives hub deploys and restarts. This
    replaces it (open notebooks reconnect) and restarts the hub so it adds every route at once.
    """
    require_hub_app(app, f" (create one with: dokku jupyterhub:create {app})")
    companions.restart(app)


COMMANDS = [restart_proxy]
