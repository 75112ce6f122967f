"""Checks of what an admin typed, before anything is changed.

Every function returns the normalised value or raises `DokkuError` (or, for what the policy
rules check, `PolicyError`) with the one line the admin sees. They are pure (no Dokku, no
Docker, no files), so a command can check all its input first and then act;
`caller_can_create` is the one exception and says so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dokku_jupyterhub import policy_ops
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.hub_runtime.contract import DOKKU_APP_RE, HUB_APP_CREATE_MAX
from dokku_jupyterhub.output import DokkuError

# Hostnames: lowercase labels of letters, digits and inner hyphens (RFC 1123), 253 in all.
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# nginx sizes: a number with an optional k/m/g unit (0 would mean "unlimited": refused).
_NGINX_SIZE_RE = re.compile(r"^([1-9][0-9]*)([kmg]?)$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# Docker image references: [registry[:port]/]path[:tag][@digest] (distribution's grammar,
# simplified: a registry has a dot or a port or is localhost; lowercase path components).
IMAGE_RE = re.compile(
    r"^(?:(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)(?::[0-9]+)?/|[a-zA-Z0-9-]+:[0-9]+/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
MIN_IDLE_TIMEOUT = 60  # seconds; the culler checks every minute
MAX_IDLE_TIMEOUT = 30 * 24 * 3600


def app_name(name: str) -> str:
    """A valid Dokku app name that can also carry a hub (see HUB_APP_CREATE_MAX)."""
    if not name:
        raise DokkuError("Please specify an app to run the command on")
    if not DOKKU_APP_RE.match(name):
        raise DokkuError(
            f"invalid app name {name!r}: App name must begin with lowercase alphanumeric "
            "character, and may only contain lowercase alphanumerics, dots, and hyphens"
        )
    if "." in name:
        raise DokkuError(
            f"invalid hub app name {name!r}: no dots (the name is also used for the app's "
            "network, database service and storage directory)"
        )
    if len(name) > HUB_APP_CREATE_MAX:
        raise DokkuError(f"invalid hub app name {name!r}: at most {HUB_APP_CREATE_MAX} characters")
    return name


def domain(value: str) -> str:
    d = value.strip().lower().rstrip(".")
    labels = d.split(".")
    if not d or len(d) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise DokkuError(
            f"invalid domain {value!r}: use a hostname like hub.example.edu "
            "(letters, digits and hyphens; no scheme, port or path)"
        )
    return d


def domains(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        d = domain(v)
        if d not in out:
            out.append(d)
    return tuple(out)


def nginx_size(value: str, what: str = "max body size") -> str:
    v = value.strip()
    if not _NGINX_SIZE_RE.match(v):
        raise DokkuError(f"invalid {what} {value!r}: use a size like 30m, 512k or 1g")
    return v.lower()


def memory(value: str, host_memory: int | None = None) -> str:
    """A new memory limit: a Docker size a notebook server can start in; with `host_memory`
    (bytes) also at most what the host has."""
    return policy.check_memory(value.strip().lower(), host_memory, new=True)


def cpu(value: str) -> str:
    return f"{policy.check_cpu(value):g}"


def idle_timeout(value: str | int) -> int:
    try:
        seconds = int(str(value).strip())
    except ValueError:
        raise DokkuError(f"invalid idle timeout {value!r}: use a number of seconds") from None
    if not MIN_IDLE_TIMEOUT <= seconds <= MAX_IDLE_TIMEOUT:
        raise DokkuError(
            f"invalid idle timeout {value!r}: between {MIN_IDLE_TIMEOUT} seconds "
            f"and {MAX_IDLE_TIMEOUT // 86400} days"
        )
    return seconds


def email(value: str) -> str:
    v = value.strip()
    if not _EMAIL_RE.match(v):
        raise DokkuError(f"invalid email address {value!r}")
    return v


def image(value: str, what: str = "image") -> str:
    v = value.strip()
    if len(v) > 255 or not IMAGE_RE.match(v):
        raise DokkuError(
            f"invalid {what} {value!r}: use a Docker image reference like "
            "quay.io/jupyter/scipy-notebook:2024-05-27"
        )
    return v


def usernames(values: tuple[str, ...] | list[str], provider: str = "none") -> tuple[str, ...]:
    """The hub usernames for what was typed (policy_ops' rule: JupyterHub lowercases, the
    Azure AD rule for azuread; anything unsafe is refused), duplicates dropped."""
    return tuple(n.name for n in policy_ops.normalise_users(values, provider)) if values else ()


def caller_can_create(storage_dir: Path, docker_socket: Path) -> None:
    """Effects-free checks of the host: the Docker socket the hub mounts exists, and the
    caller may create the app's data tree. (Docker access itself is checked by connecting.)"""
    if not docker_socket.exists():
        raise DokkuError(
            f"Docker socket {docker_socket} not found: the hub starts notebook servers "
            "through it (is the Docker engine installed and running?)"
        )
    existing = storage_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DokkuError(f"{existing} is not a directory: cannot create {storage_dir} there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DokkuError(
            f"no permission to create directories in {existing} "
            "(run as the dokku user through `dokku`, or as root)"
        )
