#!/usr/bin/env python3
"""Recording fakes of the Dokku core commands (and the postgres/letsencrypt plugins) this plugin
calls. Every core plugin's subcommands/<name> runs `fake.py <command as typed> args...`.

Each fake validates like the real command (messages from dokku/dokku v0.38, dokku-postgres,
dokku-letsencrypt), fails with ` !     message` and exit 1 BEFORE changing anything, keeps its
state where state.py documents it, and fires the triggers Dokku fires. Deploys run
$STANDIN_DEPLOY_HOOK when set, else the `post-deploy` trigger chain. STANDIN_FAIL="a:b,c:d"
makes each listed command fail once per stand-in root. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import state as st  # noqa: E402
import syntax  # noqa: E402
from syntax import (  # noqa: E402,E501
    APP_RE,
    KEY_RE,
    LETSENCRYPT_PROPERTIES,
    NETWORK_PROPERTIES,
    NGINX_PROPERTIES,
    PORT_RE,
)

ROOT = Path(os.environ.get("STANDIN_ROOT", Path(__file__).resolve().parents[3]))
GLOBAL = "--global"
APP_RE_OLD = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
VOLUME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
LABEL = r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?"
DOMAIN_RE = re.compile(rf"^(\*\.)?({LABEL}\.)*{LABEL}$")
# Flags Dokku's dispatcher leaves in place after the command; its own parse already used them.
GLOBAL_FLAGS = {"--quiet", "--trace", "--force"}


class Fail(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def quiet() -> bool:
    return bool(os.environ.get("DOKKU_QUIET_OUTPUT"))


def out(line: str = "") -> None:
    print(line, flush=True)


def info1(msg: str) -> None:
    out(f"-----> {msg}")


def info2(msg: str) -> None:
    out(f"=====> {msg}")


def verbose(msg: str) -> None:
    out(f"       {msg}")


def info1_quiet(msg: str) -> None:
    if not quiet():
        info1(msg)


def info2_quiet(msg: str) -> None:
    if not quiet():
        info2(msg)


def warn(msg: str) -> None:
    print(f" !     {msg}", file=sys.stderr, flush=True)


def plugn(*args: str) -> int:
    return subprocess.run([str(ROOT / "usr/bin/plugn"), *args]).returncode


def trigger(name: str, *args: str) -> None:
    code = plugn("trigger", name, *args)
    if code:
        raise Fail(f"{name} trigger failed (exit {code})", code)


def parse(args: list[str]) -> tuple[dict, list[str]]:
    """pflag-style parsing of the command being run, by its row in syntax.FLAGS: flags
    anywhere, `--k v` or `--k=v`, unknown flags refused. A `:report` lets other `--x` flags
    pass (Dokku's ParseReportArgs leaves the single-value flags such as
    `--domains-app-vhosts` to the report, which refuses unknown ones itself)."""
    spec = syntax.FLAGS[TYPED]
    bools, values, multi, report = spec.bools, spec.values, spec.multi, spec.report
    flags: dict = {}
    pos: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--app":
            next(it, None)
            continue
        if a in GLOBAL_FLAGS or not a.startswith("--") or a == "--":
            if a not in GLOBAL_FLAGS:
                pos.append(a)
            continue
        name, eq, val = a[2:].partition("=")
        if name in bools:
            flags[name] = True
        elif name in values or name in multi:
            if not eq:
                val = next(it, None)
                if val is None:
                    raise Fail(f"flag needs an argument: --{name}")
            if name in multi:
                flags.setdefault(name, []).extend(v for v in val.split(",") if v)
            else:
                flags[name] = val
        elif not report:
            raise Fail(f"unknown flag: --{name}")
    return flags, pos


def valid_app_name(app: str) -> None:
    if not app:
        raise Fail("Please specify an app to run the command on")
    if not APP_RE.match(app):
        raise Fail("App name must begin with lowercase alphanumeric character, and may only "
                   "contain lowercase alphanumerics, dots, and hyphens")


def verify_app(app: str) -> None:
    if not app:
        raise Fail("Please specify an app to run the command on")
    if not (APP_RE.match(app) or APP_RE_OLD.match(app)):
        valid_app_name(app)
    if not st.app_exists(app, ROOT):
        raise Fail(f"App {app} does not exist")


def confirm(name: str, kind: str) -> None:
    if os.environ.get("DOKKU_APPS_FORCE_DELETE") == "1":
        return
    warn("WARNING: Potentially Destructive Action")
    warn(f"This command will destroy {kind} {name}.")
    warn(f'To proceed, type "{name}"')
    print("> ", end="", flush=True)
    answer = sys.stdin.readline().strip()
    if answer != name:
        print(f"Confirmation did not match {name}. Aborted.", file=sys.stderr)
        raise Fail("", 1)


def columns(entries: dict[str, str], prefix: str = "       ") -> list[str]:
    width = max((len(k) + 1 for k in entries), default=0)
    return [f"{prefix}{(k + ':').ljust(width)}  {v}".rstrip() for k, v in sorted(entries.items())]


def report(app: str, title: str, rows: dict[str, str], flag: str | None, prefix: str) -> None:
    """Dokku's `:report` shape: header + padded rows, or one raw value for `--<prefix>-<key>`."""
    if flag:
        # Dokku's row labels are its flags spelled out: "Domains app vhosts" <- --domains-app-vhosts
        keys = {f"--{k.lower().replace(' ', '-')}": v for k, v in rows.items()}
        if flag not in keys:
            raise Fail(f"Invalid flag passed, valid flags: {', '.join(sorted(keys))}")
        out(keys[flag])
        return
    info2(f"{app} {title} information")
    width = max(len(k) + 1 for k in rows) + 1
    for k, v in rows.items():
        verbose(f"{(k + ':').ljust(width)}{v}".rstrip())


COMMANDS: dict[str, Callable[[list[str]], None]] = {}


def command(*names: str):
    def register(fn):
        for n in names:
            COMMANDS[n] = fn
        return fn
    return register


# --- deploys ----------------------------------------------------------------------------------


def attached_networks_exist(app: str) -> None:
    for key in ("attach-post-create", "attach-post-deploy", "initial-network"):
        for net in filter(None, (st.prop_get("network", app, key, ROOT) or "").split(",")):
            if net not in st.networks(ROOT):
                raise Fail(f"Network {net} does not exist")


def deploy(app: str, kind: str, source: Path | None) -> int:
    """Record a deploy, then run the deploy hook (which owns post-deploy) or post-deploy."""
    rev = st.git_rev(app, ROOT)
    try:
        attached_networks_exist(app)
    except Fail as exc:
        warn(exc.message)
        st.append_jsonl(st.state_dir(ROOT) / "deploys.jsonl",
                        {"app": app, "kind": kind, "rev": rev, "ok": False})
        return 1
    hook = os.environ.get("STANDIN_DEPLOY_HOOK")
    if hook:
        env = dict(os.environ, STANDIN_DEPLOY_KIND=kind)
        code = subprocess.run([hook, app, str(source or "")], env=env).returncode
    else:
        info1(f"Deploying {app} (stand-in: no containers)")
        code = plugn("trigger", "post-deploy", app, "", "", "latest")
    st.append_jsonl(st.state_dir(ROOT) / "deploys.jsonl",
                    {"app": app, "kind": kind, "rev": rev, "ok": code == 0})
    if code == 0:
        st.prop_set("common", app, "deployed", "true", ROOT)
        st.prop_set("ps", app, "stopped", "", ROOT)
    return code


def checkout(app: str, dest: Path) -> bool:
    repo = st.dokku_root(ROOT) / app
    if not st.git_rev(app, ROOT):
        return False
    archive = subprocess.run(
        ["git", "-c", f"safe.directory={repo}", "--git-dir", str(repo), "archive",
         "refs/heads/master"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        safe_extract(tf, dest)
    return True


def safe_extract(tf: tarfile.TarFile, dest: Path) -> None:
    """extractall(filter="data") where the interpreter has it (3.11.4+); else refuse members
    that leave `dest` and extract plainly."""
    try:
        tf.extractall(dest, filter="data")
        return
    except TypeError:
        pass
    root = dest.resolve()
    for member in tf.getmembers():
        target = (dest / member.name).resolve()
        if target != root and root not in target.parents or member.isdev():
            raise Fail(f"refusing archive member {member.name}")
        if (member.issym() or member.islnk()) and (
            os.path.isabs(member.linkname) or ".." in Path(member.linkname).parts
        ):
            raise Fail(f"refusing archive link {member.name}")
    tf.extractall(dest)


# --- apps -------------------------------------------------------------------------------------


def create_app(app: str) -> None:
    valid_app_name(app)
    if st.app_exists(app, ROOT):
        raise Fail("Name is already taken")
    info1_quiet(f"Creating {app}...")
    (st.dokku_root(ROOT) / app).mkdir(mode=0o755)
    st.prop_set("apps", app, "created-at", str(int(time.time())), ROOT)
    if not _global_vhosts():
        # plugins/domains/functions domains_setup: no global domain, so no app vhosts.
        st.write_env(app, {**st.read_env(app, ROOT), "NO_VHOST": "1"}, ROOT)
    trigger("post-create", app)


def _global_vhosts() -> list[str]:
    path = st.dokku_root(ROOT) / "VHOST"
    names = path.read_text().split() if path.is_file() else []
    return [n for n in names if DOMAIN_RE.match(n)]


def _enable_vhosts(app: str) -> None:
    """plugins/domains/functions domains_enable for an app without vhosts: nginx-vhosts'
    pre-enable-vhost clears a port map that starts with http:80 or https:443, then
    NO_VHOST=0."""
    env = st.read_env(app, ROOT)
    if env.get("NO_VHOST") != "1":
        return
    if any(m.startswith(("http:80:", "https:443:")) for m in st.ports(app, ROOT)):
        _save_ports(app, [])
    st.write_env(app, {**env, "NO_VHOST": "0"}, ROOT)


CORE_PROPERTY_PLUGINS = ("apps", "common", "network", "nginx", "ports", "ps", "scheduler",
                         "storage", "letsencrypt", "checks")
# Core plugins without post-app-(rename|clone)-setup triggers: their settings stay behind
# (plugins/checks has none, so `checks:disable` does not follow a rename or clone).
NOT_COPIED_ON_RENAME = ("apps", "common", "checks")


def destroy_app(app: str) -> None:
    confirm(app, "app")
    info1(f"Destroying {app} (including all add-ons)")
    trigger("pre-delete", app, "latest")
    trigger("post-delete", app, "latest")
    # The core plugins' own post-delete triggers: their state for the app goes.
    for plugin in CORE_PROPERTY_PLUGINS:
        shutil.rmtree(st.prop_dir(plugin, app, ROOT), ignore_errors=True)
    shutil.rmtree(st.lib_root(ROOT) / "config" / app, ignore_errors=True)
    info1("Retiring old containers and images")
    shutil.rmtree(st.dokku_root(ROOT) / app, ignore_errors=True)


def copy_core_state(old: str, new: str) -> None:
    """What the core plugins' post-app-(rename|clone)-setup triggers carry over."""
    for plugin in CORE_PROPERTY_PLUGINS:
        if plugin in NOT_COPIED_ON_RENAME:
            continue
        src = st.prop_dir(plugin, old, ROOT)
        if src.is_dir():
            shutil.copytree(src, st.prop_dir(plugin, new, ROOT), dirs_exist_ok=True)
    env = st.read_env(old, ROOT)
    if env:
        st.write_env(new, env, ROOT)
    old_root, new_root = st.dokku_root(ROOT) / old, st.dokku_root(ROOT) / new
    for name in ("VHOST", "DOCKER_OPTIONS_BUILD", "DOCKER_OPTIONS_DEPLOY", "DOCKER_OPTIONS_RUN"):
        if (old_root / name).is_file():
            shutil.copy2(old_root / name, new_root / name)
    if st.git_rev(old, ROOT):  # the git plugin copies the repository
        for item in old_root.iterdir():
            if item.name not in ("VHOST",) and not item.name.startswith("DOCKER_OPTIONS_"):
                dest = new_root / item.name
                if item.is_dir():
                    shutil.copytree(item, dest, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, dest)


@command("apps:create")
def apps_create(args):
    _, pos = parse(args)
    create_app(pos[0] if pos else "")


@command("apps:destroy")
def apps_destroy(args):
    flags, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    if flags.get("force"):
        os.environ["DOKKU_APPS_FORCE_DELETE"] = "1"
    destroy_app(app)


@command("apps:exists")
def apps_exists(args):
    _, pos = parse(args)
    try:
        verify_app(pos[0] if pos else "")
    except Fail as exc:
        # plugins/common/common.go AppDoesNotExist.ExitCode
        raise Fail(exc.message, 20 if "does not exist" in exc.message else exc.code) from None


@command("apps:list")
def apps_list(args):
    parse(args)
    names = st.apps(ROOT)
    if not names:
        warn("You haven't deployed any applications yet")
        return
    info2_quiet("My Apps")
    for name in names:
        out(name)


def _rename_or_clone(args, clone: bool):
    flags, pos = parse(args)
    old = pos[0] if pos else ""
    new = pos[1] if len(pos) > 1 else ""
    if not old:
        raise Fail("Please specify an app to run the command on")
    if not new:
        raise Fail("Please specify an new app name")
    verify_app(old)
    valid_app_name(new)
    if st.app_exists(new, ROOT):
        if clone and flags.get("ignore-existing"):
            warn("Name is already taken")
            return
        raise Fail("Name is already taken")
    info1_quiet(f"{'Cloning' if clone else 'Renaming'} {old} to {new}")
    create_app(new)
    copy_core_state(old, new)
    trigger(f"post-app-{'clone' if clone else 'rename'}-setup", old, new)
    if clone:
        # dokku-postgres' post-app-clone-setup (after jupyterhub's, in plugn's order): the
        # clone joins the LINKS of every service linked to the original.
        for service in _linked_services(old):
            links = st.postgres_links(service, ROOT)
            (_service_dir(service) / "LINKS").write_text(
                "".join(f"{a}\n" for a in sorted({*links, new})))
    if not clone:
        os.environ["DOKKU_APPS_FORCE_DELETE"] = "1"
        destroy_app(old)
    trigger(f"post-app-{'clone' if clone else 'rename'}", old, new)
    if not flags.get("skip-deploy") and st.git_rev(new, ROOT):
        with tempfile.TemporaryDirectory() as tmp:
            checkout(new, Path(tmp))
            if deploy(new, "rebuild", Path(tmp)):
                raise Fail(f"Deploy of {new} failed")


@command("apps:rename")
def apps_rename(args):
    _rename_or_clone(args, clone=False)


@command("apps:clone")
def apps_clone(args):
    _rename_or_clone(args, clone=True)


@command("apps:report")
def apps_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--app-")), None)
    report(app, "app", {"App dir": str(st.dokku_root(ROOT) / app),
                        "App deploy source": "git" if st.git_rev(app, ROOT) else "",
                        "App locked": "false"}, flag, "app")


# --- config -----------------------------------------------------------------------------------


def _config_target(flags, pos) -> tuple[str, list[str]]:
    if flags.get("global"):
        return GLOBAL, pos
    app = pos[0] if pos else ""
    verify_app(app)
    return app, pos[1:]


def restart_after_config(app: str) -> None:
    if app == GLOBAL or not st.deployed(app, ROOT):
        return
    info1(f"Restarting app {app}")
    code = deploy(app, "config", None)
    if code:
        warn(f"Failure while restarting app: exit status {code}")


@command("config:set")
def config_set(args):
    flags, pos = parse(args)
    app, pairs = _config_target(flags, pos)
    if not pairs:
        raise Fail("At least one env pair must be given")
    updated: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise Fail(f"Invalid env pair: {pair}")
        key, value = pair.split("=", 1)
        if flags.get("encoded"):
            try:
                value = base64.b64decode(value, validate=True).decode()
            except ValueError as exc:
                raise Fail(f"{exc} for key '{key}'") from None
        if not KEY_RE.match(key):
            raise Fail(f"Invalid key name: '{key}'")
        updated[key] = value
    env = st.read_env(app, ROOT)
    env.update(updated)
    info1_quiet("Setting config vars")
    if not quiet():
        for line in columns(updated):
            out(line)
    st.write_env(app, env, ROOT)
    if not flags.get("no-restart"):
        restart_after_config(app)


@command("config:unset")
def config_unset(args):
    flags, pos = parse(args)
    app, keys = _config_target(flags, pos)
    if not keys:
        raise Fail("At least one key must be given")
    for key in keys:
        if not KEY_RE.match(key):
            raise Fail(f"Invalid key name: '{key}'")
    env = st.read_env(app, ROOT)
    changed = False
    for key in keys:
        if key in env:
            info1_quiet(f"Unsetting {key}")
            del env[key]
            changed = True
        else:
            info1_quiet(f"Skipping {key}, it is not set in the environment")
    if changed:
        st.write_env(app, env, ROOT)
    if not flags.get("no-restart"):
        restart_after_config(app)


@command("config:get")
def config_get(args):
    flags, pos = parse(args)
    app, keys = _config_target(flags, pos)
    if not keys:
        raise Fail("Expected: key")
    if len(keys) != 1:
        raise Fail(f"Unexpected argument(s): [{' '.join(keys[1:])}]")
    env = st.read_env(app, ROOT)
    if keys[0] not in env:
        raise Fail("", 1)
    value = env[keys[0]]
    out("'" + value.replace("'", "'\\''") + "'" if flags.get("quoted") else value)


def _exported(env: dict[str, str], fmt: str) -> str:
    q = {k: v.replace("'", "'\\''") for k, v in sorted(env.items())}
    if fmt == "exports":
        return "\n".join(f"export {k}='{v}'" for k, v in q.items())
    if fmt == "envfile":
        return "\n".join(f"{k}='{v}'" for k, v in q.items())
    if fmt == "docker-args":
        return " ".join(f"--env={k}='{v}'" for k, v in q.items())
    if fmt == "shell":
        return " ".join(f"{k}='{v}'" for k, v in q.items())
    if fmt == "json":
        return json.dumps(dict(sorted(env.items())), separators=(",", ":"))
    if fmt == "json-list":
        return json.dumps([{"name": k, "value": v} for k, v in sorted(env.items())])
    raise Fail(f"Unknown export format: {fmt}")


@command("config:export")
def config_export(args):
    flags, pos = parse(args)
    app, _ = _config_target(flags, pos)
    env = st.read_env(app, ROOT)
    if flags.get("merged") and app != GLOBAL:
        env = {**st.read_env(GLOBAL, ROOT), **env}
    text = _exported(env, flags.get("format", "exports"))
    if text:
        out(text)


@command("config:show", "config")
def config_show(args):
    flags, pos = parse(args)
    app, _ = _config_target(flags, pos)
    env = st.read_env(app, ROOT)
    if flags.get("merged") and app != GLOBAL:
        env = {**st.read_env(GLOBAL, ROOT), **env}
    if flags.get("format") == "json":
        out(_exported(env, "json"))
        return
    info2_quiet(f"{'global' if app == GLOBAL else app} env vars")
    for line in columns(env):
        out(line)


@command("config:keys")
def config_keys(args):
    flags, pos = parse(args)
    app, _ = _config_target(flags, pos)
    for key in sorted(st.read_env(app, ROOT)):
        out(key)


# --- ports ------------------------------------------------------------------------------------


def _port_args(args) -> tuple[str, list[str]]:
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    for spec in pos[1:]:
        if not PORT_RE.match(spec):
            raise Fail(f"Invalid port mapping specified: {spec}")
    return app, pos[1:]


def _save_ports(app: str, specs: list[str]) -> None:
    st.prop_set("ports", app, "map", "\n".join(specs), ROOT)


@command("ports:set")
def ports_set(args):
    app, specs = _port_args(args)
    if not specs:
        raise Fail("No port mapping specified")
    _save_ports(app, list(dict.fromkeys(specs)))


@command("ports:add")
def ports_add(args):
    app, specs = _port_args(args)
    if not specs:
        raise Fail("No port mapping specified")
    _save_ports(app, list(dict.fromkeys(st.ports(app, ROOT) + specs)))


@command("ports:remove")
def ports_remove(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    gone = set(pos[1:])
    _save_ports(app, [p for p in st.ports(app, ROOT)
                      if p not in gone and p.split(":")[1] not in gone])


@command("ports:clear")
def ports_clear(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    _save_ports(app, [])


@command("ports:list")
def ports_list(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    specs = st.ports(app, ROOT)
    if not specs:
        warn("No port mappings configured for app")
        return
    info1_quiet("Port mappings for app")
    verbose(f"{'scheme':<11}{'host port':<11}container port")
    for spec in specs:
        scheme, host, container = spec.split(":")
        verbose(f"{scheme:<11}{host:<11}{container}")


@command("ports:report")
def ports_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--ports-")), None)
    report(app, "ports", {"Ports map": " ".join(st.ports(app, ROOT))}, flag, "ports")


# --- network ----------------------------------------------------------------------------------



def _network_path(name: str) -> Path:
    return st.state_dir(ROOT) / "networks" / name


@command("network:create")
def network_create(args):
    _, pos = parse(args)
    name = pos[0] if pos else ""
    if not name:
        raise Fail("No network name specified")
    info1_quiet(f"Creating network {name}")
    if _network_path(name).exists() or name in ("bridge", "host", "none"):
        raise Fail(f"Unable to create network: Error response from daemon: network with name "
                   f"{name} already exists")
    _network_path(name).parent.mkdir(parents=True, exist_ok=True)
    _network_path(name).write_text("")


@command("network:destroy")
def network_destroy(args):
    flags, pos = parse(args)
    name = pos[0] if pos else ""
    if not name:
        raise Fail("No network name specified")
    if not flags.get("force"):
        confirm(name, "network")
    info1_quiet(f"Destroying network {name}")
    if not _network_path(name).exists():
        raise Fail(f"Unable to destroy network: Error response from daemon: network {name} "
                   "not found")
    _network_path(name).unlink()


@command("network:exists")
def network_exists(args):
    _, pos = parse(args)
    name = pos[0] if pos else ""
    if not name:
        raise Fail("No network name specified")
    if not _network_path(name).exists():
        raise Fail("Network does not exist")
    info1_quiet("Network exists")


@command("network:list")
def network_list(args):
    parse(args)
    info2_quiet("Networks")
    for name in ["bridge", "host", "none", *st.networks(ROOT)]:
        out(name)


@command("network:set")
def network_set(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    key = pos[1] if len(pos) > 1 else ""
    values = pos[2:]
    if app != GLOBAL:
        verify_app(app)
    if not key:
        raise Fail("No property specified")
    if key not in NETWORK_PROPERTIES:
        raise Fail(f"Invalid property specified, valid properties include: "
                   f"{', '.join(sorted(NETWORK_PROPERTIES))}")
    if key in ("attach-post-create", "attach-post-deploy"):
        for net in values:
            if net in ("host", "bridge"):
                raise Fail(f"Invalid network name specified for attach: {net}")
    value = ",".join(values) if key.startswith("attach") else (values[0] if values else "")
    info2_quiet(f"Setting {key} to {value}" if value else f"Unsetting {key}")
    st.prop_set("network", app, key, value, ROOT)


@command("network:install-trigger")
def network_install_trigger(args):
    """plugins/network/triggers.go TriggerInstall, run on every plugin:install/update: every
    app without `bind-all-interfaces` gets it, `true` (its proxy-is-enabled call succeeds)."""
    for app in st.apps(ROOT):
        if "bind-all-interfaces" not in st.network(app, ROOT):
            if not quiet():
                verbose("Setting network property 'bind-all-interfaces' to true")
            st.prop_set("network", app, "bind-all-interfaces", "true", ROOT)


@command("network:report")
def network_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    p = st.network(app, ROOT)
    flag = next((a for a in args if a.startswith("--network-")), None)
    report(app, "network", {
        "Network attach post create": p.get("attach-post-create", ""),
        "Network attach post deploy": p.get("attach-post-deploy", ""),
        # the raw property, empty when unset (plugins/network/report.go)
        "Network bind all interfaces": p.get("bind-all-interfaces", ""),
        "Network initial network": p.get("initial-network", ""),
        "Network static web listener": p.get("static-web-listener", ""),
        "Network tld": p.get("tld", ""),
    }, flag, "network")


# --- checks -----------------------------------------------------------------------------------


def _checks_list(app: str, key: str) -> list[str]:
    return [p for p in (st.prop_get("checks", app, key, ROOT) or "").split(",") if p]


def _checks_write(app: str, key: str, values: list[str]) -> None:
    st.prop_set("checks", app, key, ",".join(values), ROOT)


@command("checks:disable")
def checks_disable(args):
    """plugins/checks/subcommands/disable: `disabled` gains the process types (or becomes
    `_all_`), and they leave `skipped`."""
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    proctypes = pos[1] if len(pos) > 1 else "_all_"
    if proctypes == "_all_":
        info1(f"Disabling zero downtime for app ({app})")
        _checks_write(app, "disabled", ["_all_"])
        _checks_write(app, "skipped", [])
        return
    info1(f"Disabling zero downtime for app's ({app}) proctypes ({proctypes})")
    disabled, skipped = _checks_list(app, "disabled"), _checks_list(app, "skipped")
    for proc in proctypes.split(","):
        if proc not in disabled:
            disabled.append(proc)
        if proc in skipped:
            skipped.remove(proc)
    _checks_write(app, "disabled", [p for p in disabled if p != "_all_"])
    _checks_write(app, "skipped", skipped)


@command("checks:enable")
def checks_enable(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    proctypes = pos[1] if len(pos) > 1 else "_all_"
    if proctypes == "_all_":
        info1(f"Enabling zero downtime for app ({app})")
        _checks_write(app, "disabled", [])
        _checks_write(app, "skipped", [])
        return
    info1(f"Enabling zero downtime for app's ({app}) proctypes ({proctypes})")
    drop = set(proctypes.split(","))
    for key in ("disabled", "skipped"):
        _checks_write(app, key, [p for p in _checks_list(app, key) if p not in drop])


@command("checks:report")
def checks_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--checks-")), None)
    wait = st.prop_get("checks", app, "wait-to-retire", ROOT) or ""
    global_wait = st.prop_get("checks", GLOBAL, "wait-to-retire", ROOT) or ""
    report(app, "checks", {
        # plugins/checks/report.go: `none` when the property is empty
        "Checks disabled list": ",".join(_checks_list(app, "disabled")) or "none",
        "Checks skipped list": ",".join(_checks_list(app, "skipped")) or "none",
        "Checks computed wait to retire": wait or global_wait or "60",
        "Checks global wait to retire": global_wait or "60",
        "Checks wait to retire": wait,
    }, flag, "checks")


# --- storage ----------------------------------------------------------------------------------

CHOWN_IDS = {"herokuish": 32767, "heroku": 1000, "paketo": 2000, "packeto": 2000, "root": 0}


def _entry_path(name: str) -> Path:
    return st.state_dir(ROOT) / "storage-entries" / f"{name}.json"


def _chown_dir(path: Path, option: str) -> bool:
    """Ownership needs root (Dokku uses a sudo helper); as dokku it is recorded, not applied."""
    if option in ("", "false"):
        return True
    if option not in CHOWN_IDS:
        raise Fail("Unsupported chown permissions")
    try:
        os.chown(path, CHOWN_IDS[option], CHOWN_IDS[option])
        return True
    except PermissionError:
        return False


@command("storage:create")
def storage_create(args):
    flags, pos = parse(args)
    name = pos[0] if pos else ""
    if not name:
        raise Fail("storage entry name is required")
    if not DNS1123.match(name):
        raise Fail(f"storage entry name {name!r} must be a lowercase DNS-1123 label")
    scheduler = flags.get("scheduler", "docker-local")
    host = pos[1] if len(pos) > 1 else str(st.lib_root(ROOT) / "data/storage" / name)
    mode = flags.get("mode", "")
    if mode and not re.match(r"^[0-7]{3,4}$", mode):
        raise Fail(f"invalid --mode {mode!r}")
    chown = flags.get("chown", "")
    if chown and chown not in (*CHOWN_IDS, "false"):
        raise Fail("Unsupported chown permissions")
    if _entry_path(name).exists():
        existing = json.loads(_entry_path(name).read_text())
        if existing["scheduler"] != scheduler:
            raise Fail(f"storage entry {name!r} already exists with scheduler "
                       f"{existing['scheduler']!r}; refusing to redefine")
        info1_quiet(f"Storage entry {name} already exists, leaving in place")
    path = Path(host)
    path.mkdir(parents=True, exist_ok=True)
    if mode:
        path.chmod(int(mode, 8))
    applied = _chown_dir(path, chown)
    entry = {"name": name, "scheduler": scheduler, "host": host, "chown": chown, "mode": mode,
             "chown_applied": applied}
    st.write_atomic(_entry_path(name), json.dumps(entry, sort_keys=True), 0o644)
    info1(f"Storage entry {name} created")


@command("storage:destroy")
def storage_destroy(args):
    flags, pos = parse(args)
    name = pos[0] if pos else ""
    if not name:
        raise Fail("storage entry name is required")
    if not _entry_path(name).exists():
        raise Fail(f"storage entry {name!r} does not exist")
    users = [a for a in st.apps(ROOT) if any(m["entry"] == name for m in st.attachments(a, ROOT))]
    if users:
        raise Fail(f"storage entry {name!r} is still mounted by app(s): {', '.join(users)}")
    if not flags.get("force"):
        confirm(name, "storage entry")
    entry = json.loads(_entry_path(name).read_text())
    if flags.get("destroy-host-dir"):
        shutil.rmtree(entry["host"], ignore_errors=True)
    _entry_path(name).unlink()
    info1(f"Storage entry {name} destroyed")


@command("storage:ensure-directory")
def storage_ensure_directory(args):
    flags, pos = parse(args)
    name = pos[0] if pos else ""
    if not name:
        raise Fail("Please specify a name for the directory")
    chown = flags.get("chown", "herokuish")
    if chown not in (*CHOWN_IDS, "false"):
        raise Fail("Unsupported chown permissions")
    path = st.lib_root(ROOT) / "data/storage" / name
    info1(f"Ensuring {path} exists")
    path.mkdir(parents=True, exist_ok=True)
    if chown != "false":
        verbose_id = CHOWN_IDS[chown]
        if not quiet():
            verbose(f"Setting directory ownership to {verbose_id}:{verbose_id}")
        _chown_dir(path, chown)
    if not quiet():
        verbose("Directory ready for mounting")


def _legacy(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    host, container = parts[0], parts[1] if len(parts) > 1 else ""
    options = ":".join(parts[2:])
    if not (host.startswith("/") or VOLUME_RE.match(host)) or not container.startswith("/"):
        raise Fail("Storage path must be two valid paths divided by colon.")
    return host, container, options


@command("storage:mount")
def storage_mount(args):
    flags, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    spec = pos[1] if len(pos) > 1 else ""
    mounts = st.attachments(app, ROOT)
    if ":" in spec:
        host, container, options = _legacy(spec)
        name = "legacy-" + hashlib.sha256(spec.encode()).hexdigest()[:12]
        if any(m["host"] == host and m["container"] == container for m in mounts):
            raise Fail("Mount path already exists.")
        mounts.append({"entry": name, "host": host, "container": container,
                       "options": options, "legacy": True})
        st.prop_set("storage", app, "mounts", json.dumps(mounts), ROOT)
        return
    if not spec or not _entry_path(spec).exists():
        raise Fail(f"storage entry {spec!r} does not exist; create it first with "
                   "`dokku storage:create`".replace("'", '"'))
    container = flags.get("container-dir", "")
    if not container:
        raise Fail("--container-dir is required when mounting a named storage entry")
    if not container.startswith("/"):
        raise Fail(f'attachment container path "{container}" must be absolute')
    entry = json.loads(_entry_path(spec).read_text())
    options = ",".join(filter(None, ["ro" if flags.get("volume-readonly") else "",
                                     flags.get("volume-options", "")]))
    record = {"entry": spec, "host": entry["host"], "container": container, "options": options,
              "legacy": False}
    existing = [i for i, m in enumerate(mounts)
                if m["entry"] == spec and m["container"] == container]
    if existing:
        mounts[existing[0]] = record
        msg = f"Storage entry {spec} mount at {container} on {app} updated"
    else:
        mounts.append(record)
        msg = f"Storage entry {spec} mounted at {container} on {app}"
    st.prop_set("storage", app, "mounts", json.dumps(mounts), ROOT)
    info1(msg)


@command("storage:unmount")
def storage_unmount(args):
    flags, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    spec = pos[1] if len(pos) > 1 else ""
    mounts = st.attachments(app, ROOT)
    if ":" in spec:
        host, container, _ = _legacy(spec)
        keep = [m for m in mounts if not (m["host"] == host and m["container"] == container)]
        if len(keep) == len(mounts):
            raise Fail("Mount path does not exist.")
    else:
        container = flags.get("container-dir", "")
        match = [m for m in mounts if m["entry"] == spec
                 and (not container or m["container"] == container)]
        if not match:
            raise Fail(f'storage entry "{spec}" is not mounted on app "{app}"')
        if len(match) > 1:
            raise Fail(f'storage entry "{spec}" is mounted at multiple paths on app "{app}"; '
                       "pass --container-dir to disambiguate")
        keep = [m for m in mounts if m is not match[0]]
    st.prop_set("storage", app, "mounts", json.dumps(keep) if keep else "", ROOT)


@command("storage:list")
def storage_list(args):
    flags, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    fmt = flags.get("format", "text")
    if fmt not in ("text", "json"):
        raise Fail("Invalid --format value specified")
    if fmt == "json":
        # plugins/storage/storage.go StorageListEntry: entry_name, readonly and
        # volume_options are omitted when empty.
        rows = []
        for m in st.attachments(app, ROOT):
            opts = [o for o in (m["options"] or "").split(",") if o]
            row = {"entry_name": m["entry"], "host_path": m["host"],
                   "container_path": m["container"], "readonly": "ro" in opts,
                   "volume_options": ",".join(o for o in opts if o != "ro")}
            rows.append({k: v for k, v in row.items() if v or k.endswith("_path")})
        out(json.dumps(rows, separators=(",", ":")))
        return
    info1_quiet(f"{app} volume bind-mounts:")
    for line in st.mounts(app, ROOT):
        verbose(line)


@command("storage:report")
def storage_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--storage-")), None)
    mounts = " ".join(f"-v {m}" for m in st.mounts(app, ROOT))
    report(app, "storage", {"Storage build mounts": "", "Storage deploy mounts": mounts,
                            "Storage run mounts": mounts}, flag, "storage")


# --- domains, nginx, proxy ----------------------------------------------------------------------


def _vhost_path(app: str) -> Path:
    return st.dokku_root(ROOT) / app / "VHOST"


def _domain_args(args) -> tuple[str, list[str]]:
    _, pos = parse(args)
    app = pos[0] if pos else ""
    if app != GLOBAL:
        verify_app(app)
    for d in pos[1:]:
        if not DOMAIN_RE.match(d.lower()):
            raise Fail(f"{d} is invalid. exiting...")
    return app, [d.lower() for d in pos[1:]]


def _save_domains(app: str, names: list[str]) -> None:
    st.write_atomic(_vhost_path(app), "".join(f"{d}\n" for d in names), 0o644)


def _maybe_rebuild_proxy(app: str) -> None:
    if st.deployed(app, ROOT):
        st.append_jsonl(st.state_dir(ROOT) / "proxy-builds.jsonl", {"app": app, "by": "domains"})


@command("domains:add")
def domains_add(args):
    app, names = _domain_args(args)
    if not names:
        raise Fail("Please specify a domain name")
    have = st.domains(app, ROOT)
    for d in names:
        if d in have:
            raise Fail(f"{d} is already defined for {app}")
    _save_domains(app, have + names)
    _enable_vhosts(app)
    _maybe_rebuild_proxy(app)
    info1_quiet(f"Added {' '.join(names)} to {app}")


@command("domains:set")
def domains_set(args):
    app, names = _domain_args(args)
    if not names:
        raise Fail("Please specify a domain name")
    _save_domains(app, list(dict.fromkeys(names)))
    _enable_vhosts(app)
    _maybe_rebuild_proxy(app)
    info1_quiet(f"Set {' '.join(names)} for {app}")


@command("domains:remove")
def domains_remove(args):
    app, names = _domain_args(args)
    if not names:
        raise Fail("Please specify a domain name")
    _save_domains(app, [d for d in st.domains(app, ROOT) if d not in names])
    _maybe_rebuild_proxy(app)
    info1_quiet(f"Removed {' '.join(names)} from {app}")


@command("domains:clear")
def domains_clear(args):
    app, _ = _domain_args(args)
    _save_domains(app, [])
    info1_quiet(f"Cleared domains in {app}")


@command("domains:report")
def domains_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--domains-")), None)
    names = " ".join(st.domains(app, ROOT))
    report(app, "domains", {"Domains app enabled": "true" if names else "false",
                            "Domains app vhosts": names, "Domains global enabled": "false",
                            "Domains global vhosts": ""}, flag, "domains")




def property_set(plugin: str, valid: list[str], args: list[str]) -> None:
    """`<plugin>:set <app>|--global <key> [<value>]`, the shape Dokku's plugins share."""
    _, pos = parse(args)
    app = pos[0] if pos else ""
    key = pos[1] if len(pos) > 1 else ""
    value = pos[2] if len(pos) > 2 else ""
    if app != GLOBAL:
        verify_app(app)
    if not key:
        raise Fail("No property specified")
    if key not in valid:
        raise Fail(f"Invalid property specified, valid properties include: {', '.join(valid)}")
    info2_quiet(f"Setting {key} to {value}" if value else f"Unsetting {key}")
    st.prop_set(plugin, app, key, value, ROOT)


@command("nginx:set")
def nginx_set(args):
    property_set("nginx", sorted(NGINX_PROPERTIES), args)


@command("nginx:report")
def nginx_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    p = st.nginx(app, ROOT)
    flag = next((a for a in args if a.startswith("--nginx-")), None)
    report(app, "nginx", {f"Nginx {k.replace('-', ' ')}": p.get(k, "")
                          for k in NGINX_PROPERTIES}, flag, "nginx")


@command("proxy:build-config")
def proxy_build_config(args):
    flags, pos = parse(args)
    targets = st.apps(ROOT) if flags.get("all") else [pos[0] if pos else ""]
    for app in targets:
        verify_app(app)
    for app in targets:
        st.append_jsonl(st.state_dir(ROOT) / "proxy-builds.jsonl", {"app": app, "by": "command"})
        if not st.deployed(app, ROOT):
            warn(f"App {app} has not been deployed")


@command("proxy:report")
def proxy_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--proxy-")), None)
    report(app, "proxy", {"Proxy enabled": "true", "Proxy type": "nginx"}, flag, "proxy")


# --- git, ps --------------------------------------------------------------------------------


def _git(repo: Path, *args: str, cwd: Path | None = None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", f"safe.directory={repo}", *args], cwd=cwd,
                          capture_output=True, text=True, env=env)


@command("git:from-archive")
def git_from_archive(args):
    archive_type, rest, it = "tar", [], iter(args)
    for a in it:
        if a == "--archive-type":
            archive_type = next(it, "")
        elif a not in GLOBAL_FLAGS:
            rest.append(a)
    app = rest[0] if rest else ""
    url = rest[1] if len(rest) > 1 else ""
    verify_app(app)
    if not url:
        raise Fail("Please specify an archive url or -- to fetch the archive from stdin")
    if archive_type not in ("tar", "tar.gz", "zip"):
        raise Fail("Invalid archive type specified, valid archive types include: tar, tar.gz, zip")
    if url != "--" or archive_type == "zip":
        raise Fail("stand-in: only archives on stdin (--) of type tar or tar.gz are modelled")
    info1(f"Fetching {archive_type} file from stdin")
    data = sys.stdin.buffer.read()
    out(str(len(data)))
    info1("Generating build context")
    repo = st.dokku_root(ROOT) / app
    with tempfile.TemporaryDirectory(prefix="dokku-standin-") as tmp:
        work = Path(tmp) / "src"
        work.mkdir()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            safe_extract(tf, work)
        entries = list(work.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            verbose("Stripping top-level archive folder components")
            top = entries[0]
            for item in list(top.iterdir()):
                item.rename(work / item.name)
            top.rmdir()
        else:
            verbose("Moving unarchived files and folders into place")
        info1("Updating git repository with specified build context")
        previous = st.git_rev(app, ROOT)
        if commit_tree(repo, work) is None:
            warn("No changes detected, skipping git commit")
            warn("Call 'ps:rebuild' on app to rebuild the app from existing source")
            raise Fail("", 1)
        code = deploy(app, "git", work)
        if code:
            # git_receive_app failed: Dokku moves the branch back.
            if previous:
                _git(repo, "--git-dir", str(repo), "update-ref", "refs/heads/master", previous)
            else:
                _git(repo, "--git-dir", str(repo), "update-ref", "-d", "refs/heads/master")
            raise Fail("", code)


def commit_tree(repo: Path, tree: Path) -> str | None:
    """Commit `tree` to the app's bare repo; None when nothing changed."""
    if not (repo / "HEAD").exists():
        _git(repo, "init", "--quiet", "--bare", "--initial-branch=master", str(repo))
    env = dict(os.environ, GIT_DIR=str(repo), GIT_WORK_TREE=str(tree),
               GIT_INDEX_FILE=str(tree.parent / "index"), GIT_AUTHOR_NAME="Dokku",
               GIT_AUTHOR_EMAIL="automated@dokku.sh", GIT_COMMITTER_NAME="Dokku",
               GIT_COMMITTER_EMAIL="automated@dokku.sh")
    previous = _git(repo, "rev-parse", "--verify", "-q", "refs/heads/master", env=env).stdout
    previous = previous.strip()
    if previous:
        _git(repo, "read-tree", previous, env=env)
    _git(repo, "add", "--all", "--force", ".", cwd=tree, env=env)
    new_tree = _git(repo, "write-tree", env=env).stdout.strip()
    if previous:
        old_tree = _git(repo, "rev-parse", f"{previous}^{{tree}}", env=env).stdout.strip()
        if old_tree == new_tree:
            return None
    parent = ["-p", previous] if previous else []
    message = "Initial commit" if not previous else f"Automated commit @ {int(time.time())}"
    rev = _git(repo, "commit-tree", new_tree, *parent, "-m", message, env=env).stdout.strip()
    _git(repo, "update-ref", "refs/heads/master", rev, env=env)
    return rev


@command("git:report")
def git_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--git-")), None)
    # plugins/git/report.go reportSha: `git rev-parse HEAD` in the app's repository, which
    # echoes `HEAD` while the repository has no commit.
    report(app, "git", {"Git deploy branch": "master",
                        "Git sha": st.git_rev(app, ROOT) or "HEAD"}, flag, "git")


def _ps_targets(args) -> list[str]:
    flags, pos = parse(args)
    targets = st.apps(ROOT) if flags.get("all") else [pos[0] if pos else ""]
    for app in targets:
        verify_app(app)
    return targets


@command("ps:rebuild")
def ps_rebuild(args):
    for app in _ps_targets(args):
        with tempfile.TemporaryDirectory(prefix="dokku-standin-") as tmp:
            if not checkout(app, Path(tmp)):
                warn(f"App {app} has not been deployed")
                continue
            if deploy(app, "rebuild", Path(tmp)):
                raise Fail(f"Deploy of {app} failed")


@command("ps:restart", "ps:start")
def ps_restart(args):
    kind = "start" if sys.argv[1] == "ps:start" else "restart"
    for app in _ps_targets(args):
        if not st.deployed(app, ROOT):
            warn(f"App {app} has not been deployed")
            continue
        if deploy(app, kind, None):
            raise Fail(f"Deploy of {app} failed")


@command("ps:stop")
def ps_stop(args):
    for app in _ps_targets(args):
        if not st.deployed(app, ROOT):
            warn(f"App {app} has not been deployed")
            continue
        info1(f"Stopping {app}")
        st.prop_set("ps", app, "stopped", "true", ROOT)


@command("ps:report")
def ps_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--")), None)
    deployed = st.deployed(app, ROOT)
    running = deployed and st.prop_get("ps", app, "stopped", ROOT) != "true"
    report(app, "ps", {"Deployed": str(deployed).lower(), "Running": str(running).lower(),
                       "Processes": "1" if running else "0"}, flag, "ps")


# --- docker-options, scheduler, report ---------------------------------------------------------


def _options_path(app: str, phase: str) -> Path:
    return st.dokku_root(ROOT) / app / f"DOCKER_OPTIONS_{phase.upper()}"


def _phases(value: str) -> list[str]:
    phases = [p for p in value.split(",") if p]
    if not phases or any(p not in st.PHASES for p in phases):
        raise Fail("Phase must be one of build, deploy, run")
    return phases


@command("docker-options:add", "docker-options:remove")
def docker_options_change(args):
    # Positional, as Dokku's bash implementation: the option itself starts with "--".
    pos = [a for a in args if a not in GLOBAL_FLAGS]
    app = pos[0] if pos else ""
    verify_app(app)
    phases = _phases(pos[1] if len(pos) > 1 else "")
    option = " ".join(pos[2:])
    if not option:
        raise Fail("Please specify docker options to add to the phase")
    adding = sys.argv[1] == "docker-options:add"
    for phase in phases:
        have = st.docker_options(app, phase, ROOT)
        new = (have + [option] if option not in have else have) if adding else \
            [o for o in have if o != option]
        st.write_atomic(_options_path(app, phase), "".join(f"{o}\n" for o in new), 0o644)


@command("docker-options:clear")
def docker_options_clear(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    for phase in _phases(pos[1]) if len(pos) > 1 else st.PHASES:
        _options_path(app, phase).unlink(missing_ok=True)


@command("docker-options:report")
def docker_options_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--docker-options-")), None)
    report(app, "docker options", {
        f"Docker options {p}": " ".join(st.docker_options(app, p, ROOT)) for p in st.PHASES
    }, flag, "docker-options")


@command("scheduler:set")
def scheduler_set(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    key = pos[1] if len(pos) > 1 else ""
    value = pos[2] if len(pos) > 2 else ""
    if app != GLOBAL:
        verify_app(app)
    if not key:
        raise Fail("No property specified")
    if key != "selected":
        raise Fail("Invalid property specified, valid properties include: selected")
    info2_quiet(f"Setting {key} to {value}" if value else f"Unsetting {key}")
    st.prop_set("scheduler", app, key, value, ROOT)


@command("scheduler:report")
def scheduler_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--scheduler-")), None)
    selected = st.prop_get("scheduler", app, "selected", ROOT) or ""
    report(app, "scheduler", {"Scheduler computed selected": selected or "docker-local",
                              "Scheduler selected": selected}, flag, "scheduler")


@command("report")
def dokku_report(args):
    _, pos = parse(args)
    targets = [pos[0]] if pos else st.apps(ROOT)
    for app in targets:
        verify_app(app)
    for app in targets:
        trigger("report", app)


# --- dokku-postgres ----------------------------------------------------------------------------


def _service_dir(service: str) -> Path:
    return st.lib_root(ROOT) / "services/postgres" / service


def _linked_services(app: str) -> list[str]:
    return [s for s in st.postgres_services(ROOT) if app in st.postgres_links(s, ROOT)]


def _service(args_pos: list[str], must_exist: bool = True) -> str:
    service = args_pos[0] if args_pos else ""
    if not service or not re.match(r"^[A-Za-z0-9_-]+$", service):
        raise Fail("Please specify a valid name for the service. Valid characters are: "
                   "[A-Za-z0-9_]+")
    if must_exist and not _service_dir(service).is_dir():
        raise Fail(f"Postgres service {service} does not exist")
    return service


def _service_url(service: str) -> str:
    password = (_service_dir(service) / "PASSWORD").read_text().strip()
    host = "dokku-postgres-" + service.replace(".", "-")
    database = service.replace(".", "_").replace("-", "_")
    return f"postgres://postgres:{password}@{host}:5432/{database}"


@command("postgres:create")
def postgres_create(args):
    _, pos = parse(args)
    service = _service(pos, must_exist=False)
    if _service_dir(service).is_dir():
        raise Fail(f"Postgres service {service} already exists")
    d = _service_dir(service)
    d.mkdir(parents=True)
    st.write_atomic(d / "PASSWORD", secrets.token_hex(16), 0o640)
    (d / "LINKS").touch()
    info2(f"Postgres container created: {service}")


@command("postgres:exists")
def postgres_exists(args):
    _, pos = parse(args)
    service = _service(pos)
    info1_quiet(f"Service {service} exists")


@command("postgres:list")
def postgres_list(args):
    parse(args)
    services = st.postgres_services(ROOT)
    if not services:
        warn("There are no Postgres services")
        return
    info2_quiet("Postgres services")
    for s in services:
        out(s)


@command("postgres:info")
def postgres_info(args):
    _, pos = parse(args)
    service = _service(pos)
    if "--dsn" in args:
        out(_service_url(service))
        return
    if "--links" in args:
        out(" ".join(st.postgres_links(service, ROOT)) or "-")
        return
    info2(f"{service} postgres service information")
    verbose(f"Dsn:      {_service_url(service)}")
    verbose(f"Links:    {' '.join(st.postgres_links(service, ROOT)) or '-'}")
    verbose("Status:   running")


@command("postgres:link")
def postgres_link(args):
    flags, pos = parse(args)
    service = _service(pos)
    app = pos[1] if len(pos) > 1 else ""
    if not app:
        raise Fail("Please specify an app to run the command on")
    verify_app(app)
    url = _service_url(service)
    env = st.read_env(app, ROOT)
    linked = [k for k, v in env.items() if v == url]
    alias = flags.get("alias", "DATABASE")
    if flags.get("alias") and f"{alias}_URL" in env:
        raise Fail(f"Specified alias {alias} already in use")
    if not flags.get("alias") and "DATABASE_URL" in env:
        alias = f"DOKKU_POSTGRES_{secrets.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}" \
                f"{secrets.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}"
    if linked:
        raise Fail(f"Already linked as {linked[0]}")
    links = st.postgres_links(service, ROOT)
    (_service_dir(service) / "LINKS").write_text("".join(f"{a}\n" for a in sorted({*links, app})))
    host = "dokku-postgres-" + service.replace(".", "-")
    dokku("docker-options:add", app, "build,deploy,run", f"--link dokku.postgres.{service}:{host}")
    if flags.get("querystring"):
        url = f"{url}?{flags['querystring']}"
    # dokku-postgres reads --no-restart from DOKKU_GLOBAL_FLAGS, which the dispatcher computes
    # only when the variable is not already set (a nested call inherits the outer one).
    if "--no-restart" in os.environ.get("DOKKU_GLOBAL_FLAGS", ""):
        dokku("config:set", "--no-restart", app, f"{alias}_URL={url}")
        verbose("Skipping restart of linked app")
    else:
        dokku("config:set", app, f"{alias}_URL={url}")


@command("postgres:unlink")
def postgres_unlink(args):
    flags, pos = parse(args)
    service = _service(pos)
    app = pos[1] if len(pos) > 1 else ""
    if not app:
        raise Fail("Please specify an app to run the command on")
    verify_app(app)
    url = _service_url(service)
    keys = [k for k, v in st.read_env(app, ROOT).items() if v.split("?")[0] == url]
    # common-functions service_unlink: LINKS and docker-options go first, then it fails when
    # no config var holds the service's URL.
    links = [a for a in st.postgres_links(service, ROOT) if a != app]
    (_service_dir(service) / "LINKS").write_text("".join(f"{a}\n" for a in links))
    host = "dokku-postgres-" + service.replace(".", "-")
    dokku("docker-options:remove", app, "build,deploy,run",
          f"--link dokku.postgres.{service}:{host}")
    if not keys:
        raise Fail(f"Not linked to app {app}")
    if "--no-restart" in os.environ.get("DOKKU_GLOBAL_FLAGS", ""):
        dokku("config:unset", "--no-restart", app, *keys)
    else:
        dokku("config:unset", app, *keys)


@command("postgres:destroy")
def postgres_destroy(args):
    flags, pos = parse(args)
    service = _service(pos)
    if st.postgres_links(service, ROOT):
        raise Fail("Cannot delete linked service")
    if not (flags.get("force") or "-f" in args):
        confirm(service, "Postgres service")
    info2(f"Deleting {service}")
    shutil.rmtree(_service_dir(service))
    info2(f"Postgres container deleted: {service}")


def dokku(*args: str) -> None:
    code = subprocess.run([str(ROOT / "usr/bin/dokku"), *args]).returncode
    if code:
        raise Fail("", code)


# --- dokku-letsencrypt -------------------------------------------------------------------------



@command("letsencrypt")
def letsencrypt_default(args):
    # 0.38-era dokku-letsencrypt: the bare command only prints the help.
    subprocess.run([str(st.lib_root(ROOT) / "plugins/enabled/letsencrypt/commands"),
                    "letsencrypt:help"])


@command("letsencrypt:set")
def letsencrypt_set(args):
    property_set("letsencrypt", list(LETSENCRYPT_PROPERTIES), args)


@command("letsencrypt:enable")
def letsencrypt_enable(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    email = (st.prop_get("letsencrypt", app, "email", ROOT)
             or st.prop_get("letsencrypt", GLOBAL, "email", ROOT))
    if not email:
        warn("ERROR: Cannot request a certificate without an e-mail address!")
        warn("  please provide your e-mail address using")
        warn(f"  dokku letsencrypt:set {app} email <e-mail>")
        raise Fail("", 1)
    if not st.deployed(app, ROOT):
        raise Fail(f"App {app} has not been deployed")
    info2(f"Let's Encrypt {app} (stand-in: no certificate requested)")
    st.prop_set("letsencrypt", app, "enabled", "true", ROOT)


@command("certs:report")
def certs_report(args):
    """plugins/certs: `--ssl-enabled` is true once the app has a certificate, which
    letsencrypt:enable installs through the certs plugin."""
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    flag = next((a for a in args if a.startswith("--ssl-")), None)
    enabled = st.prop_get("letsencrypt", app, "enabled", ROOT) == "true"
    report(app, "ssl", {"Ssl dir": str(st.dokku_root(ROOT) / app / "tls"),
                        "Ssl enabled": "true" if enabled else "false"}, flag, "ssl")


@command("letsencrypt:disable")
def letsencrypt_disable(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    st.prop_set("letsencrypt", app, "enabled", "", ROOT)
    info1(f"Disabling letsencrypt for app {app}")


@command("letsencrypt:report")
def letsencrypt_report(args):
    _, pos = parse(args)
    app = pos[0] if pos else ""
    verify_app(app)
    p = st.letsencrypt(app, ROOT)
    flag = next((a for a in args if a.startswith("--letsencrypt-")), None)
    report(app, "letsencrypt", {"Letsencrypt active": p.get("enabled", "false"),
                                "Letsencrypt email": p.get("email", "")}, flag, "letsencrypt")


# --- entry ------------------------------------------------------------------------------------


def injected_failure(cmd: str) -> bool:
    """STANDIN_FAIL lists commands that fail once (per stand-in root) before doing anything."""
    wanted = [c.strip() for c in os.environ.get("STANDIN_FAIL", "").split(",") if c.strip()]
    if cmd not in wanted:
        return False
    marker = st.state_dir(ROOT) / "failed" / cmd
    if marker.exists():
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("")
    return True


TYPED = ""  # the command being run, as typed (main sets it)


def main(argv: list[str]) -> int:
    global TYPED
    typed = TYPED = argv[1] if len(argv) > 1 else ""
    handler = COMMANDS.get(typed)
    if handler is None:
        warn(f"stand-in: `{typed}` is not modelled")
        return 1
    try:
        if injected_failure(typed):
            raise Fail(f"{typed} failed (injected by STANDIN_FAIL)")
        handler(argv[2:])
    except Fail as exc:
        if exc.message:
            warn(exc.message)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
