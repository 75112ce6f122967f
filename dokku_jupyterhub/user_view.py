"""One row per user for `users:list`: the policy's users and the hub's (when it answers)
merged, with admin flag, groups and where each membership comes from (the policy, the OAuth
groups claim, or both), effective limits and server state. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dokku_jupyterhub import hub_rest, policy_ops
from dokku_jupyterhub.hub_runtime import policy

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


def user_rows(doc: dict[str, Any], hub: dict[str, hub_rest.HubUser] | None) -> list[UserRow]:
    """Pure: the policy's users and the hub's (when known) merged into one row each.

    A group the hub reports for a user (from the OAuth groups claim, JupyterHub's
    `manage_groups`) that the policy knows but does not list them in counts as `claim`; it
    adds to their folders and limits exactly as the hub does at spawn (`extra_groups`)."""
    named = set(policy_ops.named_users(doc))
    names = sorted(named | set(hub or {}))
    rows = []
    for name in names:
        hub_user = (hub or {}).get(name)
        sources = policy.group_sources(doc, name, hub_user.groups if hub_user else ())
        groups = [{"name": g, "source": source} for g, source in sources.items()]
        claimed = tuple(g for g, source in sources.items() if "claim" in source)
        memory, cpu = policy.limits_for(doc, name, claimed)
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
