"""The plugin's settings for `jupyterhub:set <app>|--global <key> [<value>]`: which keys exist,
where each one lives, how it is checked, what applying it takes. Pure: the command
(commands/settings.py) does the effects.

    key                  lives in                                  --global   takes effect
    notebook-image       property + config DOCKER_JUPYTER_IMAGE    no         hub restart
    memory-limit         policy limits.default.memory              no         next spawn
    cpu-limit            policy limits.default.cpu                 no         next spawn
    idle-timeout         property + config HUB_IDLE_TIMEOUT        no         hub restart
    max-body-size        property + nginx client-max-body-size     no         proxy rebuild
    hub-base-image       property                                  yes        next hub source render
    notebook-base-image  property                                  yes        next notebook build

Only the two base images make sense for every hub of a host (one registry mirror, one
pinned base); the others describe one hub and its users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dokku_jupyterhub import validate
from dokku_jupyterhub.create import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    default_notebook_image,
)
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.properties import GLOBAL


@dataclass(frozen=True)
class Setting:
    key: str
    check: Callable[[str], str]
    where: str  # "config" | "policy" | "nginx" | "property"
    global_ok: bool = False


def _idle(value: str) -> str:
    return str(validate.idle_timeout(value))


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("notebook-image", lambda v: validate.image(v, "notebook image"), "config"),
        Setting("memory-limit", validate.memory, "policy"),
        Setting("cpu-limit", validate.cpu, "policy"),
        Setting("idle-timeout", _idle, "config"),
        Setting("max-body-size", validate.nginx_size, "nginx"),
        Setting("hub-base-image", lambda v: validate.image(v, "hub base image"), "property",
                global_ok=True),
        Setting("notebook-base-image", lambda v: validate.image(v, "notebook base image"),
                "property", global_ok=True),
    )
}

# The config key each config-backed setting drives, and its value when unset.
CONFIG_KEYS = {"notebook-image": "DOCKER_JUPYTER_IMAGE", "idle-timeout": "HUB_IDLE_TIMEOUT"}


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
        return change.value or default_notebook_image(change.target)
    return change.value or str(DEFAULT_IDLE_TIMEOUT)


def effective_body_size(change: Change) -> str:
    return change.value or DEFAULT_MAX_BODY_SIZE
