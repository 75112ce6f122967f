"""`groups:*`: groups of users sharing a folder (`groups/<group>` under the app's data root,
mounted at ~/work/groups/<group> for members, read-only or read-write per group, and
read-write for admins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dokku_jupyterhub import group_folders, policy_edit, policy_ops, policy_store
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.listing import format_option, print_list, print_table
from dokku_jupyterhub.output import DokkuError, info1, out, verbose, warn


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
    require_hub_app(app)
    g = policy_ops.normalise_group(group)
    folder: list[tuple[bool, str]] = []
    # The folder before the policy write: a refused folder leaves the policy untouched, and
    # a folder made for a write that then failed (a full disk) is removed again.
    try:
        change = policy_store.change(
            app, lambda doc: policy_ops.create_group(doc, g, members_mode),
            before_write=lambda _: folder.append(group_folders.ensure(app, g.name)),
        )
    except BaseException:
        if folder and folder[0][0]:
            group_folders.remove_new(app, g.name)
        raise
    policy_edit.show(change, [g])
    created, message = folder[0]
    (info1 if created else verbose)(message)


@click.command("groups:destroy")
@click.argument("app")
@click.argument("group")
@click.option("--purge-data", is_flag=True, help="Also delete the group's folder and its files")
@click.option("--force", is_flag=True, help="Do not ask for confirmation of --purge-data")
def groups_destroy(app: str, group: str, purge_data: bool, force: bool) -> None:
    """Destroy a group (its folder is kept unless --purge-data)"""
    require_hub_app(app)
    g = policy_ops.normalise_group(group)
    path = group_folders.path_of(app, g.name)
    doc = policy_store.read(app)
    known = g.name in doc.get("groups", {})
    folder_left = path.is_dir() or path.is_symlink()
    # A group destroyed earlier without --purge-data can still have its folder purged.
    if not known and not (purge_data and folder_left):
        policy_ops.require_group(doc, g.name)
    if purge_data and folder_left:
        _confirm_purge(g.name, path, force)
    if known:
        policy_edit.apply(app, lambda doc: policy_ops.destroy_group(doc, g), [g])
    if purge_data:
        if folder_left:
            group_folders.purge(app, g.name)
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
    doc = policy_store.read(require_hub_app(app))
    groups = doc.get("groups", {})
    limits = doc.get("limits", {}).get("groups", {})
    if fmt == "json":
        out(json.dumps([_group_json(app, name, spec, limits.get(name, {}))
                        for name, spec in sorted(groups.items())], indent=2))
        return
    rows = [
        [name, spec.get("members_mode", "ro"), str(len(spec.get("members", []))),
         limits.get(name, {}).get("memory", "-"),
         policy_ops.cpu_text(limits.get(name, {}).get("cpu")),
         str(group_folders.path_of(app, name))]
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
        "folder": str(group_folders.path_of(app, name)),
    }


@click.command("groups:add-member")
@click.argument("app")
@click.argument("group")
@click.argument("user", nargs=-1, required=True)
def groups_add_member(app: str, group: str, user: tuple[str, ...]) -> None:
    """Add users to a group"""
    require_hub_app(app)
    g = policy_ops.normalise_group(group)
    names = policy_edit.user_names(app, user)
    policy_edit.apply(app, lambda doc: policy_ops.add_members(doc, g, names), [g, *names])


@click.command("groups:remove-member")
@click.argument("app")
@click.argument("group")
@click.argument("user", nargs=-1, required=True)
def groups_remove_member(app: str, group: str, user: tuple[str, ...]) -> None:
    """Remove users from a group"""
    require_hub_app(app)
    g = policy_ops.normalise_group(group)
    names = policy_edit.user_names(app, user)
    policy_edit.apply(app, lambda doc: policy_ops.remove_members(doc, g, names), [g, *names])


@click.command("groups:members")
@click.argument("app")
@click.argument("group")
@format_option
def groups_members(app: str, group: str, fmt: str) -> None:
    """List the members of a group"""
    require_hub_app(app)
    g = policy_ops.normalise_group(group)
    spec = policy_ops.require_group(policy_store.read(app), g.name)
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
