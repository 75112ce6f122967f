"""Removing what `create` made around a hub app: its proxy and gate, users' servers, the
app's network, its notebook images, and (only with --purge-data) the users' data. Shared by
`destroy` and
the `post-delete` trigger, so a plain `dokku apps:destroy` of a hub app leaves nothing behind
but the users' data."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import docker.errors

from dokku_jupyterhub import companion_container, docker_api, dokku_cli, dokku_state
from dokku_jupyterhub.hub_runtime.contract import (
    LABEL_BUILD_HASH,
    LABEL_DOKKU_APP,
    LABEL_NOTEBOOK_APP,
    gate_container_name,
    notebook_repository,
    proxy_container_name,
)
from dokku_jupyterhub.notebook_build.plan import image_owner
from dokku_jupyterhub.output import DokkuError, info1_quiet, verbose_quiet, warn
from dokku_jupyterhub.paths import lib_root


def release(client: Any, app: str, net: str) -> None:
    """Remove what create made around the app: its proxy and Docker gate, users' servers,
    the network, the notebook images. Idempotent; also run by the post-delete trigger, so
    `dokku apps:destroy` of a hub app leaves nothing behind but the users' data. A network
    something else still uses is kept, and the admin told what is on it."""
    for name in (proxy_container_name(app), gate_container_name(app)):
        if companion_container.remove(client, name):
            verbose_quiet(f"removed {name}")
    remove_user_servers(client, app, net)
    if dokku_state.network_exists(net):
        # The app's own containers: apps:destroy has stopped them, and Dokku's scheduler
        # removes them only after this trigger (post-delete runs in plugin name order).
        for c in containers_on(client, net):
            if (c.labels or {}).get(LABEL_DOKKU_APP) == app:
                _disconnect(client, net, c)
        users = containers_on(client, net)
        if users:
            warn(f"{net} kept: still used by {', '.join(sorted(c.name for c in users))}; "
                 f"once they are gone: dokku network:destroy {net}")
        else:
            info1_quiet(f"Destroying network {net}")
            dokku_cli.run("network:destroy", net, "--force")
    remove_notebook_images(client, app)


def containers_on(client: Any, net: str) -> list[Any]:
    try:
        return list(client.containers.list(all=True, filters={"network": net}))
    except docker.errors.DockerException as exc:
        raise DokkuError(docker_api.explain(exc)) from None


def remove_user_servers(client: Any, app: str, net: str) -> None:
    """Remove the notebook servers the hub started on its network (labelled for this app by
    its spawner; their data lives on bind mounts) and disconnect anything else an admin or
    another plugin attached (a database, a tool), which is never removed. The app's own
    containers are left to `apps:destroy`."""
    for c in containers_on(client, net):
        labels = c.labels or {}
        try:
            if labels.get(LABEL_NOTEBOOK_APP) == app:
                verbose_quiet(f"removing notebook server {c.name}")
                c.remove(force=True)
            elif labels.get(LABEL_DOKKU_APP) != app:
                _disconnect(client, net, c)
                verbose_quiet(f"disconnected {c.name} from {net} (not a notebook server: kept)")
        except docker.errors.NotFound:
            continue
        except docker.errors.DockerException as exc:
            warn(f"could not remove or disconnect {c.name}: {docker_api.explain(exc)}")


def _disconnect(client: Any, net: str, container: Any) -> None:
    client.networks.get(net).disconnect(container, force=True)


def notebook_images(client: Any, app: str) -> list[Any]:
    """The notebook images this plugin built for `app` (never an image the admin pinned)."""
    found: dict[str, Any] = {}
    for image in client.images.list(name=notebook_repository(app)):
        found[image.id] = image
    for image in client.images.list(filters={"label": LABEL_BUILD_HASH}):
        if image_owner(image.labels or {}) == app:
            found[image.id] = image
    return list(found.values())


def remove_notebook_images(client: Any, app: str) -> None:
    for image in notebook_images(client, app):
        try:
            client.images.remove(image.id, force=True)
            verbose_quiet(f"removed notebook image {', '.join(image.tags) or image.short_id}")
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.DockerException as exc:
            warn(f"could not remove image {image.short_id}: {docker_api.explain(exc)}")


def purge(app: str, root: Path) -> None:
    """Delete storage/<app>. Users' files belong to uid 1000, which the dokku user cannot
    delete: then use Dokku's storage helper, which the dokku user may run with sudo."""
    try:
        shutil.rmtree(root)
        return
    except FileNotFoundError:
        return
    except PermissionError:
        pass
    plugins = os.environ.get("PLUGIN_AVAILABLE_PATH") or str(lib_root() / "plugins/available")
    helper = Path(plugins) / "storage" / "bin" / "destroy-storage-dir"
    try:
        done = subprocess.run(["sudo", "-n", str(helper), app], capture_output=True).returncode
    except OSError:  # no sudo
        done = 1
    if done != 0 or root.exists():
        raise DokkuError(f"could not delete {root}: delete it as root (sudo rm -rf {root})")
