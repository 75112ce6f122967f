"""`limits:*`: memory and CPU of users' notebook containers. A limit is set for one user, a
group (`@group`) or the default; the largest that applies to a user wins (policy.limits_for),
so a limit can only raise what someone gets, never lower another rule's."""

from __future__ import annotations

import json

import click

from dokku_jupyterhub import policy_ops, policy_store
from dokku_jupyterhub.cmds.admins import format_option, hub_app, print_table, show
from dokku_jupyterhub.hub import policy
from dokku_jupyterhub.output import DokkuError, out

TARGET_USAGE = "<user>|@<group>|--default"


def _target(app: str, target: str | None, default: bool) -> policy_ops.Target:
    try:
        return policy_ops.parse_target(target, default, policy_store.auth_provider(app))
    except policy_ops.PolicyError as exc:
        raise DokkuError(str(exc)) from None


def _check_values(memory: str | None, cpu: str | None) -> None:
    """Refuse bad sizes before the lock is taken (the op checks again under it)."""
    try:
        if memory is None and cpu is None:
            raise policy_ops.PolicyError("give --memory and/or --cpu")
        if memory is not None:
            policy.check_memory(memory, policy_store.host_memory())
        if cpu is not None:
            policy.check_cpu(cpu, policy_store.host_cpus())
    except policy_ops.PolicyError as exc:
        raise DokkuError(str(exc)) from None


@click.command("limits:set")
@click.argument("app")
@click.argument("target", required=False)
@click.option("--default", "default", is_flag=True, help="Set the default for everyone")
@click.option("--memory", metavar="SIZE", help="Memory like 350m or 8G")
@click.option("--cpu", metavar="CORES", help="CPU cores like 1.5")
def limits_set(app: str, target: str | None, default: bool, memory: str | None,
               cpu: str | None) -> None:
    """Set the memory and CPU of a user or @group or the default"""
    hub_app(app)
    t = _target(app, target, default)
    _check_values(memory, cpu)
    outcome = policy_store.change(app, lambda doc: policy_ops.set_limits(
        doc, t, memory, cpu, policy_store.host_memory(), policy_store.host_cpus()))
    show(outcome)


limits_set.dokku_usage = f"<app> {TARGET_USAGE} [--memory SIZE] [--cpu CORES]"  # type: ignore[attr-defined]


@click.command("limits:unset")
@click.argument("app")
@click.argument("target", required=False)
@click.option("--default", "default", is_flag=True, help="Unset the default")
@click.option("--memory", is_flag=True, help="Unset memory only")
@click.option("--cpu", is_flag=True, help="Unset CPU only")
def limits_unset(app: str, target: str | None, default: bool, memory: bool, cpu: bool) -> None:
    """Remove memory and/or CPU limits (both unless one is named)"""
    hub_app(app)
    t = _target(app, target, default)
    outcome = policy_store.change(app, lambda doc: policy_ops.unset_limits(doc, t, memory, cpu))
    show(outcome)


limits_unset.dokku_usage = f"<app> {TARGET_USAGE} [--memory] [--cpu]"  # type: ignore[attr-defined]


@click.command("limits:list")
@click.argument("app")
@format_option
def limits_list(app: str, fmt: str) -> None:
    """List memory and CPU limits (the largest applicable wins)"""
    doc = policy_store.read(hub_app(app))
    limits = doc.get("limits", {})
    default = dict(limits.get("default", {}))
    default.setdefault("memory", policy.DEFAULT_MEMORY)
    if fmt == "json":
        out(json.dumps({"default": default, "groups": limits.get("groups", {}),
                        "users": limits.get("users", {})}, indent=2, sort_keys=True))
        return
    rows = [["--default", default["memory"], policy_ops.cpu_text(default.get("cpu"))]]
    for prefix, kind in (("@", "groups"), ("", "users")):
        for name, limit in sorted(limits.get(kind, {}).items()):
            rows.append([f"{prefix}{name}", limit.get("memory", "-"),
                         policy_ops.cpu_text(limit.get("cpu"))])
    print_table(f"{app} limits (the largest that applies to a user wins)",
                ["FOR", "MEMORY", "CPU"], rows, "no limits")


COMMANDS = [limits_set, limits_unset, limits_list]
