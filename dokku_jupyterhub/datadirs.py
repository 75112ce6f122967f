"""The hub's data tree on the host: `data_root(app)`, mounted at /data in the hub.

    /var/lib/dokku/data/storage/<app>/          0755  Dokku's storage convention
        gate/                                   0750  the Docker gate's socket (gate, hub)
        data/                                   0750  policy.json, cookie secret, sqlite
            users/ user-settings/ shared/       0755  bind-mounted into notebook servers
            colab/ groups/

Ownership: `dokku jupyterhub:create` runs as the `dokku` user (Dokku re-executes itself with
sudo), which cannot chown to another uid. The tree is then owned by dokku, which lets the
plugin write policy.json; the hub runs as root in its container and gives the five shared
folders to the notebook user (1000:100, jovyan:users) when it starts. When this code runs
as root (tests, a manual run) it chowns them itself, and gives the two upper directories to
the Dokku system user so later `dokku jupyterhub:*` commands can still write the policy.
Nothing here ever deletes or rewrites existing content.
"""

from __future__ import annotations

import os
from pathlib import Path

from dokku_jupyterhub.hub_runtime.contract import DATA_SUBDIRS, NB_GID, NB_UID
from dokku_jupyterhub.paths import data_root, gate_dir, storage_root
from dokku_jupyterhub.properties import dokku_owner

ROOT_MODE = 0o755
DATA_MODE = 0o750  # holds the hub's database and cookie secret: not for other host users
SUBDIR_MODE = 0o755
GATE_MODE = 0o750  # the way to Docker: not for other host users


def wanted(app: str) -> list[tuple[Path, int]]:
    """Every directory of the tree with its mode, parents first."""
    root = data_root(app)
    return [(storage_root(app), ROOT_MODE), (gate_dir(app), GATE_MODE),
            (root, DATA_MODE)] + [(root / name, SUBDIR_MODE) for name in DATA_SUBDIRS]


def missing(app: str) -> list[Path]:
    return [path for path, _ in wanted(app) if not path.is_dir()]


def ensure(app: str) -> list[Path]:
    """Create what is missing (existing directories keep their content, mode and owner);
    return what was created."""
    as_root = os.geteuid() == 0
    upper_owner = dokku_owner()
    created: list[Path] = []
    for path, mode in wanted(app):
        if path.is_dir():
            continue
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        os.chmod(path, mode)  # mkdir's mode is filtered by the umask
        if as_root:
            owner = (NB_UID, NB_GID) if path.parent == data_root(app) else upper_owner
            if owner:
                os.chown(path, *owner)
        created.append(path)
    return created
