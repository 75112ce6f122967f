"""What `dokku jupyterhub:create <app>` does, read top to bottom.

`plan(options, seen, secrets)` is a pure function: from the validated options and what Dokku
already has for the app (`dokku_state.Observed`) it returns the ordered steps still missing.
Every step compares the wanted state with the observed one, so a second run plans nothing
("already set up") and a run interrupted anywhere is finished by running the same command
again: nothing is added twice and the data is never touched. `cmds/lifecycle.py` observes,
validates and plans, `create_steps.py` runs the steps; this module decides.

The steps, in the order they run, are `STEPS` (README renders them from there); the comments
in `plan()` say why each is as it is.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dokku_jupyterhub.dokku_state import LETSENCRYPT_INSTALL, NO_VHOST, Observed, StorageMount
from dokku_jupyterhub.hub_runtime.contract import (
    DATA_MOUNT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MEMORY,
    DOCKER_SOCKET,
    GATE_DIR,
    GATE_SOCKET,
    HUB_APP_PROPERTY,
    HUB_PORT,
    Env,
    Prop,
    hub_alias,
    network_name,
    notebook_image,
    postgres_service_name,
    proxy_container_name,
)
from dokku_jupyterhub.hub_runtime.settings import ADMIN_PASSWORD_MIN_LENGTH
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root, gate_dir
from dokku_jupyterhub.proxy_plan import checks_off, is_listener, pick_listener

PORT_MAP = f"http:80:{HUB_PORT}"
PROXY_READ_TIMEOUT = "3600s"
# Marks the step whose stdin is the rendered hub app (a tar), made by the runner when it runs.
HUB_SOURCE = "hub-source"

# What create does, one README line per step, in the order `plan()` takes them.
STEPS = (
    "marks the app as a hub app and `apps:create <app>`;",
    "`domains:add` (before the port map: on a host without a global domain Dokku creates "
    "apps without vhosts, and the first `domains:add` turns them on and clears an `http:80` "
    "port map);",
    f"`ports:set <app> {PORT_MAP}`;",
    "mounts `storage/<app>/gate` at `/run/dokku-gate`, where the hub reaches Docker through "
    "the app's Docker gate (`dokku.jupyterhub.<app>.gate`, started by the deploy's "
    "`post-deploy`), which alone holds the host's Docker socket; a hub made before the gate "
    "keeps its socket mount until it runs a hub image that has the gate;",
    "`network:create <app>-network` and `network:set <app> attach-post-create <app>-network` "
    "(the hub is `<app>.web` on it), and `network:set <app> bind-all-interfaces false`: on, "
    "it would publish the hub on every host interface, bypassing nginx and TLS, and Dokku "
    "turns it on at the next `plugin:install` for every app that has not set it;",
    "`checks:disable <app> web`: Dokku then stops the old hub before it starts the new one "
    "on a deploy or restart, instead of running both against one database for a minute;",
    "`config:set --no-restart` with the hub's environment (`DOCKER_NETWORK_NAME`, `HUB_IP`, "
    "`DOCKER_JUPYTER_IMAGE`, data paths, idle timeout, the proxy's name, the gate's socket "
    "`HUB_DOCKER_GATE`, a generated admin password, API token and proxy token);",
    "records the proxy's own loopback address (`127.42.0.2` for the first hub on the host); "
    "the deploy's `post-deploy` starts the proxy container `dokku.jupyterhub.<app>.proxy` "
    "there and sets `network:set <app> static-web-listener <address>:8000`, so nginx sends "
    "users to the proxy, never to the hub's container;",
    "creates the data tree `/var/lib/dokku/data/storage/<app>/data` (`users`, "
    "`user-settings`, `shared`, `colab`, `groups`) beside the gate's `storage/<app>/gate`, "
    "and mounts it at `/data`;",
    "writes the policy file with the admins and the default memory limit;",
    f"`nginx:set client-max-body-size {DEFAULT_MAX_BODY_SIZE}` and `proxy-read-timeout "
    f"{PROXY_READ_TIMEOUT}` (Dokku's 1m and 60s break uploads and idle kernels' websockets), "
    "then `proxy:build-config`;",
    "with dokku-postgres: `postgres:create <app>-db` and `postgres:link --no-restart`; "
    "otherwise SQLite on `/data`;",
    "`letsencrypt:set <app> email ...`;",
    "deploys the generated hub app with `git:from-archive <app> --` (the rendered source as a "
    "tar on stdin; the app then has a normal git repo you can clone), unless `--no-deploy`;",
    "`letsencrypt:enable <app>`.",
)


@dataclass(frozen=True)
class Options:
    """Validated `create` options; None means "keep what the app has, else the default"."""

    app: str
    domains: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    notebook_image: str | None = None
    memory: str | None = None
    idle_timeout: int | None = None
    max_body_size: str | None = None
    letsencrypt_email: str | None = None
    postgres: bool = True
    deploy: bool = True


def new_admin_password() -> str:
    """A shared admin password the hub accepts: token_urlsafe(n) has at least n characters."""
    return secrets.token_urlsafe(max(32, ADMIN_PASSWORD_MIN_LENGTH))


def new_api_token() -> str:
    return secrets.token_hex(32)


def admin_password_ok(password: str | None) -> bool:
    """Whether the hub starts with this password (it refuses shorter ones)."""
    return len(password or "") >= ADMIN_PASSWORD_MIN_LENGTH


@dataclass(frozen=True)
class Secrets:
    """Fresh candidates; used only for keys the app does not have (or has unusable)."""

    admin_password: str
    api_token: str
    proxy_token: str

    @classmethod
    def fresh(cls) -> Secrets:
        return cls(new_admin_password(), new_api_token(), new_api_token())


@dataclass(frozen=True)
class Step:
    """One thing to do: a Dokku command (`dokku`) or a local effect (`local` + `args`)."""

    what: str
    dokku: tuple[str, ...] = ()
    local: str = ""  # "property" | "data-tree" | "policy"
    args: tuple[str, ...] = ()
    stdin: str = ""  # HUB_SOURCE: the rendered hub app as a tar
    stream: bool = False  # long-running: show Dokku's own output as it comes


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()


@dataclass
class _Builder:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rewired: bool = False  # the running hub needs a restart to see a change

    def dokku(self, what: str, *args: str, stdin: str = "", stream: bool = False) -> None:
        self.steps.append(Step(what, dokku=args, stdin=stdin, stream=stream))

    def local(self, what: str, kind: str, *args: str) -> None:
        self.steps.append(Step(what, local=kind, args=args))

    def prop(self, seen: Observed, key: str, value: str) -> None:
        """Set a plugin property when it differs (an empty value removes it)."""
        if (seen.properties.get(key) or "") != value:
            self.local(f"Recording {key}", "property", key, value)


def check(opts: Options, seen: Observed, policy_doc: Mapping[str, Any] | None) -> None:
    """Refusals that depend on the current state (the options themselves are valid)."""
    app = opts.app
    if seen.app_exists and seen.properties.get(HUB_APP_PROPERTY) is None:
        raise DokkuError(
            f"{app} is an existing Dokku app that jupyterhub:create did not make: "
            "choose another name"
        )
    if not opts.admins and not (policy_doc or {}).get("admins"):
        raise DokkuError(
            "name at least one admin with --admin NAME: without a login provider only the "
            "admins can log in (with the generated admin password)"
        )
    if opts.letsencrypt_email:
        if not seen.letsencrypt_installed:
            raise DokkuError(
                f"--letsencrypt-email needs the dokku-letsencrypt plugin: {LETSENCRYPT_INSTALL}"
            )
        if not (opts.domains or seen.domains):
            raise DokkuError("--letsencrypt-email needs a domain: add --domain hub.example.edu")


def attach_networks(value: str, drop: str | None = None) -> list[str]:
    """The networks of an `attach-post-create` value (Dokku: comma-separated), without
    `drop` (the network of the app's old name)."""
    return [n for n in value.split(",") if n and n != drop]


def identity_config(app: str, pinned_image: str | None) -> dict[str, str]:
    """The config that follows from the app's name (rename and clone rewrite it)."""
    return {
        Env.NETWORK: network_name(app),
        Env.HUB_IP: hub_alias(app),
        Env.NOTEBOOK_IMAGE: pinned_image or notebook_image(app),
        Env.APP: app,
        Env.PROXY_HOST: proxy_container_name(app),
        Env.DATA_DIR: DATA_MOUNT,
        Env.HOST_DATA_DIR: str(data_root(app)),
    }


def hub_config(opts: Options, seen: Observed, secrets: Secrets) -> dict[str, str]:
    """The environment the hub's jupyterhub_config.py reads (names: contract.Env)."""
    app, have = opts.app, seen.config
    pinned = opts.notebook_image or seen.properties.get(Prop.NOTEBOOK_IMAGE)
    idle = opts.idle_timeout or have.get(Env.IDLE_TIMEOUT) or DEFAULT_IDLE_TIMEOUT
    password = have.get(Env.ADMIN_PASSWORD)
    return {
        **identity_config(app, pinned),
        Env.IDLE_TIMEOUT: str(idle),
        Env.ADMIN_PASSWORD: password if admin_password_ok(password) else secrets.admin_password,
        Env.API_TOKEN: have.get(Env.API_TOKEN) or secrets.api_token,
        Env.PROXY_TOKEN: have.get(Env.PROXY_TOKEN) or secrets.proxy_token,
        Env.DOCKER_GATE: GATE_SOCKET,
    }


def plan(
    opts: Options,
    seen: Observed,
    secrets: Secrets,
    policy_doc: Mapping[str, Any] | None = None,
    data_tree_missing: bool = True,
) -> Plan:
    """The steps still missing, in order. `policy_doc` is the current policy (None when the
    file does not exist); `data_tree_missing` whether any directory of the tree is absent."""
    app = opts.app
    b = _Builder()

    # 1. The app, marked as a hub app first: an interruption right after `apps:create`
    #    still leaves a hub app that a rerun recognises, and triggers can tell hub apps from
    #    others in milliseconds.
    b.prop(seen, HUB_APP_PROPERTY, "true")
    if not seen.app_exists:
        b.dokku("Creating the app", "apps:create", app)

    # 2. Domains, before the port map. On a host without a global domain (Dokku's default
    #    install) `apps:create` leaves the app without vhosts (NO_VHOST=1); the first
    #    `domains:add` turns them on, and nginx-vhosts' pre-enable-vhost trigger then clears
    #    any port map starting with http:80 (Dokku 0.38: plugins/domains/functions
    #    domains_add, plugins/nginx-vhosts/pre-enable-vhost).
    new_domains = [d for d in opts.domains if d not in seen.domains]
    vhosts_off = not seen.app_exists or seen.config.get(NO_VHOST) == "1"
    if new_domains:
        b.dokku(f"Adding {', '.join(new_domains)}", "domains:add", app, *new_domains)
    b.prop(seen, Prop.DOMAINS, "\n".join([*seen.domains, *new_domains]))
    ports = () if new_domains and vhosts_off else seen.ports

    # 3. nginx port 80 -> the hub's proxy on 8000 (keep other mappings to 8000, e.g. https)
    if PORT_MAP not in ports:
        keep = [p for p in seen.ports if p.endswith(f":{HUB_PORT}") and not p.startswith("http:")]
        b.dokku("Mapping port 80 to the hub", "ports:set", app, PORT_MAP, *keep)
        b.rewired = True

    # 4. Docker, through the gate only: the hub starts each user's server as a sibling
    #    container, and whoever took over the hub process would be root on the host with
    #    the socket itself. The gate (gate_plan.py) holds it and lets through what spawning
    #    this app's servers needs. A hub deployed before the gate keeps the socket until the
    #    hub it runs has the gate's code (the image label), then loses it.
    gate = StorageMount(str(gate_dir(app)), GATE_DIR)
    if gate not in seen.mounts:
        b.dokku("Mounting the Docker gate's directory", "storage:mount", app, gate.spec())
        b.rewired = True
    socket = StorageMount(DOCKER_SOCKET, DOCKER_SOCKET)
    if socket in seen.mounts and seen.hub_has_gate:
        b.dokku("Unmounting the Docker socket (the gate holds it)", "storage:unmount", app,
                socket.spec())
        b.rewired = True

    # 5. The network shared with the notebook servers; Dokku gives the hub the alias
    #    `<app>.web` on it (HUB_IP). `bind-all-interfaces` stays false: it only publishes
    #    the hub's port 8000 on a random port of every host interface, which nobody needs
    #    (nginx reaches the hub on Docker's bridge, notebook servers through the alias) and
    #    which would bypass nginx and TLS.
    net = network_name(app)
    if not seen.network_exists:
        b.dokku(f"Creating network {net}", "network:create", net)
    attached = attach_networks(seen.attach_post_create)
    if net not in attached:
        # Dokku keeps the list comma-separated and attaches every one: keep the admin's.
        b.dokku(f"Attaching the hub to {net}", "network:set", app, "attach-post-create",
                *attached, net)
        b.rewired = True
    # Set explicitly: Dokku's network install trigger turns it on for every app without it
    # at the next `plugin:install` or `plugin:update` (plugins/network/triggers.go).
    if seen.bind_all_interfaces != "false":
        b.dokku("Keeping the hub off the host's own interfaces", "network:set", app,
                "bind-all-interfaces", "false")
        b.rewired = b.rewired or seen.bind_all_interfaces == "true"

    # 6. One hub at a time: with zero-downtime checks on, Dokku starts the new hub beside
    #    the old one and retires the old one only after `wait-to-retire` (60 s), so two
    #    JupyterHubs would share one database and both answer as `<app>.web`. Off, it stops
    #    the old one first; users' servers and the proxy keep running, so users only miss
    #    the hub's own pages (login, spawn) for the seconds the new hub takes to start.
    if not checks_off(seen.checks_disabled):
        b.dokku("Turning zero-downtime deploys off for the hub (one hub at a time)",
                "checks:disable", app, "web")

    # 7. The hub's environment (only the keys that differ). The admin password and the
    #    plugin's API token are generated once (`Secrets.fresh`, which apps:clone uses too);
    #    reruns keep them, except an admin password shorter than the hub accepts (left by an
    #    older plugin's clone: that hub never started), which is replaced.
    wanted = hub_config(opts, seen, secrets)
    changed = {k: v for k, v in wanted.items() if seen.config.get(k) != v}
    if changed:
        pairs = [f"{k}={v}" for k, v in changed.items()]
        what = "Setting the hub's config"
        if seen.config.get(Env.ADMIN_PASSWORD) and Env.ADMIN_PASSWORD in changed:
            what += " (a new admin password: the old one was too short for the hub)"
            b.notes.append(
                f"HUB_ADMIN_PASSWORD was too short (the hub needs at least "
                f"{ADMIN_PASSWORD_MIN_LENGTH} characters) and was replaced: read the new one "
                f"with dokku config:get {app} HUB_ADMIN_PASSWORD"
            )
        b.dokku(what, "config:set", "--no-restart", app, *pairs)
        b.rewired = True
    if opts.notebook_image:
        b.prop(seen, Prop.NOTEBOOK_IMAGE, opts.notebook_image)
    b.prop(seen, Prop.IDLE_TIMEOUT, wanted[Env.IDLE_TIMEOUT])
    # The proxy's own address (proxy_plan.py); the deploy starts it there.
    listener = seen.properties.get(Prop.PROXY_LISTENER)
    if not is_listener(listener) or listener in seen.other_listeners:
        listener = pick_listener(seen.other_listeners)
    b.prop(seen, Prop.PROXY_LISTENER, str(listener))

    # 8. The data tree (datadirs.py) and its mount at /data, in the colon form rather than
    #    0.38's named entries (`storage:create` + `storage:mount --container-dir`): the hub
    #    asks Docker for bind mounts of EXACT host paths below HUB_HOST_DATA_DIR for every
    #    user's server, so the path must be the one we pass; the Docker socket (a file) can
    #    only be mounted this way anyway; Dokku 0.38 records it as a `legacy-<hash>` entry.
    #    The colon form refuses an existing mount, hence the comparison with storage:list;
    #    a different mount at /data (left by apps:clone) is unmounted first.
    if data_tree_missing:
        b.local(f"Creating the data tree in {data_root(app)}", "data-tree")
    data = StorageMount(str(data_root(app)), DATA_MOUNT)
    if data not in seen.mounts:
        for other in (m for m in seen.mounts if m.container == DATA_MOUNT):
            b.dokku(f"Unmounting {other.host} from /data", "storage:unmount", app, other.spec())
        b.dokku(f"Mounting {data.host} at /data", "storage:mount", app, data.spec())
        b.rewired = True

    # 9. the initial policy: admins and the default memory limit
    have_admins = list((policy_doc or {}).get("admins", []))
    have_memory = ((policy_doc or {}).get("limits", {}).get("default", {})).get("memory")
    memory = opts.memory or (None if policy_doc is not None else DEFAULT_MEMORY)
    new_admins = [a for a in opts.admins if a not in have_admins]
    if new_admins or (memory and memory != have_memory):
        what = "Writing the policy" + (f" (admins: {', '.join(new_admins)})" if new_admins else "")
        b.local(what, "policy", memory or "", *new_admins)

    # 10. nginx settings JupyterHub needs, then the proxy config
    size = opts.max_body_size or seen.nginx.get("client-max-body-size") or DEFAULT_MAX_BODY_SIZE
    nginx_changed = False
    if seen.nginx.get("client-max-body-size") != size:
        b.dokku(f"Allowing uploads up to {size}", "nginx:set", app, "client-max-body-size", size)
        nginx_changed = True
    if not seen.nginx.get("proxy-read-timeout"):
        b.dokku(
            "Keeping idle websockets open",
            "nginx:set", app, "proxy-read-timeout", PROXY_READ_TIMEOUT,
        )
        nginx_changed = True
    if nginx_changed:
        b.dokku("Rebuilding the proxy config", "proxy:build-config", app)
    b.prop(seen, Prop.MAX_BODY_SIZE, size)

    # 11. The hub's database: dokku-postgres when installed (and not --no-postgres), the
    #     service recorded in the `postgres-service` property before it is made, so
    #     `destroy` only ever offers to remove a service create made; `postgres:link` sets
    #     DATABASE_URL (the hub maps `postgres://` to its driver itself). Otherwise SQLite
    #     in /data; a hub recorded as running on SQLite stays on it.
    _database(b, opts, seen)

    # 12. letsencrypt email (enabled after the deploy)
    email = opts.letsencrypt_email
    if email and not seen.letsencrypt_active and seen.letsencrypt_email != email:
        b.dokku("Setting the letsencrypt email", "letsencrypt:set", app, "email", email)

    # 13. The hub app itself, unless --no-deploy or the app already has source (a rerun
    #     never replaces what the admin pushed). An app with source that never deployed
    #     (an interrupted first deploy) is rebuilt; a deployed app whose wiring changed is
    #     restarted.
    if not opts.deploy:
        b.notes.append(
            f"Not deployed (--no-deploy): deploy with `dokku jupyterhub:export {app}` and "
            f"`git push`, or run `dokku jupyterhub:create {app}` again without --no-deploy"
        )
        if b.rewired and seen.deployed:
            b.notes.append(f"Restart the hub to apply the changes: dokku ps:restart {app}")
    elif not seen.has_source:
        b.dokku(
            "Deploying the hub", "git:from-archive", app, "--", stdin=HUB_SOURCE, stream=True
        )
    elif not seen.deployed:
        b.dokku("Deploying the hub from its source", "ps:rebuild", app, stream=True)
    elif b.rewired:
        b.dokku("Restarting the hub to apply the changes", "ps:restart", app, stream=True)

    # 14. TLS, once the app answers on its domain
    if email and not seen.letsencrypt_active:
        if opts.deploy:
            b.dokku("Enabling letsencrypt", "letsencrypt:enable", app, stream=True)
        else:
            b.notes.append(f"After the deploy enable TLS: dokku letsencrypt:enable {app}")

    return Plan(tuple(b.steps), tuple(b.notes))


def _database(b: _Builder, opts: Options, seen: Observed) -> None:
    app = opts.app
    service = seen.properties.get(Prop.POSTGRES_SERVICE) or postgres_service_name(app)
    if seen.postgres_linked:
        b.prop(seen, Prop.DB_KIND, "postgres")
        return
    if seen.config.get(Env.DATABASE_URL):
        # The admin linked a database of their own: use it, create nothing.
        b.prop(seen, Prop.DB_KIND, "postgres")
        return
    # A hub that runs on SQLite keeps it: a rerun must not move it to an empty database.
    keeps_sqlite = seen.properties.get(Prop.DB_KIND) == "sqlite"
    if opts.postgres and seen.postgres_installed and not keeps_sqlite:
        if not seen.postgres_service_exists:
            # Recorded before it exists, so an interruption never loses that we made it.
            b.prop(seen, Prop.POSTGRES_SERVICE, service)
            b.dokku(f"Creating Postgres service {service}", "postgres:create", service)
        b.dokku(f"Linking {service}", "postgres:link", service, app, "--no-restart")
        b.rewired = True
        b.prop(seen, Prop.DB_KIND, "postgres")
        return
    b.prop(seen, Prop.DB_KIND, "sqlite")
    if not seen.properties.get(Prop.DB_KIND):
        why = "--no-postgres" if not opts.postgres else "dokku-postgres is not installed"
        b.notes.append(f"Database: SQLite in {DATA_MOUNT}/jupyterhub.sqlite ({why})")
