"""`groups:*`: groups of users sharing a folder (`groups/<group>` under the app's data root,
mounted at ~/work/groups/<group> for members, read-only or read-write per group, and
read-write for admins)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import click
import docker.errors

from dokku_jupyterhub import docker_api, policy_ops, policy_store
from dokku_jupyterhub.cmds.admins import (
    format_option,
    group_name,
    hub_app,
    print_list,
    print_table,
    show,
    user_names,
)
from dokku_jupyterhub.hub import policy
from dokku_jupyterhub.output import DokkuError, info1, out, verbose, warn
from dokku_jupyterhub.paths import data_root

# The notebook user (jovyan) of the docker-stacks images.
NOTEBOOK_UID, NOTEBOOK_GID = 1000, 100


def group_folder(app: str, group: str) -> Path:
    return data_root(app) / "groups" / group


def hub_image(app: str) -> str:
    return f"dokku/{app}:latest"


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
            remove=True, volumes={str(data_root(app)): {"bind": "/data", "mode": "rw"}},
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


def ensure_group_folder(app: str, group: str) -> tuple[bool, str]:
    """Make sure `groups/<group>` exists, owned 1000:100 when we can; (created, message)."""
    path = group_folder(app, group)
    if path.is_symlink():
        raise DokkuError(f"{path} is a symbolic link: refusing to use it as a group folder")
    if path.is_dir():
        return False, f"Folder {path} exists; its files are kept"
    try:
        path.parent.mkdir(mode=0o755, exist_ok=True)
        path.mkdir(mode=0o755)
    except PermissionError:
        why = as_root_in_hub_image(app, [
            "install", "-d", "-o", str(NOTEBOOK_UID), "-g", str(NOTEBOOK_GID), "-m", "0755",
            f"/data/groups/{group}",
        ])
        if why is None and path.is_dir():
            return True, f"Created folder {path} (owner {NOTEBOOK_UID}:{NOTEBOOK_GID})"
        return False, (
            f"Could not create {path} ({why or 'permission denied'}): the hub creates it "
            "at the next server start of a member or admin"
        )
    except OSError as exc:
        raise DokkuError(f"cannot create {path}: {exc.strerror}") from None
    if os.geteuid() == 0:
        os.chown(path, NOTEBOOK_UID, NOTEBOOK_GID)
        return True, f"Created folder {path} (owner {NOTEBOOK_UID}:{NOTEBOOK_GID})"
    return True, (
        f"Created folder {path}; the hub gives it to {NOTEBOOK_UID}:{NOTEBOOK_GID} "
        "(the notebook user) at the next server start"
    )


def purge_folder(app: str, group: str) -> None:
    """Delete `groups/<group>` and everything in it; a symlink is removed, never followed."""
    path = group_folder(app, group)
    try:
        if path.is_symlink():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        return
    except PermissionError:
        # Files written by notebooks belong to 1000:100; the dokku user cannot remove them.
        why = as_root_in_hub_image(
            app, ["rm", "-rf", "--one-file-system", f"/data/groups/{group}"]
        )
    if why is not None or path.exists() or path.is_symlink():
        raise DokkuError(
            f"could not delete {path} ({why or 'files remain'}); the group is out of the "
            f"policy, retry with: dokku jupyterhub:groups:destroy {app} {group} --purge-data"
        )


def _require_group(doc: dict[str, Any], group: str) -> dict[str, Any]:
    try:
        return policy_ops.require_group(doc, group)
    except policy_ops.PolicyError as exc:
        raise DokkuError(str(exc)) from None


def _confirm_purge(group: str, path: Path, force: bool) -> None:
    if force:
        return
    warn(f"WARNING: this deletes every file in {path}")
    try:
        typed = click.prompt(f"To proceed, type \"{group}\"", default="", show_default=False)
    except click.Abort:  # no input at all (closed stdin): not a confirmation
        typed = ""
    if typed.strip() != group:
        raise DokkuError("Confirmation did not match; nothing was changed (or pass --force)")


# ---- commands ---------------------------------------------------------------------------


@click.command("groups:create")
@click.argument("app")
@click.argument("group")
@click.option("--members-mode", type=click.Choice(policy.MODES), default=None,
              metavar="ro|rw", help="Members' access to the group folder (default ro)")
def groups_create(app: str, group: str, members_mode: str | None) -> None:
    """Create a group and its shared folder"""
    hub_app(app)
    g = group_name(group)
    with policy_store.update(app) as doc:
        outcome = policy_ops.create_group(doc, g, members_mode)
        # Folder before the policy write: a refused folder leaves the policy untouched.
        created, message = ensure_group_folder(app, g.name)
        doc.clear()
        doc.update(outcome.doc)
    show(outcome, [g])
    (info1 if created else verbose)(message)


@click.command("groups:destroy")
@click.argument("app")
@click.argument("group")
@click.option("--purge-data", is_flag=True, help="Also delete the group's folder and its files")
@click.option("--force", is_flag=True, help="Do not ask for confirmation of --purge-data")
def groups_destroy(app: str, group: str, purge_data: bool, force: bool) -> None:
    """Destroy a group (its folder is kept unless --purge-data)"""
    hub_app(app)
    g = group_name(group)
    path = group_folder(app, g.name)
    doc = policy_store.read(app)
    known = g.name in doc.get("groups", {})
    folder_left = path.is_dir() or path.is_symlink()
    # A group destroyed earlier without --purge-data can still have its folder purged.
    if not known and not (purge_data and folder_left):
        _require_group(doc, g.name)
    if purge_data and folder_left:
        _confirm_purge(g.name, path, force)
    if known:
        outcome = policy_store.change(app, lambda doc: policy_ops.destroy_group(doc, g))
        show(outcome, [g])
    if purge_data:
        if folder_left:
            purge_folder(app, g.name)
            info1(f"Deleted folder {path}")
        else:
            verbose(f"No folder at {path}")
    elif folder_left:
        verbose(f"Kept folder {path} and its files")
        verbose(f"Delete it with: dokku jupyterhub:groups:destroy {app} {g.name} --purge-data")


@click.command("groups:list")
@click.argument("app")
@format_option
def groups_list(app: str, fmt: str) -> None:
    """List groups with their members mode and size"""
    doc = policy_store.read(hub_app(app))
    groups = doc.get("groups", {})
    limits = doc.get("limits", {}).get("groups", {})
    if fmt == "json":
        out(json.dumps([_group_json(app, name, spec, limits.get(name, {}))
                        for name, spec in sorted(groups.items())], indent=2))
        return
    rows = [
        [name, spec.get("members_mode", "ro"), str(len(spec.get("members", []))),
         limits.get(name, {}).get("memory", "-"),
         policy_ops.cpu_text(limits.get(name, {}).get("cpu")), str(group_folder(app, name))]
        for name, spec in sorted(groups.items())
    ]
    print_table(f"{app} groups", ["GROUP", "MODE", "MEMBERS", "MEMORY", "CPU", "FOLDER"],
                rows, "no groups")


def _group_json(app: str, name: str, spec: dict[str, Any], limit: dict[str, Any]) -> dict:
    return {
        "name": name,
        "members_mode": spec.get("members_mode", "ro"),
        "members": spec.get("members", []),
        "limits": limit,
        "folder": str(group_folder(app, name)),
    }


@click.command("groups:add-member")
@click.argument("app")
@click.argument("group")
@click.argument("user", nargs=-1, required=True)
def groups_add_member(app: str, group: str, user: tuple[str, ...]) -> None:
    """Add users to a group"""
    hub_app(app)
    g = group_name(group)
    names = user_names(app, user)
    outcome = policy_store.change(app, lambda doc: policy_ops.add_members(doc, g, names))
    show(outcome, [g, *names])


@click.command("groups:remove-member")
@click.argument("app")
@click.argument("group")
@click.argument("user", nargs=-1, required=True)
def groups_remove_member(app: str, group: str, user: tuple[str, ...]) -> None:
    """Remove users from a group"""
    hub_app(app)
    g = group_name(group)
    names = user_names(app, user)
    outcome = policy_store.change(app, lambda doc: policy_ops.remove_members(doc, g, names))
    show(outcome, [g, *names])


@click.command("groups:members")
@click.argument("app")
@click.argument("group")
@format_option
def groups_members(app: str, group: str, fmt: str) -> None:
    """List the members of a group"""
    hub_app(app)
    g = group_name(group)
    spec = _require_group(policy_store.read(app), g.name)
    print_list(f"{app} group {g.name} members ({spec.get('members_mode', 'ro')})",
               spec.get("members", []), "no members", fmt)


COMMANDS = [
    groups_create,
    groups_destroy,
    groups_list,
    groups_add_member,
    groups_remove_member,
    groups_members,
]
