"""`set <app>|--global <key> [<value>] [--no-restart]`: change one of the plugin's settings
(the keys and where each lives are in setting_keys.py). An empty value unsets. Settings the
hub reads at start (notebook-image, idle-timeout) restart it, unless `--no-restart`; the
policy's default limits go through the same policy operations as `limits:*`."""

from __future__ import annotations

import click

from dokku_jupyterhub import (
    dokku_cli,
    dokku_state,
    policy_ops,
    policy_store,
    properties,
    setting_keys,
)
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.hub_runtime.contract import Prop
from dokku_jupyterhub.output import info1, verbose

NEXT_SPAWN = "takes effect when each user's server next starts"


@click.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("app")
@click.argument("key")
@click.argument("value", required=False, default="")
@click.option("--no-restart", is_flag=True, help="Do not restart the hub")
def set_(app: str, key: str, value: str, no_restart: bool) -> None:
    """Set or clear a jupyterhub setting of an app or --global"""
    if app != properties.GLOBAL:
        require_hub_app(app)
    change = setting_keys.parse(app, key, value)
    where = change.setting.where
    if where == "property":
        _apply_property(change)
    elif where == "policy":
        _apply_policy(change)
    elif where == "config":
        _apply_config(change, restart=not no_restart)
    elif where == "nginx":
        _apply_nginx(change)


set_.dokku_usage = "<app>|--global <key> [<value>] [--no-restart]"  # type: ignore[attr-defined]


def _said(change: setting_keys.Change, shown: str) -> str:
    target = "globally" if change.target == properties.GLOBAL else f"for {change.target}"
    if change.unset:
        return f"{change.key} unset {target}"
    return f"{change.key} set to {shown} {target}"


def _apply_property(change: setting_keys.Change) -> None:
    if (properties.get(change.target, change.key) or "") == change.value:
        info1(f"{change.key} is already {change.value or 'unset'}: nothing to do")
        return
    properties.set(change.target, change.key, change.value)
    info1(_said(change, change.value))
    if change.key == "hub-base-image":
        verbose(
            "used when the hub source is generated: `dokku jupyterhub:export` and the "
            "deploy of a new app; redeploy the generated source to apply it"
        )
    else:
        verbose("used by the next notebook image build (dokku jupyterhub:rebuild-image)")


def _apply_policy(change: setting_keys.Change) -> None:
    """`memory-limit` / `cpu-limit`: the policy's default, exactly as `limits:set --default`
    and `limits:unset --default` change it (an unset memory is the default's floor again)."""
    field = "memory" if change.key == "memory-limit" else "cpu"
    result = policy_store.change(change.target, lambda doc: policy_ops.set_default_limit(
        doc, field, change.value, policy_store.host_memory(), policy_store.host_cpus()))
    if not result.done:
        info1(f"{change.key} is already {change.value or 'unset'}: nothing to do")
        return
    info1(_said(change, change.value))
    verbose(f"default limit for every user; {NEXT_SPAWN}")


def _apply_config(change: setting_keys.Change, restart: bool) -> None:
    app = change.target
    config_key = setting_keys.CONFIG_KEYS[change.key]
    wanted = setting_keys.effective_config_value(change)
    current = dokku_cli.run("config:get", app, config_key, check=False).stdout.strip()
    prop_changed = (properties.get(app, change.key) or "") != change.value
    if current == wanted and not prop_changed:
        info1(f"{change.key} is already {change.value or 'unset'}: nothing to do")
        return
    if change.key == "notebook-image":
        # The property's presence is what turns automatic notebook builds off.
        properties.set(app, Prop.NOTEBOOK_IMAGE, change.value)
    else:
        properties.set(app, Prop.IDLE_TIMEOUT, wanted)
    info1(_said(change, change.value))
    if change.key == "notebook-image":
        if change.unset:
            verbose(f"automatic notebook builds are on again ({wanted})")
            verbose(f"build it now if needed: dokku jupyterhub:rebuild-image {app}")
        else:
            verbose("automatic notebook builds are off while an image is pinned")
    if current == wanted:
        return
    args = ["config:set", app, f"{config_key}={wanted}"]
    if not restart:
        args.insert(1, "--no-restart")
    deployed = dokku_state.deployed(app)
    dokku_cli.run(*args, stream=restart and deployed)
    if not restart and deployed:
        verbose(f"the hub reads it at start: dokku ps:restart {app}")


def _apply_nginx(change: setting_keys.Change) -> None:
    app = change.target
    wanted = setting_keys.effective_body_size(change)
    current = dokku_cli.run(
        "nginx:report", app, "--nginx-client-max-body-size", check=False
    ).stdout.strip()
    if current == wanted and properties.get(app, Prop.MAX_BODY_SIZE) == wanted:
        info1(f"{change.key} is already {wanted}: nothing to do")
        return
    if current != wanted:
        dokku_cli.run("nginx:set", app, "client-max-body-size", wanted)
        dokku_cli.run("proxy:build-config", app)
    properties.set(app, Prop.MAX_BODY_SIZE, wanted)
    info1(_said(change, wanted))


COMMANDS = [set_]

