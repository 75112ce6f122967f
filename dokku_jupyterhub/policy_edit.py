"""How a command changes the policy: the names it was given, as the hub will see them, and
the change applied and told.

Every policy command checks the app, then every name, before it takes the policy lock; the
change itself is a pure function of `policy_ops` applied by `policy_store.change`, which
writes only when the policy actually changes. Invalid input raises `PolicyError`, which the
CLI shows as Dokku's one-line error. The hub reads the file at every spawn, so nothing is
restarted and running servers keep the settings they started with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dokku_jupyterhub import policy_ops, policy_store, properties
from dokku_jupyterhub.hub_runtime.contract import CLOSED_PROVIDER, Prop
from dokku_jupyterhub.output import info1, verbose

NEXT_SPAWN = (
    "Takes effect at each user's next login or server start; running servers are not touched"
)


def auth_provider(app: str) -> str:
    """How the hub names users (`azuread` applies the old setup's username rule)."""
    return properties.get(app, Prop.AUTH_PROVIDER) or CLOSED_PROVIDER


def user_names(app: str, typed: Iterable[str]) -> list[policy_ops.Name]:
    return policy_ops.normalise_users(typed, auth_provider(app))


def target(app: str, typed: str | None, default: bool) -> policy_ops.Target:
    return policy_ops.parse_target(typed, default, auth_provider(app))


def apply(
    app: str, op: Callable[[dict[str, Any]], policy_ops.PolicyChange], names: Sequence[Any] = ()
) -> policy_ops.PolicyChange:
    """Apply a pure change under the lock and tell the user what it did."""
    change = policy_store.change(app, op)
    show(change, names)
    return change


def show(change: policy_ops.PolicyChange, names: Sequence[Any] = ()) -> None:
    for n in names:
        if n.note:
            verbose(n.note)
    for line in change.done:
        info1(line)
    for line in change.unchanged:
        info1(f"{line}: nothing to change")
    if change.done:
        verbose(NEXT_SPAWN)
