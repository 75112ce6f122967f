"""`report [<app>] [--jupyterhub-<key>] [--format stdout|json]`, in Dokku's report convention
(plugins/common ReportSingleApp): a `=====> <app> jupyterhub information` header, then one
`Key name:` line per flag, sorted, padded to the longest flag (at least 31 columns); a single
flag prints only its raw value; JSON keys drop the `jupyterhub-` prefix. Secrets are always
masked, whatever the format. The `report` trigger (`dokku report <app>`) prints the same.

A corrupt policy.json must not hide the rest (the report is where an admin looks when the
hub misbehaves): the keys read from it show `invalid policy: <reason>`, the full report
still exits 0, and asking for one of those keys alone fails with the reason.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import click

from dokku_jupyterhub import policy_store, properties, state
from dokku_jupyterhub.create import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_SIZE
from dokku_jupyterhub.hub import policy
from dokku_jupyterhub.output import DokkuError, info2_quiet, out, verbose
from dokku_jupyterhub.paths import data_root

PREFIX = "--jupyterhub-"
MASK = "********"
# The report keys read from policy.json.
POLICY_KEYS = ("admins-count", "groups-count", "memory-limit", "cpu-limit")
INVALID_POLICY = "invalid policy: "
LETSENCRYPT_INSTALL = (
    "sudo dokku plugin:install https://github.com/dokku/dokku-letsencrypt.git"
)


def mask(value: str | None) -> str:
    return MASK if value else ""


def mask_url(url: str | None) -> str:
    """`postgres://user:secret@host/db` → `postgres://user:********@host/db`."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:{MASK}@{host}" if parts.username else f"{MASK}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def letsencrypt_hint(app: str, active: bool | None, domains: tuple[str, ...]) -> str:
    if active:
        return "active"
    if active is None:
        return f"not installed: {LETSENCRYPT_INSTALL}"
    if not domains:
        return f"needs a domain first: dokku domains:add {app} hub.example.edu"
    return f"off: dokku letsencrypt:set {app} email ADDR && dokku letsencrypt:enable {app}"


def read_policy(app: str) -> tuple[dict, str]:
    """The app's policy (defaults without a file) and "", or {} and why it cannot be used."""
    path = policy_store.policy_path(app)
    try:
        return policy.loads(path.read_text()), ""
    except FileNotFoundError:
        return policy.empty(), ""
    except OSError as exc:
        return {}, f"cannot read {path}: {exc.strerror}"
    except policy.PolicyError as exc:
        return {}, str(exc)


def policy_values(doc: dict, error: str) -> dict[str, str]:
    if error:
        return dict.fromkeys(POLICY_KEYS, INVALID_POLICY + error)
    default = doc.get("limits", {}).get("default", {})
    return {
        "admins-count": str(len(doc.get("admins", []))),
        "groups-count": str(len(doc.get("groups", {}))),
        "memory-limit": str(default.get("memory") or policy.DEFAULT_MEMORY),
        "cpu-limit": f"{default['cpu']:g}" if default.get("cpu") else "unlimited",
    }


def values(app: str) -> dict[str, str]:
    """Every report flag (`--jupyterhub-<key>`) of a hub app with its value."""
    props = properties.all_for(app)
    exists = state.app_exists(app)
    cfg = state.config(app) if exists else {}
    domains = state.domains(app) if exists else ()
    active: bool | None = None
    if state.plugin_enabled("letsencrypt"):
        active = exists and state.letsencrypt_active(app)
    pinned = props.get("notebook-image")
    image = cfg.get("DOCKER_JUPYTER_IMAGE") or pinned or f"dokku/{app}-notebook:latest"
    flat = {
        "url": f"{'https' if active else 'http'}://{domains[0]}/" if domains else "",
        "data-root": str(data_root(app)),
        "domains": " ".join(domains),
        "db-kind": props.get("db-kind") or ("postgres" if cfg.get("DATABASE_URL") else "sqlite"),
        "postgres-service": props.get("postgres-service", ""),
        "database-url": mask_url(cfg.get("DATABASE_URL")),
        "auth-provider": props.get("auth-provider") or cfg.get("HUB_AUTH_PROVIDER") or "none",
        **policy_values(*read_policy(app)),
        "notebook-image": image,
        "notebook-builds": "off (pinned image)" if pinned else "automatic",
        "hub-base-image": properties.get_with_global(app, "hub-base-image", "") or "",
        "notebook-base-image": properties.get_with_global(app, "notebook-base-image", "") or "",
        "last-build-status": props.get("last-build-status", ""),
        "last-build-time": props.get("last-build-time", ""),
        "last-build-image-id": props.get("last-build-image-id", ""),
        "idle-timeout": cfg.get("HUB_IDLE_TIMEOUT")
        or props.get("idle-timeout")
        or str(DEFAULT_IDLE_TIMEOUT),
        "max-body-size": props.get("max-body-size") or DEFAULT_MAX_BODY_SIZE,
        "letsencrypt": letsencrypt_hint(app, active, domains),
        "admin-password": mask(cfg.get("HUB_ADMIN_PASSWORD")),
        "api-token": mask(cfg.get("HUB_PLUGIN_API_TOKEN")),
        "oauth-client-secret": mask(cfg.get("HUB_OAUTH_CLIENT_SECRET")),
    }
    return {PREFIX + k: v for k, v in flat.items()}


def render_stdout(app: str, flags: dict[str, str]) -> list[str]:
    """The padded lines after the header, as Dokku's ReportSingleApp prints them."""
    width = max([31, *(len(k) for k in flags)])
    lines = []
    for flag in sorted(flags):
        key = flag.removeprefix("--").replace("-", " ")
        key = key[:1].upper() + key[1:]
        lines.append(f"{key + ':':<{width}}{flags[flag]}")
    return lines


def print_report(app: str, fmt: str = "stdout", flag: str | None = None) -> None:
    flags = values(app)
    if flag:
        if flag not in flags:
            raise DokkuError(f"Invalid flag passed, valid flags: {', '.join(sorted(flags))}")
        if flag.removeprefix(PREFIX) in POLICY_KEYS and flags[flag].startswith(INVALID_POLICY):
            reason = flags[flag].removeprefix(INVALID_POLICY)
            raise DokkuError(f"{policy_store.policy_path(app)} is invalid: {reason}")
        out(flags[flag])
        return
    if fmt == "json":
        data = {k.removeprefix(PREFIX): v for k, v in sorted(flags.items())}
        out(json.dumps(data, separators=(",", ":")))  # compact, as Go's json.Marshal
        return
    info2_quiet(f"{app} jupyterhub information")
    for line in render_stdout(app, flags):
        verbose(line)


@click.command("report", context_settings={"ignore_unknown_options": True})
@click.argument("app", required=False)
@click.argument("flags", nargs=-1, type=click.UNPROCESSED)
@click.option("--format", "fmt", type=click.Choice(["stdout", "json"]), default="stdout",
              metavar="stdout|json", help="Output format")
def report(app: str | None, flags: tuple[str, ...], fmt: str) -> None:
    """Display a jupyterhub report for one or more hub apps"""
    args = [a for a in (app, *flags) if a]
    info = [a for a in args if a.startswith("--")]
    names = [a for a in args if not a.startswith("--")]
    if len(info) > 1:
        raise DokkuError("jupyterhub:report command allows only a single flag")
    if len(names) > 1:
        raise DokkuError(f"unexpected arguments: {' '.join(names[1:])}")
    flag = info[0] if info else None
    if flag and fmt != "stdout":
        raise DokkuError("--format flag cannot be specified when specifying an info flag")
    if names:
        apps = [state.require_hub_app(names[0])]
    else:
        apps = properties.apps_with("hub-app")
        if not apps:
            raise DokkuError("You haven't deployed any jupyterhub apps")
    for name in apps:
        print_report(name, fmt, flag)


report.dokku_usage = "[<app>] [--jupyterhub-<key>] [--format stdout|json]"  # type: ignore[attr-defined]

COMMANDS = [report]
