"""`limits:*`: memory and CPU of users' notebook containers. A limit is set for one user, a
group (`@group`) or the default; the largest that applies to a user wins (policy.limits_for),
so a limit can only raise what someone gets, never lower another rule's."""

from __future__ import annotations

import json

import click

from dokku_jupyterhub import policy_edit, policy_ops, policy_store
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.hub_runtime.contract import DEFAULT_MEMORY
from dokku_jupyterhub.listing import format_option, print_table
from dokku_jupyterhub.output import out, warn

TARGET_USAGE = "<user>|@<group>|--default"


@click.command("limits:set")
@click.argument("app")
@click.argument("target", required=False)
@click.option("--default", "default", is_flag=True, help="Set the default for everyone")
@click.option("--memory", metavar="SIZE", help="Memory like 350m or 8G")
@click.option("--cpu", metavar="CORES", help="CPU cores like 1.5")
def limits_set(app: str, target: str | None, default: bool, memory: str | None,
               cpu: str | None) -> None:
    """Set the memory and CPU of a user or @group or the default"""
    t = policy_edit.target(require_hub_app(app), target, default)
    # Bad values are refused before the policy is read, as the op would refuse them.
    policy_ops.check_limit_values(memory, cpu, policy_store.host_memory(),
                                  policy_store.host_cpus())
    change = policy_edit.apply(app, lambda doc: policy_ops.set_limits(
        doc, t, memory, cpu, policy_store.host_memory(), policy_store.host_cpus()))
    for line in policy_ops.no_effect(change.doc, t):
        warn(line)


limits_set.dokku_usage = f"<app> {TARGET_USAGE} [--memory SIZE] [--cpu CORES]"  # type: ignore[attr-defined]


@click.command("limits:unset")
@click.argument("app")
@click.argument("target", required=False)
@click.option("--default", "default", is_flag=True, help="Unset the default")
@click.option("--memory", is_flag=True, help="Unset memory only")
@click.option("--cpu", is_flag=True, help="Unset CPU only")
def limits_unset(app: str, target: str | None, default: bool, memory: bool, cpu: bool) -> None:
    """Remove memory and/or CPU limits (both unless one is named)"""
    t = policy_edit.target(require_hub_app(app), target, default)
    policy_edit.apply(app, lambda doc: policy_ops.unset_limits(doc, t, memory, cpu))


limits_unset.dokku_usage = f"<app> {TARGET_USAGE} [--memory] [--cpu]"  # type: ignore[attr-defined]


@click.command("limits:list")
@click.argument("app")
@format_option
def limits_list(app: str, fmt: str) -> None:
    """List memory and CPU limits (the largest applicable wins)"""
    doc = policy_store.read(require_hub_app(app))
    limits = doc.get("limits", {})
    default = dict(limits.get("default", {}))
    default.setdefault("memory", DEFAULT_MEMORY)
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
