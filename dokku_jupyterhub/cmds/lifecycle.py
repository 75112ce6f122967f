"""`create`, `destroy` and `list`: the life of a hub app.

`create` observes (state.py), validates (validate.py, create.check), plans (create.plan:
the one place that says what create does) and runs the planned steps here. `destroy`
removes what create made, keeps users' data unless told otherwise and never removes a
database without an explicit answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import docker.errors

from dokku_jupyterhub import create as create_plan
from dokku_jupyterhub import (
    datadirs,
    docker_api,
    dokku_cli,
    policy_store,
    properties,
    state,
    validate,
)
from dokku_jupyterhub.hub import spawn
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
DOCKER_SOCKET = Path(create_plan.DOCKER_SOCKET)
LETSENCRYPT_INSTALL = "sudo dokku plugin:install https://github.com/dokku/dokku-letsencrypt.git"
# Labels the notebook build puts on its images (build/plan.py); Dokku puts LABEL_APP on the
# app's own containers too.
LABEL_APP = "com.dokku.app-name"
LABEL_BUILD = "org.dokku-jupyterhub.context-hash"
# The label the hub's spawner puts on every notebook server it starts (value: the app).
NOTEBOOK_LABEL = spawn.LABEL_APP


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
    provider = properties.get(app, "auth-provider") or "none"
    opts = create_plan.Options(
        app=app,
        domains=validate.domains(domains),
        admins=validate.usernames(admins, provider),
        notebook_image=validate.image(notebook_image, "notebook image")
        if notebook_image
        else None,
        memory=validate.memory(memory, policy_store.host_memory()) if memory else None,
        idle_timeout=validate.idle_timeout(idle_timeout) if idle_timeout else None,
        max_body_size=validate.nginx_size(max_body_size) if max_body_size else None,
        letsencrypt_email=validate.email(letsencrypt_email) if letsencrypt_email else None,
        postgres=not no_postgres,
        deploy=not no_deploy,
    )
    for typed, name in zip(admins, opts.admins, strict=False):
        if typed.strip() != name:
            verbose_quiet(f"admin {typed!r} is stored as {name!r} (the hub's username)")
    validate.caller_can_create(lib_root() / "data" / "storage", DOCKER_SOCKET)
    docker_api.client()  # the dokku user must reach Docker: fails with the fix otherwise

    seen = state.observe(app, want_letsencrypt=bool(opts.letsencrypt_email))
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
        run_steps(app, plan.steps)
    for note in plan.notes:
        verbose(note)
    summary(app, opts, seen, plan)


def run_steps(app: str, steps: tuple[create_plan.Step, ...]) -> None:
    for step in steps:
        # Plugin bookkeeping is chatter; Dokku-visible steps are what the admin follows.
        (verbose_quiet if step.local == "property" else info1_quiet)(step.what)
        try:
            run_step(app, step)
        except DokkuError as exc:
            raise DokkuError(
                f"{step.what} failed: {exc.message}. Fix the cause, then run "
                f"`dokku jupyterhub:create {app}` again: it continues where it stopped",
                exc.exit_code,
            ) from None
        except OSError as exc:
            raise DokkuError(
                f"{step.what} failed: {exc}. Fix the cause, then run "
                f"`dokku jupyterhub:create {app}` again: it continues where it stopped"
            ) from None


def run_step(app: str, step: create_plan.Step) -> None:
    if step.dokku:
        data = hub_source(app) if step.stdin == create_plan.HUB_SOURCE else None
        dokku_cli.run(*step.dokku, input=data, stream=step.stream)
    elif step.local == "property":
        key, value = step.args
        properties.set(app, key, value)
    elif step.local == "data-tree":
        created = datadirs.ensure(app)
        verbose_quiet(f"{len(created)} directories created")
    elif step.local == "policy":
        memory, *admins = step.args
        with policy_store.update(app) as doc:
            doc["admins"] = sorted(set(doc.get("admins", [])) | set(admins))
            if memory:
                doc.setdefault("limits", {}).setdefault("default", {})["memory"] = memory
    else:  # pragma: no cover - a plan only makes the kinds above
        raise DokkuError(f"unknown step {step}")


def hub_source(app: str) -> bytes:
    """The default hub app, rendered from the templates, as the tar git:from-archive wants."""
    from dokku_jupyterhub import hubapp  # jinja2 and the templates: only when deploying

    try:
        return hubapp.to_tar(hubapp.render_files(hubapp.params_for(app)))
    except ValueError as exc:
        raise DokkuError(f"cannot render the hub source: {exc}") from None


def summary(app: str, opts: create_plan.Options, seen: state.Observed, plan: Any) -> None:
    doms = list(dict.fromkeys([*seen.domains, *opts.domains]))
    tls = seen.letsencrypt_active or bool(opts.letsencrypt_email and opts.deploy)
    has_policy = policy_store.policy_path(app).exists()
    admins = policy_store.read(app).get("admins", []) if has_policy else []
    info2(f"{app}: how to log in")
    if doms:
        verbose(f"URL:       {'https' if tls else 'http'}://{doms[0]}/")
    else:
        verbose(f"URL:       none yet: dokku domains:add {app} hub.example.edu")
    if admins:
        verbose(f"Admins:    {', '.join(admins)} (log in with the admin password)")
    verbose(f"Password:  dokku config:get {app} HUB_ADMIN_PASSWORD")
    verbose(f"Next:      dokku jupyterhub:auth:set {app} azuread|github|generic-oidc ...")
    verbose(f"           dokku jupyterhub:admins:add {app} NAME")
    verbose(f"           dokku jupyterhub:report {app}")
    if not tls and doms:
        if not seen.letsencrypt_installed:
            verbose(f"TLS:       {LETSENCRYPT_INSTALL}, then:")
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
    if not validate.DOKKU_APP_RE.match(app or ""):
        raise DokkuError(f"{app} is not a jupyterhub app")
    exists = state.app_exists(app)
    if properties.get(app, "hub-app") is None:
        if exists:
            raise DokkuError(f"{app} is not a jupyterhub app: use dokku apps:destroy {app}")
        raise DokkuError(f"App {app} does not exist")
    client = docker_api.client()
    net = state.network_name(app)
    if exists:
        net = state.config(app).get("DOCKER_NETWORK_NAME") or net
    service = properties.get(app, "postgres-service")
    if service and not (state.plugin_enabled("postgres") and state.postgres_exists(service)):
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
        if ask("> ") != app:
            raise DokkuError(f"Confirmation did not match {app}. Aborted.")
    drop_service = False
    if service:
        if force:
            drop_service = False
        else:
            warn(f"{app}'s database is the Postgres service {service}, made by create.")
            warn(f'Type "{service}" to destroy it too, or press Enter to keep it')
            drop_service = ask("> ") == service

    info2(f"Destroying {app}")
    remove_user_servers(client, app, net)
    if exists:
        info1_quiet(f"Destroying app {app}")
        # Its post-delete trigger releases the network and images too (see release()).
        dokku_cli.run("apps:destroy", app, "--force", stream=True)
    release(client, app, net)
    if drop_service:
        info1_quiet(f"Destroying Postgres service {service}")
        dokku_cli.run("postgres:destroy", service, "--force", stream=True)
    properties.destroy(app)
    if purge_data:
        purge(app, root)
        info1(f"Deleted {root}")
    elif root.exists():
        info1(f"Users' data kept in {root} (delete it with --purge-data or by hand)")
    if service and not drop_service:
        info1(f"Postgres service {service} kept: remove it with dokku postgres:destroy {service}")


def release(client: Any, app: str, net: str) -> None:
    """Remove what create made around the app: users' servers, the network, the notebook
    images. Idempotent; also run by the post-delete trigger, so `dokku apps:destroy` of a
    hub app leaves nothing behind but the users' data. A network something else still uses
    is kept, and the admin told what is on it."""
    remove_user_servers(client, app, net)
    if state.network_exists(net):
        users = containers_on(client, net)
        if users:
            warn(f"{net} kept: still used by {', '.join(sorted(c.name for c in users))}; "
                 f"once they are gone: dokku network:destroy {net}")
        else:
            info1_quiet(f"Destroying network {net}")
            dokku_cli.run("network:destroy", net, "--force")
    remove_notebook_images(client, app)


def ask(prompt: str) -> str:
    """One answer from stdin; end of input counts as no answer."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    return line.strip()


def containers_on(client: Any, net: str) -> list[Any]:
    try:
        return list(client.containers.list(all=True, filters={"network": net}))
    except docker.errors.DockerException as exc:
        raise DokkuError(docker_api.explain(exc)) from None


def remove_user_servers(client: Any, app: str, net: str) -> None:
    """Remove the notebook servers the hub started on its network (labelled for this app by
    its spawner; their data lives on bind mounts) and disconnect anything else an admin or
    another plugin attached (a database, a tool), which is never removed. The app's own
    containers are left to `apps:destroy`."""
    for c in containers_on(client, net):
        labels = c.labels or {}
        try:
            if labels.get(NOTEBOOK_LABEL) == app:
                verbose_quiet(f"removing notebook server {c.name}")
                c.remove(force=True)
            elif labels.get(LABEL_APP) != app:
                client.networks.get(net).disconnect(c, force=True)
                verbose_quiet(f"disconnected {c.name} from {net} (not a notebook server: kept)")
        except docker.errors.NotFound:
            continue
        except docker.errors.DockerException as exc:
            warn(f"could not remove or disconnect {c.name}: {docker_api.explain(exc)}")


def notebook_images(client: Any, app: str) -> list[Any]:
    """The notebook images this plugin built for `app` (never an image the admin pinned)."""
    found: dict[str, Any] = {}
    for image in client.images.list(name=f"dokku/{app}-notebook"):
        found[image.id] = image
    for image in client.images.list(filters={"label": f"{LABEL_APP}={app}"}):
        if LABEL_BUILD in (image.labels or {}):
            found[image.id] = image
    return list(found.values())


def remove_notebook_images(client: Any, app: str) -> None:
    for image in notebook_images(client, app):
        try:
            client.images.remove(image.id, force=True)
            verbose_quiet(f"removed notebook image {', '.join(image.tags) or image.short_id}")
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.DockerException as exc:
            warn(f"could not remove image {image.short_id}: {docker_api.explain(exc)}")


def purge(app: str, root: Path) -> None:
    """Delete storage/<app>. Users' files belong to uid 1000, which the dokku user cannot
    delete: then use Dokku's storage helper, which the dokku user may run with sudo."""
    try:
        shutil.rmtree(root)
        return
    except FileNotFoundError:
        return
    except PermissionError:
        pass
    plugins = os.environ.get("PLUGIN_AVAILABLE_PATH") or str(lib_root() / "plugins/available")
    helper = Path(plugins) / "storage" / "bin" / "destroy-storage-dir"
    try:
        done = subprocess.run(["sudo", "-n", str(helper), app], capture_output=True).returncode
    except OSError:  # no sudo
        done = 1
    if done != 0 or root.exists():
        raise DokkuError(f"could not delete {root}: delete it as root (sudo rm -rf {root})")


# ---- list -----------------------------------------------------------------------------


@click.command("list")
@click.option("--format", "fmt", type=click.Choice(["stdout", "json"]), default="stdout",
              metavar="stdout|json", help="Output format")
def list_apps(fmt: str) -> None:
    """List hub apps with their domain and state and notebook image"""
    rows = [app_row(app) for app in properties.apps_with("hub-app")]
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


def app_row(app: str) -> dict[str, str]:
    exists = state.app_exists(app)
    domains = state.domains(app) if exists else ()
    return {
        "app": app,
        "domain": domains[0] if domains else "",
        "state": container_state(app) if exists else "missing",
        "notebook_image": notebook_image(app),
    }


def notebook_image(app: str) -> str:
    return properties.get(app, "notebook-image") or create_plan.default_notebook_image(app)


def container_state(app: str) -> str:
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
