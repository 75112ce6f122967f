"""A group's shared folder, `groups/<group>` under the app's data root (mounted at
~/work/groups/<group> for members and admins): created with the group, deleted only with
--purge-data."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import docker.errors

from dokku_jupyterhub import docker_api
from dokku_jupyterhub.hub_runtime.contract import DATA_MOUNT, NB_GID, NB_UID, hub_image
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root


def path_of(app: str, group: str) -> Path:
    return data_root(app) / "groups" / group


def as_root_in_hub_image(app: str, argv: list[str]) -> str | None:
    """Run `argv` as root in a throwaway container of the app's deployed image, with the data
    root at /data and no network; None on success, else why not (one line).

    Commands run as the `dokku` user, but the hub gives `groups/` and its folders to the
    notebook user (1000:100) when it starts, so only root can create or delete in there. As
    dokku-postgres does with a helper container, Docker does that part; the app's own image
    is used because it is on the host already (nothing is pulled)."""
    try:
        client = docker_api.client()
        client.containers.run(
            hub_image(app), argv[1:], entrypoint=[argv[0]], user="0:0", network_mode="none",
            remove=True, volumes={str(data_root(app)): {"bind": DATA_MOUNT, "mode": "rw"}},
        )
    except DokkuError as exc:
        return exc.message
    except docker.errors.ImageNotFound:
        return f"no image {hub_image(app)}: the hub is not deployed yet"
    except docker.errors.ContainerError as exc:
        err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        return f"{argv[0]} failed: {err[-1] if err else f'exit {exc.exit_status}'}"
    except docker.errors.DockerException as exc:
        return docker_api.explain(exc)
    return None


def ensure(app: str, group: str) -> tuple[bool, str]:
    """Make sure `groups/<group>` exists, owned 1000:100 when we can; (created, message)."""
    path = path_of(app, group)
    if path.is_symlink():
        raise DokkuError(f"{path} is a symbolic link: refusing to use it as a group folder")
    if path.is_dir():
        return False, f"Folder {path} exists; its files are kept"
    try:
        path.parent.mkdir(mode=0o755, exist_ok=True)
        path.mkdir(mode=0o755)
    except PermissionError:
        why = as_root_in_hub_image(app, [
            "install", "-d", "-o", str(NB_UID), "-g", str(NB_GID), "-m", "0755",
            f"{DATA_MOUNT}/groups/{group}",
        ])
        if why is None and path.is_dir():
            return True, f"Created folder {path} (owner {NB_UID}:{NB_GID})"
        return False, (
            f"Could not create {path} ({why or 'permission denied'}): the hub creates it "
            "at the next server start of a member or admin"
        )
    except OSError as exc:
        raise DokkuError(f"cannot create {path}: {exc.strerror}") from None
    if os.geteuid() == 0:
        os.chown(path, NB_UID, NB_GID)
        return True, f"Created folder {path} (owner {NB_UID}:{NB_GID})"
    return True, (
        f"Created folder {path}; the hub gives it to {NB_UID}:{NB_GID} "
        "(the notebook user) at the next server start"
    )


def purge(app: str, group: str) -> None:
    """Delete `groups/<group>` and everything in it; a symlink is removed, never followed."""
    path = path_of(app, group)
    try:
        if path.is_symlink():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        return
    except PermissionError:
        # Files written by notebooks belong to 1000:100; the dokku user cannot remove them.
        why = as_root_in_hub_image(
            app, ["rm", "-rf", "--one-file-system", f"{DATA_MOUNT}/groups/{group}"]
        )
    if why is not None or path.exists() or path.is_symlink():
        raise DokkuError(
            f"could not delete {path} ({why or 'files remain'}); the group is out of the "
            f"policy, retry with: dokku jupyterhub:groups:destroy {app} {group} --purge-data"
        )


def remove_new(app: str, group: str) -> None:
    """Undo `ensure` of a folder made moments ago: only while it is still empty."""
    with contextlib.suppress(OSError):
        path_of(app, group).rmdir()
