"""What Dokku currently has for an app, read through `dokku_cli.run` (read-only calls only).

`observe(app)` gathers everything `create` compares against, in as few calls as Dokku 0.38
allows; each reader is also usable on its own (report, list, destroy, set). The commands
used and why:

    apps:exists <app>                          exit status
    config:export --format json <app>          all of the app's config at once
    storage:list <app> --format json           [{host_path, container_path, ...}]
    domains:report <app> --domains-app-vhosts  space-separated
    ports:report <app> --ports-map             space-separated scheme:host:container
    network:exists <net>                       exit status
    network:report <app> --network-attach-post-create
    network:report <app> --network-bind-all-interfaces  the raw property, empty when unset
    network:report <app> --network-static-web-listener  host:port, empty when unset
    checks:report <app> --checks-disabled-list  none | _all_ | comma-separated process types
    nginx:report <app> --nginx-<property>      empty when unset (Dokku's default applies)
    postgres:exists <svc>
    postgres:info <svc> --links                space-separated apps, `-` for none
    letsencrypt:report <app> --letsencrypt-active  true|false
    certs:report <app> --ssl-enabled           true|false (letsencrypt's certificate or one added)
    letsencrypt:report <app> --letsencrypt-email   fails when empty (bash report)
    git:report <app> --git-sha                 `HEAD` when the app has no commit yet
    ps:report <app> --deployed                 true|false

Whether dokku-postgres / dokku-letsencrypt are installed is read from the enabled-plugins
directory: `dokku plugin:installed` must be run as root, and commands run as `dokku`.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from dokku_jupyterhub import dokku_cli, properties
from dokku_jupyterhub.gate_plan import image_has_gate
from dokku_jupyterhub.hub_apps import all_hub_apps
from dokku_jupyterhub.hub_runtime.contract import (
    HUB_PORT,
    Prop,
    hub_image,
    network_name,
    postgres_service_name,
)
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import lib_root
from dokku_jupyterhub.proxy_plan import pick_listener

# How many busy proxy addresses `other_listeners` steps over before it stops looking.
BUSY_PROBES = 16


@dataclass(frozen=True)
class StorageMount:
    """One `storage:mount` entry of an app, in Dokku's `host:container` form."""

    host: str
    container: str

    def spec(self) -> str:
        return f"{self.host}:{self.container}"


@dataclass(frozen=True)
class Observed:
    """A snapshot of Dokku's state for one app; the defaults describe "no such app"."""

    app_exists: bool = False
    config: dict[str, str] = field(default_factory=dict)
    mounts: tuple[StorageMount, ...] = ()
    domains: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    network_exists: bool = False
    attach_post_create: str = ""
    bind_all_interfaces: str | None = None  # None: the property is not set
    nginx: dict[str, str] = field(default_factory=dict)
    postgres_installed: bool = False
    postgres_service_exists: bool = False
    postgres_linked: bool = False  # the app is linked to OUR service (the one create makes)
    letsencrypt_installed: bool = False
    letsencrypt_active: bool = False
    letsencrypt_email: str = ""
    has_source: bool = False
    deployed: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    checks_disabled: str = "none"
    # The deployed hub image reaches Docker through the gate (its label): the socket can go.
    hub_has_gate: bool = False
    # The proxy addresses other hub apps of this host have (properties).
    other_listeners: tuple[str, ...] = ()


# Dokku's config key of an app without vhosts ("1"), as `apps:create` leaves it on a host
# without a global domain (plugins/domains/functions domains_setup).
NO_VHOST = "NO_VHOST"
_SHA_RE = re.compile(r"[0-9a-f]{40,64}")
# What to run when dokku-letsencrypt is missing.
LETSENCRYPT_INSTALL = "sudo dokku plugin:install https://github.com/dokku/dokku-letsencrypt.git"
NGINX_PROPERTIES = ("client-max-body-size", "proxy-read-timeout")


def _out(*args: str) -> str:
    """stdout of a read-only call that must work; failures are real errors."""
    return dokku_cli.run(*args).stdout.strip()


def _ok(*args: str) -> bool:
    return dokku_cli.run(*args, check=False).ok


def plugin_enabled(name: str) -> bool:
    enabled = os.environ.get("PLUGIN_ENABLED_PATH") or str(lib_root() / "plugins" / "enabled")
    return (Path(enabled) / name).exists()


def app_exists(app: str) -> bool:
    return _ok("apps:exists", app)


def config(app: str) -> dict[str, str]:
    text = _out("config:export", "--format", "json", app)
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise DokkuError(f"unexpected output from dokku config:export for {app}") from None
    return {str(k): str(v) for k, v in data.items()}


def mounts(app: str) -> tuple[StorageMount, ...]:
    text = _out("storage:list", app, "--format", "json")
    try:
        rows = json.loads(text or "[]")
    except json.JSONDecodeError:
        raise DokkuError(f"unexpected output from dokku storage:list for {app}") from None
    return tuple(StorageMount(r["host_path"], r["container_path"]) for r in rows or [])


def domains(app: str) -> tuple[str, ...]:
    return tuple(_out("domains:report", app, "--domains-app-vhosts").split())


def ports(app: str) -> tuple[str, ...]:
    return tuple(_out("ports:report", app, "--ports-map").split())


def network_exists(net: str) -> bool:
    return _ok("network:exists", net)


def attach_post_create(app: str) -> str:
    return _out("network:report", app, "--network-attach-post-create")


def bind_all_interfaces(app: str) -> str | None:
    """The app's `bind-all-interfaces` network property, None when it is not set (the report
    prints the raw property). Dokku's network install trigger (every `plugin:install` and
    `plugin:update`) sets it to true for every app without it (plugins/network/triggers.go
    TriggerInstall), which publishes the web port on every host interface."""
    return _out("network:report", app, "--network-bind-all-interfaces") or None


def static_web_listener(app: str) -> str:
    return _out("network:report", app, "--network-static-web-listener")


def checks_disabled(app: str) -> str:
    """`none`, `_all_` or the comma-separated process types without zero-downtime checks."""
    return _out("checks:report", app, "--checks-disabled-list") or "none"


def nginx(app: str) -> dict[str, str]:
    return {p: _out("nginx:report", app, f"--nginx-{p}") for p in NGINX_PROPERTIES}


def postgres_exists(service: str) -> bool:
    return _ok("postgres:exists", service)


def postgres_links(service: str) -> tuple[str, ...]:
    """Apps linked to a dokku-postgres service."""
    return tuple(a for a in _out("postgres:info", service, "--links").split() if a != "-")


def service_of_url(url: str | None) -> str | None:
    """The dokku-postgres service a DATABASE_URL points at (`...@dokku-postgres-<svc>:...`)."""
    host = (url or "").split("@", 1)[-1].split(":", 1)[0].split("/", 1)[0]
    return host.removeprefix("dokku-postgres-") if host.startswith("dokku-postgres-") else None


def ssl_enabled(app: str) -> bool:
    """Whether nginx serves the app over https (a certificate from letsencrypt or certs:add)."""
    result = dokku_cli.run("certs:report", app, "--ssl-enabled", check=False)
    return result.ok and result.stdout.strip() == "true"


def letsencrypt_active(app: str) -> bool:
    result = dokku_cli.run("letsencrypt:report", app, "--letsencrypt-active", check=False)
    return result.ok and result.stdout.strip() == "true"


def letsencrypt_email(app: str) -> str:
    # The bash report fails on an empty value ("not deployed"): that means "none".
    result = dokku_cli.run("letsencrypt:report", app, "--letsencrypt-email", check=False)
    return result.stdout.strip() if result.ok else ""


def has_source(app: str) -> bool:
    """Whether the app's repository has a commit. Dokku prints `HEAD` for a new app's empty
    repository (plugins/git/report.go reportSha: `git rev-parse HEAD`), a sha otherwise."""
    return bool(_SHA_RE.fullmatch(_out("git:report", app, "--git-sha")))


def deployed(app: str) -> bool:
    return _out("ps:report", app, "--deployed") == "true"


def observe(app: str, *, want_letsencrypt: bool = True) -> Observed:
    """Everything `create` needs to decide what is missing. Read-only."""
    props = properties.all_for(app)
    pg_installed = plugin_enabled("postgres")
    le_installed = plugin_enabled("letsencrypt")
    service = props.get(Prop.POSTGRES_SERVICE) or postgres_service_name(app)
    service_exists = pg_installed and postgres_exists(service)
    common = {
        "properties": props,
        "other_listeners": other_listeners(app),
        "network_exists": network_exists(network_name(app)),
        "postgres_installed": pg_installed,
        "postgres_service_exists": service_exists,
        "letsencrypt_installed": le_installed,
    }
    if not app_exists(app):
        return Observed(**common)
    check_le = le_installed and want_letsencrypt
    return Observed(
        **common,
        app_exists=True,
        config=config(app),
        mounts=mounts(app),
        domains=domains(app),
        ports=ports(app),
        attach_post_create=attach_post_create(app),
        bind_all_interfaces=bind_all_interfaces(app),
        nginx=nginx(app),
        postgres_linked=service_exists and app in postgres_links(service),
        letsencrypt_active=bool(check_le and letsencrypt_active(app)),
        letsencrypt_email=letsencrypt_email(app) if check_le else "",
        has_source=has_source(app),
        deployed=deployed(app),
        checks_disabled=checks_disabled(app),
        hub_has_gate=hub_image_has_gate(app),
    )


def hub_image_has_gate(app: str) -> bool:
    """Whether the app's deployed hub image has the Docker gate (its label). Docker down or
    no image: False (the socket is then kept, never removed on a guess)."""
    # docker-py only here: the other readers serve commands that never need it.
    import docker.errors

    from dokku_jupyterhub import docker_api

    try:
        image = docker_api.client().images.get(hub_image(app))
    except (DokkuError, docker.errors.DockerException):
        return False
    return image_has_gate(image.labels)


def other_listeners(app: str) -> tuple[str, ...]:
    """The proxy addresses `app` cannot have: every other hub app's on this host, and the
    first free-looking ones that something else already listens on (up to a few)."""
    found = (properties.get(a, Prop.PROXY_LISTENER) for a in all_hub_apps() if a != app)
    taken = {ip for ip in found if ip}
    own = properties.get(app, Prop.PROXY_LISTENER)
    for _ in range(BUSY_PROBES):
        candidate = pick_listener(taken)
        if candidate == own or port_free(candidate, HUB_PORT):
            break
        taken.add(candidate)
    return tuple(sorted(taken))


def port_free(ip: str, port: int) -> bool:
    """Whether nothing listens on ip:port (a bind test; the socket is closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True
