"""The jupyterhub report of a hub app (`jupyterhub:report` and the `report` trigger that
`dokku report <app>` runs), in Dokku's report convention
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

from dokku_jupyterhub import companions, dokku_state, policy_store, properties
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.hub_runtime.contract import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MEMORY,
    LAST_SPAWN_FAILURE_FILE,
    MASK,
    BuildRecord,
    Env,
    Prop,
    notebook_image,
)
from dokku_jupyterhub.output import DokkuError, info2_quiet, out, verbose
from dokku_jupyterhub.paths import data_root

PREFIX = "--jupyterhub-"
# The report keys read from policy.json.
POLICY_KEYS = ("admins-count", "groups-count", "memory-limit", "cpu-limit")
INVALID_POLICY = "invalid policy: "


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
        return f"not installed: {dokku_state.LETSENCRYPT_INSTALL}"
    if not domains:
        return f"needs a domain first: dokku jupyterhub:create {app} --domain hub.example.edu"
    return f"off: dokku letsencrypt:set {app} email ADDR && dokku letsencrypt:enable {app}"


def read_policy(app: str) -> tuple[dict, str]:
    """The app's policy (defaults without a file) and "", or {} and why it cannot be used."""
    path = policy_store.policy_path(app)
    try:
        return policy.loads(path.read_bytes()), ""
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
        "memory-limit": str(default.get("memory") or DEFAULT_MEMORY),
        "cpu-limit": f"{default['cpu']:g}" if default.get("cpu") else "unlimited",
    }


def last_spawn_failure(app: str) -> str:
    """`<time> <user>: <reason>` of the last server that died starting, as the hub recorded
    it; empty when none did (or the record cannot be read)."""
    try:
        record = json.loads((data_root(app) / LAST_SPAWN_FAILURE_FILE).read_bytes())
        return f"{record['time']} {record['user']}: {record['reason']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def values(app: str) -> dict[str, str]:
    """Every report flag (`--jupyterhub-<key>`) of a hub app with its value."""
    props = properties.all_for(app)
    exists = dokku_state.app_exists(app)
    cfg = dokku_state.config(app) if exists else {}
    domains = dokku_state.domains(app) if exists else ()
    active: bool | None = None
    if dokku_state.plugin_enabled("letsencrypt"):
        active = exists and dokku_state.letsencrypt_active(app)
    pinned = props.get(Prop.NOTEBOOK_IMAGE)
    image = cfg.get(Env.NOTEBOOK_IMAGE) or pinned or notebook_image(app)
    flat = {
        "url": f"{'https' if active else 'http'}://{domains[0]}/" if domains else "",
        "data-root": str(data_root(app)),
        "domains": " ".join(domains),
        "db-kind": props.get(Prop.DB_KIND)
        or ("postgres" if cfg.get(Env.DATABASE_URL) else "sqlite"),
        "postgres-service": props.get(Prop.POSTGRES_SERVICE, ""),
        "database-url": mask_url(cfg.get(Env.DATABASE_URL)),
        "auth-provider": props.get(Prop.AUTH_PROVIDER) or cfg.get(Env.AUTH_PROVIDER) or "none",
        **policy_values(*read_policy(app)),
        "notebook-image": image,
        "notebook-builds": "off (pinned image)" if pinned else "automatic",
        "hub-base-image": properties.get_with_global(app, Prop.HUB_BASE_IMAGE, "") or "",
        "notebook-base-image": properties.get_with_global(app, Prop.NOTEBOOK_BASE_IMAGE, "") or "",
        **{key: props.get(key, "") for key in
           (BuildRecord.STATUS, BuildRecord.TIME, BuildRecord.IMAGE_ID)},
        "last-spawn-failure": last_spawn_failure(app),
        **(companions.status_texts(app, cfg) if exists
           else dict.fromkeys(("proxy", "docker-gate"), "")),
        "proxy-listener": dokku_state.static_web_listener(app) if exists else "",
        "idle-timeout": cfg.get(Env.IDLE_TIMEOUT)
        or props.get(Prop.IDLE_TIMEOUT)
        or str(DEFAULT_IDLE_TIMEOUT),
        "max-body-size": props.get(Prop.MAX_BODY_SIZE) or DEFAULT_MAX_BODY_SIZE,
        "letsencrypt": letsencrypt_hint(app, active, domains),
        "admin-password": mask(cfg.get(Env.ADMIN_PASSWORD)),
        "api-token": mask(cfg.get(Env.API_TOKEN)),
        "proxy-token": mask(cfg.get(Env.PROXY_TOKEN)),
        "oauth-client-secret": mask(cfg.get(Env.CLIENT_SECRET)),
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
