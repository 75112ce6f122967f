"""`create`, `destroy` and `list`: the life of a hub app.

`create` observes (dokku_state.py), validates (validate.py, create_plan.check), plans
(create_plan.plan: the one place that says what create does) and runs the planned steps
(create_steps.py). `destroy` removes what create made (teardown.py), keeps users' data unless
told otherwise and never removes a database without an explicit answer.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import docker.errors

from dokku_jupyterhub import (
    create_plan,
    create_steps,
    datadirs,
    docker_api,
    dokku_cli,
    dokku_state,
    policy_edit,
    policy_store,
    properties,
    teardown,
    validate,
)
from dokku_jupyterhub.hub_apps import all_hub_apps, is_hub_app
from dokku_jupyterhub.hub_runtime import contract
from dokku_jupyterhub.listing import format_option
from dokku_jupyterhub.output import (
    DokkuError,
    info1,
    info1_quiet,
    info2,
    out,
    verbose,
    verbose_quiet,
    warn,
)
from dokku_jupyterhub.paths import lib_root, storage_root

# The socket the hub mounts; a module attribute so tests can point it elsewhere.
DOCKER_SOCKET = Path(contract.DOCKER_SOCKET)


# ---- create ---------------------------------------------------------------------------


@click.command("create")
@click.argument("app")
@click.option("--domain", "domains", multiple=True, metavar="D", help="Domain (repeatable)")
@click.option("--admin", "admins", multiple=True, metavar="NAME", help="Admin (repeatable)")
@click.option("--notebook-image", metavar="TAG", help="Pre-built notebook image (no builds)")
@click.option("--memory", metavar="SIZE", help="Default memory per user server (350m)")
@click.option("--idle-timeout", metavar="SECONDS", help="Stop idle servers after (300)")
@click.option("--max-body-size", metavar="SIZE", help="Largest upload (30m)")
@click.option("--letsencrypt-email", metavar="ADDR", help="Enable TLS with this email")
@click.option("--no-postgres", is_flag=True, help="Use SQLite even with dokku-postgres")
@click.option("--no-deploy", is_flag=True, help="Wire everything but do not deploy")
def create(
    app: str,
    domains: tuple[str, ...],
    admins: tuple[str, ...],
    notebook_image: str | None,
    memory: str | None,
    idle_timeout: str | None,
    max_body_size: str | None,
    letsencrypt_email: str | None,
    no_postgres: bool,
    no_deploy: bool,
) -> None:
    """Create and wire a JupyterHub app (idempotent: run again to finish or check)"""
    app = validate.app_name(app)
    provider = policy_edit.auth_provider(app)
    opts = create_plan.Options(
        app=app,
        domains=validate.domains(domains),
        admins=validate.usernames(admins, provider),
        # An option given with an empty value is refused like a bad one, never ignored.
        notebook_image=validate.image(notebook_image, "notebook image")
        if notebook_image is not None
        else None,
        memory=validate.memory(memory, policy_store.host_memory()) if memory is not None else None,
        idle_timeout=validate.idle_timeout(idle_timeout) if idle_timeout is not None else None,
        max_body_size=validate.nginx_size(max_body_size) if max_body_size is not None else None,
        letsencrypt_email=validate.email(letsencrypt_email)
        if letsencrypt_email is not None
        else None,
        postgres=not no_postgres,
        deploy=not no_deploy,
    )
    for typed, name in zip(admins, opts.admins, strict=False):
        if typed.strip() != name:
            verbose_quiet(f"admin {typed!r} is stored as {name!r} (the hub's username)")
    validate.caller_can_create(lib_root() / "data" / "storage", DOCKER_SOCKET)
    docker_api.client()  # the dokku user must reach Docker: fails with the fix otherwise

    seen = dokku_state.observe(app, want_letsencrypt=bool(opts.letsencrypt_email))
    policy_doc = policy_store.read(app) if policy_store.policy_path(app).exists() else None
    create_plan.check(opts, seen, policy_doc)
    plan = create_plan.plan(
        opts, seen, create_plan.Secrets.fresh(), policy_doc,
        data_tree_missing=bool(datadirs.missing(app)),
    )

    if not plan.steps:
        info1(f"{app} is already set up: nothing to do")
    else:
        info2(f"Setting up {app}")
        create_steps.run_steps(app, plan.steps)
    for note in plan.notes:
        verbose(note)
    _summary(app, opts, seen, plan)


def _summary(app: str, opts: create_plan.Options, seen: dokku_state.Observed, plan: Any) -> None:
    doms = list(dict.fromkeys([*seen.domains, *opts.domains]))
    tls = seen.letsencrypt_active or bool(opts.letsencrypt_email and opts.deploy)
    has_policy = policy_store.policy_path(app).exists()
    admins = policy_store.read(app).get("admins", []) if has_policy else []
    info2(f"{app}: how to log in")
    if doms:
        verbose(f"URL:       {'https' if tls else 'http'}://{doms[0]}/")
    else:
        # Through create: on a host without a global domain, Dokku's first domains:add
        # clears the port map, and create maps port 80 again after it.
        verbose(f"URL:       none yet: dokku jupyterhub:create {app} --domain hub.example.edu")
    if admins:
        verbose(f"Admins:    {', '.join(admins)} (log in with the admin password)")
    verbose(f"Password:  dokku config:get {app} {contract.Env.ADMIN_PASSWORD}")
    verbose(f"Next:      dokku jupyterhub:auth:set {app} azuread|github|generic-oidc ...")
    verbose(f"           dokku jupyterhub:admins:add {app} NAME")
    verbose(f"           dokku jupyterhub:report {app}")
    if not tls and doms:
        if not seen.letsencrypt_installed:
            verbose(f"TLS:       {dokku_state.LETSENCRYPT_INSTALL}, then:")
        verbose(
            f"{'TLS:' if seen.letsencrypt_installed else '':<11}dokku letsencrypt:set {app} "
            f"email you@example.edu && dokku letsencrypt:enable {app}"
        )


# ---- destroy --------------------------------------------------------------------------


@click.command("destroy")
@click.argument("app")
@click.option("--force", is_flag=True, help="Do not ask (keeps a Postgres service)")
@click.option("--purge-data", is_flag=True, help="Also delete users' data")
def destroy(app: str, force: bool, purge_data: bool) -> None:
    """Destroy a hub app (users' data is kept unless --purge-data)"""
    force = force or os.environ.get("DOKKU_APPS_FORCE_DELETE") == "1"
    if not contract.DOKKU_APP_RE.match(app or ""):
        raise DokkuError(f"{app} is not a jupyterhub app")
    exists = dokku_state.app_exists(app)
    if not is_hub_app(app):
        if exists:
            raise DokkuError(f"{app} is not a jupyterhub app: use dokku apps:destroy {app}")
        raise DokkuError(f"App {app} does not exist")
    client = docker_api.client()
    net = contract.network_name(app)
    if exists:
        net = dokku_state.config(app).get(contract.Env.NETWORK) or net
    service = properties.get(app, contract.Prop.POSTGRES_SERVICE)
    if service and not (
        dokku_state.plugin_enabled("postgres") and dokku_state.postgres_exists(service)
    ):
        service = None
    root = storage_root(app)

    if not force:
        warn("WARNING: Potentially Destructive Action")
        warn(f"This command will destroy the hub app {app}, its network and notebook images.")
        if purge_data:
            warn(f"Users' data in {root} will be DELETED (--purge-data).")
        else:
            warn(f"Users' data in {root} is kept.")
        warn(f'To proceed, type "{app}"')
        if _ask("> ") != app:
            raise DokkuError(f"Confirmation did not match {app}. Aborted.")
    drop_service = False
    if service:
        if force:
            drop_service = False
        else:
            warn(f"{app}'s database is the Postgres service {service}, made by create.")
            warn(f'Type "{service}" to destroy it too, or press Enter to keep it')
            drop_service = _ask("> ") == service

    info2(f"Destroying {app}")
    teardown.remove_user_servers(client, app, net)
    if exists:
        info1_quiet(f"Destroying app {app}")
        # Its post-delete trigger releases the network and images too (teardown.release).
        dokku_cli.run("apps:destroy", app, "--force", stream=True)
    teardown.release(client, app, net)
    if drop_service:
        info1_quiet(f"Destroying Postgres service {service}")
        dokku_cli.run("postgres:destroy", service, "--force", stream=True)
    properties.destroy(app)
    if purge_data:
        teardown.purge(app, root)
        info1(f"Deleted {root}")
    elif root.exists():
        info1(f"Users' data kept in {root} (delete it with --purge-data or by hand)")
    if service and not drop_service:
        info1(f"Postgres service {service} kept: remove it with dokku postgres:destroy {service}")


def _ask(prompt: str) -> str:
    """One answer from stdin; end of input counts as no answer."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    return line.strip()


# ---- list -----------------------------------------------------------------------------


@click.command("list")
@format_option
def list_apps(fmt: str) -> None:
    """List hub apps with their domain and state and notebook image"""
    rows = [_app_row(app) for app in all_hub_apps()]
    if fmt == "json":
        out(json.dumps(rows, indent=2))
        return
    if not rows:
        info2("No jupyterhub apps")
        return
    info2("JupyterHub apps")
    width = max(len(r["app"]) for r in rows)
    dwidth = max([len(r["domain"] or "-") for r in rows] + [6])
    for r in rows:
        out(
            f"{r['app']:<{width}}  {r['domain'] or '-':<{dwidth}}  {r['state']:<10}  "
            f"{r['notebook_image']}"
        )


def _app_row(app: str) -> dict[str, str]:
    exists = dokku_state.app_exists(app)
    domains = dokku_state.domains(app) if exists else ()
    return {
        "app": app,
        "domain": domains[0] if domains else "",
        "state": _container_state(app) if exists else "missing",
        "notebook_image": properties.get(app, contract.Prop.NOTEBOOK_IMAGE)
        or contract.notebook_image(app),
    }


def _container_state(app: str) -> str:
    """The web container's status (running, exited, ...) or `not deployed`."""
    try:
        client = docker_api.client()
        return str(client.containers.get(f"{app}.web.1").status)
    except docker.errors.NotFound:
        return "not deployed"
    except DokkuError:
        return "unknown"
    except docker.errors.DockerException:
        return "unknown"


# Dokku's help aligns every description to the longest usage: list the options in
# `jupyterhub:create --help` and README, not in the one-line usage (dokku-postgres does too).
create.dokku_usage = "<app> [--domain D]... [--admin NAME]... [--create-flags...]"  # type: ignore[attr-defined]

COMMANDS = [create, destroy, list_apps]
