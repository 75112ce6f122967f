"""`admins:*`: who administers the hub."""

from __future__ import annotations

import click

from dokku_jupyterhub import policy_edit, policy_ops, policy_store
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.listing import format_option, print_list
from dokku_jupyterhub.output import verbose


@click.command("admins:add")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def admins_add(app: str, user: tuple[str, ...]) -> None:
    """Make users admins of the hub"""
    names = policy_edit.user_names(require_hub_app(app), user)
    policy_edit.apply(app, lambda doc: policy_ops.add_admins(doc, names), names)


@click.command("admins:remove")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def admins_remove(app: str, user: tuple[str, ...]) -> None:
    """Take admin rights away from users"""
    names = policy_edit.user_names(require_hub_app(app), user)
    change = policy_edit.apply(app, lambda doc: policy_ops.remove_admins(doc, names), names)
    if change.done and not change.doc.get("admins"):
        verbose(f"{app} has no admins left: add one with dokku jupyterhub:admins:add {app} <user>")


@click.command("admins:list")
@click.argument("app")
@format_option
def admins_list(app: str, fmt: str) -> None:
    """List the hub's admins"""
    doc = policy_store.read(require_hub_app(app))
    print_list(f"{app} admins", doc.get("admins", []), "no admins", fmt)


COMMANDS = [admins_add, admins_remove, admins_list]
