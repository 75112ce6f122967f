"""`users:*`: who may log in besides admins and group members, and the one view of every
user: admin flag, groups (and whether the policy or the OAuth groups claim made them a
member), effective limits, and, when the hub answers, whether a server is running."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import click

from dokku_jupyterhub import hub_api, policy_ops, policy_store
from dokku_jupyterhub.cmds.admins import apply, format_option, hub_app, print_table, user_names
from dokku_jupyterhub.hub import policy
from dokku_jupyterhub.output import out, verbose, warn

NEVER = "never logged in"


@dataclass(frozen=True)
class UserRow:
    name: str
    admin: bool
    groups: list[dict[str, str]]  # [{"name": g, "source": "policy"|"claim"|"policy+claim"}]
    memory: str
    cpu: float | None
    server: str | None  # running | pending | stopped | never logged in | None (hub unknown)
    in_policy: bool


def user_rows(doc: dict[str, Any], hub: dict[str, hub_api.HubUser] | None) -> list[UserRow]:
    """Pure: the policy's users and the hub's (when known) merged into one row each.

    A group the hub reports for a user (from the OAuth groups claim, JupyterHub's
    `manage_groups`) that the policy knows but does not list them in counts as `claim`; it
    adds to their folders and limits exactly as the hub does at spawn (`extra_groups`)."""
    named = set(policy_ops.named_users(doc))
    names = sorted(named | set(hub or {}))
    rows = []
    for name in names:
        hub_user = (hub or {}).get(name)
        explicit = set(policy.groups_of(doc, name))
        known = doc.get("groups", {})
        claimed = {g for g in (hub_user.groups if hub_user else ()) if g in known}
        groups = [
            {"name": g, "source": "policy+claim" if g in explicit and g in claimed
             else ("policy" if g in explicit else "claim")}
            for g in sorted(explicit | claimed)
        ]
        memory, cpu = policy.limits_for(doc, name, tuple(sorted(claimed)))
        server = None if hub is None else (hub_user.server if hub_user else NEVER)
        rows.append(UserRow(
            name=name,
            admin=policy.is_admin(doc, name),
            groups=groups,
            memory=memory,
            cpu=cpu,
            server=server,
            in_policy=name in named,
        ))
    return rows


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
    doc = policy_store.read(hub_app(app))
    view = hub_api.hub_users(app)
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
    names = user_names(hub_app(app), user)
    apply(app, lambda doc: policy_ops.add_users(doc, names), names)


@click.command("users:remove")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def users_remove(app: str, user: tuple[str, ...]) -> None:
    """Remove users from the allowed list (admins and group members stay allowed)"""
    names = user_names(hub_app(app), user)
    outcome = apply(app, lambda doc: policy_ops.remove_users(doc, names), names)
    for n in names:
        why = []
        if policy.is_admin(outcome.doc, n.name):
            why.append("an admin")
        groups = policy.groups_of(outcome.doc, n.name)
        if groups:
            why.append("member of " + " ".join(groups))
        if why:
            verbose(f"{n.name} can still log in as {' and '.join(why)}")


COMMANDS = [users_list, users_add, users_remove]
