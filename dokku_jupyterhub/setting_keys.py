"""The plugin's settings for `jupyterhub:set <app>|--global <key> [<value>]`: which keys exist,
where each one lives, how it is checked, when it takes effect (`SETTINGS`, also rendered as
README's settings table by helpgen). Pure: the `set` command (cmds/set_setting.py) does the
effects.

Only the two base images make sense for every hub of a host (one registry mirror, one
pinned base); the others describe one hub and its users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dokku_jupyterhub import validate
from dokku_jupyterhub.hub_runtime.contract import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MEMORY,
    Env,
    notebook_image,
)
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.properties import GLOBAL


@dataclass(frozen=True)
class Setting:
    key: str
    check: Callable[[str], str]
    where: str  # "config" | "policy" | "nginx" | "property"
    means: str  # what it is, for README
    lives: str  # where it is kept
    effect: str  # when it takes effect
    global_ok: bool = False


def _idle(value: str) -> str:
    return str(validate.idle_timeout(value))


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("notebook-image", lambda v: validate.image(v, "notebook image"), "config",
                "a pre-built notebook image; automatic builds are off while it is set",
                f"property + config {Env.NOTEBOOK_IMAGE}", "hub restart"),
        Setting("memory-limit", validate.memory, "policy",
                f"the default memory of every user's server (unset: {DEFAULT_MEMORY})",
                "policy limits.default.memory", "next spawn"),
        Setting("cpu-limit", validate.cpu, "policy",
                "the default CPU cores of every user's server (unset: no limit)",
                "policy limits.default.cpu", "next spawn"),
        Setting("idle-timeout", _idle, "config",
                f"seconds of inactivity before the idle culler stops a server "
                f"(unset: {DEFAULT_IDLE_TIMEOUT})",
                f"property + config {Env.IDLE_TIMEOUT}", "hub restart"),
        Setting("max-body-size", validate.nginx_size, "nginx",
                f"nginx's largest upload (unset: {DEFAULT_MAX_BODY_SIZE})",
                "property + nginx client-max-body-size", "proxy rebuild"),
        Setting("hub-base-image", lambda v: validate.image(v, "hub base image"), "property",
                "the hub's base image, for a mirror or your own build", "property",
                "next hub source render", global_ok=True),
        Setting("notebook-base-image", lambda v: validate.image(v, "notebook base image"),
                "property", "the notebook image's base, for a mirror or your own build",
                "property", "next notebook build", global_ok=True),
    )
}

# The config key each config-backed setting drives, and its value when unset.
CONFIG_KEYS = {"notebook-image": Env.NOTEBOOK_IMAGE, "idle-timeout": Env.IDLE_TIMEOUT}


@dataclass(frozen=True)
class Change:
    target: str  # app name or GLOBAL
    key: str
    value: str  # "" = unset
    setting: Setting

    @property
    def unset(self) -> bool:
        return self.value == ""


def parse(target: str, key: str, value: str | None) -> Change:
    """Check target, key and value; raise DokkuError listing the valid keys when unknown."""
    setting = SETTINGS.get(key)
    if setting is None:
        raise DokkuError(f"Invalid key {key!r}, valid keys: {', '.join(SETTINGS)}")
    if target == GLOBAL and not setting.global_ok:
        allowed = ", ".join(k for k, s in SETTINGS.items() if s.global_ok)
        raise DokkuError(f"{key} can only be set per app (global keys: {allowed})")
    raw = (value or "").strip()
    return Change(target, key, setting.check(raw) if raw else "", setting)


def effective_config_value(change: Change) -> str:
    """The config value a config-backed setting writes (its default when unset)."""
    if change.key == "notebook-image":
        return change.value or notebook_image(change.target)
    return change.value or str(DEFAULT_IDLE_TIMEOUT)


def effective_body_size(change: Change) -> str:
    return change.value or DEFAULT_MAX_BODY_SIZE
