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

from dokku_jupyterhub import policy_ops, policy_store
from dokku_jupyterhub.commands.admins import (
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


def ensure_group_folder(app: str, group: str) -> tuple[Path, bool]:
    """Create the group's folder (owned 1000:100 when we can); (path, created)."""
    path = group_folder(app, group)
    if path.is_symlink():
        raise DokkuError(f"{path} is a symbolic link: refusing to use it as a group folder")
    if path.is_dir():
        return path, False
    try:
        path.parent.mkdir(mode=0o755, exist_ok=True)
        path.mkdir(mode=0o755)
        if os.geteuid() == 0:
            os.chown(path, NOTEBOOK_UID, NOTEBOOK_GID)
    except OSError as exc:
        raise DokkuError(f"cannot create {path}: {exc.strerror}") from None
    return path, True


def purge_folder(app: str, group: str) -> Path:
    path = group_folder(app, group)
    if path.is_symlink():
        path.unlink()  # never follow a link out of the data root
    elif path.is_dir():
        shutil.rmtree(path)
    return path


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
        # Folder before the policy write: a failure here leaves the policy untouched.
        path, created = ensure_group_folder(app, g.name)
        doc.clear()
        doc.update(outcome.doc)
    show(outcome, [g])
    if created:
        info1(f"Created folder {path}")
        if os.geteuid() != 0:
            verbose(
                f"Owner {NOTEBOOK_UID}:{NOTEBOOK_GID} (the notebook user) is set by the hub at "
                "the next spawn of a member"
            )
    else:
        verbose(f"Folder {path} exists; its files are kept")


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
