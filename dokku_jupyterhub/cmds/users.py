"""`users:*`: who may log in besides admins and group members, and the one view of every
user: admin flag, groups (and whether the policy or the OAuth groups claim made them a
member), effective limits, and, when the hub answers, whether a server is running."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from dokku_jupyterhub import hub_rest, policy_edit, policy_ops, policy_store
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.listing import format_option, print_table
from dokku_jupyterhub.output import out, verbose, warn
from dokku_jupyterhub.user_view import user_rows


def _groups_text(groups: list[dict[str, str]]) -> str:
    if not groups:
        return "-"
    return ", ".join(
        g["name"] + ("" if g["source"] == "policy" else f" ({g['source']})") for g in groups
    )


@click.command("users:list")
@click.argument("app")
@format_option
def users_list(app: str, fmt: str) -> None:
    """List users with admin flag and groups and limits and running servers"""
    doc = policy_store.read(require_hub_app(app))
    view = hub_rest.hub_users(app)
    rows = user_rows(doc, view.users)
    if view.note:
        warn(f"Server state unknown: {view.note}; showing the policy only")
    if fmt == "json":
        out(json.dumps([asdict(r) for r in rows], indent=2))
        return
    table = [
        [r.name, "yes" if r.admin else "no", _groups_text(r.groups), r.memory,
         policy_ops.cpu_text(r.cpu), r.server or "-"]
        for r in rows
    ]
    print_table(f"{app} users", ["USER", "ADMIN", "GROUPS", "MEMORY", "CPU", "SERVER"], table,
                "no users")


@click.command("users:add")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def users_add(app: str, user: tuple[str, ...]) -> None:
    """Allow users to log in without being in a group"""
    names = policy_edit.user_names(require_hub_app(app), user)
    policy_edit.apply(app, lambda doc: policy_ops.add_users(doc, names), names)


@click.command("users:remove")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def users_remove(app: str, user: tuple[str, ...]) -> None:
    """Remove users from the allowed list (admins and group members stay allowed)"""
    names = policy_edit.user_names(require_hub_app(app), user)
    change = policy_edit.apply(app, lambda doc: policy_ops.remove_users(doc, names), names)
    for n in names:
        why = []
        if policy.is_admin(change.doc, n.name):
            why.append("an admin")
        groups = policy.groups_of(change.doc, n.name)
        if groups:
            why.append("member of " + " ".join(groups))
        if why:
            verbose(f"{n.name} can still log in as {' and '.join(why)}")


COMMANDS = [users_list, users_add, users_remove]
