"""`admins:*`: who administers the hub. Also the small helpers every policy command uses
(groups, limits, users import them from here).

Every policy command checks the app, then every name, before it takes the policy lock; the
change itself is a pure function of `policy_ops` applied by `policy_store.change`, which
writes only when the policy actually changes. The hub reads the file at every spawn, so
nothing is restarted and running servers keep the settings they started with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from dokku_jupyterhub import policy_ops, policy_store
from dokku_jupyterhub.output import DokkuError, info1, info2_quiet, out, verbose, verbose_quiet

NEXT_SPAWN = (
    "Takes effect at each user's next login or server start; running servers are not touched"
)

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["stdout", "json"]),
    default="stdout",
    metavar="stdout|json",
    help="Output format",
)


def hub_app(app: str) -> str:
    return policy_store.require_hub_app(app)


def user_names(app: str, typed: Iterable[str]) -> list[policy_ops.Name]:
    try:
        return policy_ops.normalise_users(typed, policy_store.auth_provider(app))
    except policy_ops.PolicyError as exc:
        raise DokkuError(str(exc)) from None


def group_name(typed: str) -> policy_ops.Name:
    try:
        return policy_ops.normalise_group(typed)
    except policy_ops.PolicyError as exc:
        raise DokkuError(str(exc)) from None


def apply(
    app: str, op: Callable[[dict[str, Any]], policy_ops.Outcome], names: Sequence[Any] = ()
) -> policy_ops.Outcome:
    """Apply a pure change under the lock and tell the user what it did."""
    outcome = policy_store.change(app, op)
    show(outcome, names)
    return outcome


def show(outcome: policy_ops.Outcome, names: Sequence[Any] = ()) -> None:
    for n in names:
        if n.note:
            verbose(n.note)
    for line in outcome.done:
        info1(line)
    for line in outcome.unchanged:
        info1(f"{line}: nothing to change")
    if outcome.done:
        verbose(NEXT_SPAWN)


def print_list(header: str, items: Sequence[str], empty: str, fmt: str) -> None:
    """A Dokku-style list: `=====> header` then one bare item per line (or JSON)."""
    if fmt == "json":
        out(json.dumps(list(items)))
        return
    info2_quiet(header)
    if not items:
        verbose_quiet(empty)
    for item in items:
        out(item)


def print_table(header: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                empty: str) -> None:
    info2_quiet(header)
    if not rows:
        verbose_quiet(empty)
        return
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    for row in [columns, *rows]:
        out("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


# ---- commands ---------------------------------------------------------------------------


@click.command("admins:add")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def admins_add(app: str, user: tuple[str, ...]) -> None:
    """Make users admins of the hub"""
    names = user_names(hub_app(app), user)
    apply(app, lambda doc: policy_ops.add_admins(doc, names), names)


@click.command("admins:remove")
@click.argument("app")
@click.argument("user", nargs=-1, required=True)
def admins_remove(app: str, user: tuple[str, ...]) -> None:
    """Take admin rights away from users"""
    names = user_names(hub_app(app), user)
    outcome = apply(app, lambda doc: policy_ops.remove_admins(doc, names), names)
    if outcome.done and not outcome.doc.get("admins"):
        verbose(f"{app} has no admins left: add one with dokku jupyterhub:admins:add {app} <user>")


@click.command("admins:list")
@click.argument("app")
@format_option
def admins_list(app: str, fmt: str) -> None:
    """List the hub's admins"""
    doc = policy_store.read(hub_app(app))
    print_list(f"{app} admins", doc.get("admins", []), "no admins", fmt)


COMMANDS = [admins_add, admins_remove, admins_list]
