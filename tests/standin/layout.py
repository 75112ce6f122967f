"""Build a Dokku stand-in root: the files a Dokku host has, under one temporary directory.

    python3 tests/standin/layout.py ROOT [--plugin postgres] [--plugin letsencrypt]
    python3 tests/standin/layout.py --enable ROOT postgres

Layout (mirrors a host): `ROOT/usr/bin/dokku` and `plugn`, `ROOT/etc/default/dokku` (pins
DOKKU_ROOT=ROOT/home/dokku and DOKKU_LIB_PATH=ROOT/var/lib/dokku), core plugins under
`var/lib/dokku/core-plugins/available` linked from `plugins/available` and `plugins/enabled`
as Dokku links them, stand-in internals in `ROOT/usr/lib/standin`, and `ROOT/state` (what only
Docker or a service would know: networks, storage entries, deploys). Everything the dokku user
writes is owned by it. Standard library only: it also runs with the system python3.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (description, [(subcommand, usage, description)]). Subcommands route to fake.py,
# except `plugin` (plugin-cmd). Help text is generated from this table, so the stand-in's
# `dokku help` looks like a host's with these core plugins.
CORE: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "00_dokku-standard": (
        "Core commands",
        [("report", "[<app>] [<flag>]", "Displays a report for one or more apps")],
    ),
    "apps": (
        "Manage apps",
        [
            ("clone", "<old-app> <new-app>", "Clones an app"),
            ("create", "<app>", "Create a new app"),
            ("destroy", "<app>", "Permanently destroy an app"),
            ("exists", "<app>", "Checks if an app exists"),
            ("list", "", "List your apps"),
            ("rename", "<old-app> <new-app>", "Rename an app"),
            ("report", "[<app>] [<flag>]", "Displays an app report for one or more apps"),
        ],
    ),
    "checks": (
        "Manage zero-downtime settings",
        [
            ("disable", "<app> [process-type(s)]", "Disable zero-downtime deployment for all "
             "processes (or comma-separated process-type list) ***WARNING: this will cause "
             "downtime during deployments***"),
            ("enable", "<app> [process-type(s)]", "Enable zero-downtime deployment for all "
             "processes (or comma-separated process-type list)"),
            ("report", "[<app>] [<flag>]", "Displays a checks report for one or more apps"),
        ],
    ),
    "config": (
        "Manage global and app-specific config vars",
        [
            ("default", "", ""),
            ("export", "(<app>|--global) [--format FORMAT]", "Export a global or app environment"),
            ("get", "(<app>|--global) KEY", "Display a global or app-specific config value"),
            ("keys", "(<app>|--global)", "Show keys set in environment"),
            ("set", "(<app>|--global) KEY1=VALUE1 [KEY2=VALUE2 ...]", "Set one or more vars"),
            ("show", "(<app>|--global)", "Show all global or app-specific config vars"),
            ("unset", "(<app>|--global) KEY1 [KEY2 ...]", "Unset one or more config vars"),
        ],
    ),
    "docker-options": (
        "Manage docker options for an app",
        [
            ("add", "<app> <phase(s)> OPTION", "Add Docker option to app for phase"),
            ("clear", "<app> [<phase(s)>...]", "Clear a docker options from application"),
            ("remove", "<app> <phase(s)> OPTION", "Remove Docker option from app for phase"),
            ("report", "[<app>] [<flag>]", "Displays a docker options report"),
        ],
    ),
    "domains": (
        "Manage domains used by the proxy",
        [
            ("add", "<app> <domain> [<domain> ...]", "Add domains to app"),
            ("clear", "<app>", "Clear all domains for app"),
            ("remove", "<app> <domain> [<domain> ...]", "Remove domains from app"),
            ("report", "[<app>|--global] [<flag>]", "Displays a domains report"),
            ("set", "<app> <domain> [<domain> ...]", "Set domains for app"),
        ],
    ),
    "git": (
        "Manage app deploys via git",
        [
            ("from-archive", "<app> <archive-url>", "Updates an app's git repository"),
            ("report", "[<app>] [<flag>]", "Displays a git report for one or more apps"),
        ],
    ),
    "network": (
        "Manage network settings for an app",
        [
            ("create", "<network>", "Creates an attachable docker network"),
            ("destroy", "<network>", "Destroys a docker network"),
            ("exists", "<network>", "Checks if a docker network exists"),
            ("list", "", "Lists all docker networks"),
            ("report", "[<app>] [<flag>]", "Displays a network report for one or more apps"),
            ("set", "<app> <key> (<value>)", "Set or clear a network property for an app"),
        ],
    ),
    "nginx-vhosts": (
        "Manage the nginx proxy",
        [
            ("report", "[<app>] [<flag>]", "Displays an nginx report for one or more apps"),
            ("set", "<app> <property> (<value>)", "Set or clear an nginx property for an app"),
        ],
    ),
    "plugin": (
        "Manage installed plugins",
        [
            ("default", "", ""),
            ("disable", "<name>", "Disable an installed plugin (third-party only)"),
            ("enable", "<name>", "Enable a previously disabled plugin"),
            ("install", "[--core|--git-url] [--committish x] [--name]", "Installs a plugin"),
            ("install-dependencies", "[--core]", "Installs dependencies for all plugins"),
            ("installed", "<name>", "Checks if a plugin is installed"),
            ("list", "", "Lists all plugins"),
            ("trigger", "<args...>", "Trigger an arbitrary plugin hook"),
            ("uninstall", "<name>", "Uninstalls a plugin (third-party only)"),
            ("update", "[name [committish]]", "Updates all plugins or one specific plugin"),
        ],
    ),
    "ports": (
        "Manage ports for an app",
        [
            ("add", "<app> [<scheme>:<host-port>:<container-port>...]", "Add port mappings"),
            ("clear", "<app>", "Clear all port mappings for an app"),
            ("list", "<app>", "List port mappings for an app"),
            ("remove", "<app> [<host-port>|<scheme>:<host-port>:<container-port>...]",
             "Remove port mappings"),
            ("report", "[<app>] [<flag>]", "Displays a ports report for one or more apps"),
            ("set", "<app> <scheme>:<host-port>:<container-port>...", "Set port mappings"),
        ],
    ),
    "certs": (
        "Manage SSL (TLS) certificates",
        [
            ("report", "[<app>] [<flag>]", "Displays an ssl report for one or more apps"),
        ],
    ),
    "proxy": (
        "Manage the proxy integration for an app",
        [
            ("build-config", "[--parallel count] [--all|<app>]", "Builds the proxy config"),
            ("report", "[<app>] [<flag>]", "Displays a proxy report for one or more apps"),
        ],
    ),
    "ps": (
        "List processes running in app container(s)",
        [
            ("rebuild", "[--parallel count] [--all|<app>]", "Rebuilds an app from source"),
            ("report", "[<app>] [<flag>]", "Displays a process report for one or more apps"),
            ("restart", "[--parallel count] [--all|<app>]", "Restart an app"),
            ("start", "[--parallel count] [--all|<app>]", "Start an app"),
            ("stop", "[--parallel count] [--all|<app>]", "Stop an app"),
        ],
    ),
    "scheduler": (
        "Manage scheduler settings for an app",
        [
            ("report", "[<app>] [<flag>]", "Displays a scheduler report for one or more apps"),
            ("set", "<app> <key> (<value>)", "Set or clear a scheduler property for an app"),
        ],
    ),
    "storage": (
        "Manage mounted volumes",
        [
            ("create", "<name> [<path>] [--chown option]", "Creates a storage entry"),
            ("destroy", "<name> [--force]", "Destroys a storage entry"),
            ("ensure-directory", "[--chown option] <directory>", "Creates a persistent directory"),
            ("list", "<app>", "List bind mounts for app's container(s) (host:container)"),
            ("mount", "<app> <name>|<host-dir>:<container-dir> [--container-dir path]",
             "Create a new bind mount"),
            ("report", "[<app>] [<flag>]", "Displays a storage report for one or more apps"),
            ("unmount", "<app> <name>|<host-dir>:<container-dir>", "Remove an existing bind mount"),
        ],
    ),
}

# Community plugins the tests may enable (`--plugin NAME`), as if installed from their repos.
COMMUNITY: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "postgres": (
        "Manage postgres services",
        [
            ("create", "<service> [--create-flags...]", "Create a postgres service"),
            ("destroy", "<service> [-f|--force]", "Delete the postgres service/data/container"),
            ("exists", "<service>", "Check if the postgres service exists"),
            ("info", "<service> [--single-info-flag]", "Print the service information"),
            ("link", "<service> <app> [--link-flags...]", "Link the postgres service to the app"),
            ("list", "", "List all postgres services"),
            ("unlink", "<service> <app>", "Unlink the postgres service from the app"),
        ],
    ),
    "letsencrypt": (
        "Automated installation of let's encrypt TLS certificates",
        [
            ("default", "", ""),
            ("disable", "<app>", "Disable letsencrypt for an app"),
            ("enable", "<app>", "Enable or renew letsencrypt for an app"),
            ("report", "[<app>] [<flag>]", "Displays a letsencrypt report for one or more apps"),
            ("set", "<app>|--global <property> (<value>)", "Set or clear a letsencrypt property"),
        ],
    ),
}

SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def system_python() -> str:
    """The fakes run as the dokku user with the system interpreter, never a test venv."""
    for candidate in ("/usr/bin/python3", "/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


def dokku_ids() -> tuple[int, int] | None:
    try:
        return pwd.getpwnam("dokku").pw_uid, grp.getgrnam("dokku").gr_gid
    except KeyError:
        return None


def ensure_dokku_user() -> tuple[int, int] | None:
    """Create the dokku user and group as a Dokku install does (root only), in docker's group."""
    if os.geteuid() != 0:
        return dokku_ids()
    if dokku_ids() is None:
        if subprocess.run(["getent", "group", "dokku"], capture_output=True).returncode != 0:
            subprocess.run(["groupadd", "--system", "dokku"], check=True)
        subprocess.run(
            ["useradd", "--system", "--create-home", "--home-dir", "/home/dokku",
             "--shell", "/bin/bash", "--gid", "dokku", "dokku"],
            check=True,
        )
    if subprocess.run(["getent", "group", "docker"], capture_output=True).returncode == 0:
        groups = subprocess.run(["id", "-nG", "dokku"], capture_output=True, text=True).stdout
        if "docker" not in groups.split():
            subprocess.run(["usermod", "-aG", "docker", "dokku"], check=True)
    return dokku_ids()


def _check_traversable(root: Path) -> None:
    for d in [root, *root.parents]:
        if d.exists() and not os.stat(d).st_mode & 0o001:
            raise SystemExit(
                f"stand-in root {root}: {d} is not traversable by other users, so the dokku "
                "user could not reach it (use a directory under /tmp made with mode 0755)"
            )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _commands_script(name: str, desc: str, subs: list[tuple[str, str, str]]) -> str:
    """A core/community plugin's `commands`: the help protocol, exit 10 for anything else."""
    shown = "nginx" if name == "nginx-vhosts" else name
    lines = "\n".join(
        f"    {shown}:{sub} {usage}".rstrip() + f", {text}"
        for sub, usage, text in subs
        if sub != "default"
    )
    return f"""#!/usr/bin/env bash
[[ " help {shown}:help " == *" $1 "* ]] || exit "$DOKKU_NOT_IMPLEMENTED_EXIT"
set -eo pipefail
[[ -n "$DOKKU_TRACE" ]] && set -x
content() {{
  cat <<'HELP'
{lines}
HELP
}}
if [[ "$1" == "{shown}:help" ]]; then
  echo "Usage: dokku {shown}[:COMMAND]"
  echo ''
  echo "{desc}"
  echo ''
  echo 'Additional commands:'
  content | sort | column -c2 -t -s,
elif [[ $(ps -o command= $PPID) == *"--all"* ]]; then
  content
else
  echo "    {shown}, {desc}"
fi
"""


def _plugin_dir(
    root: Path, base: Path, name: str, desc: str, subs: list[tuple[str, str, str]]
) -> None:
    lib = root / "usr/lib/standin"
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    _write(d / "plugin.toml", f'[plugin]\ndescription = "{desc}"\nversion = "0.38.0"\n'
           "[plugin.config]\n")
    _write(d / "commands", _commands_script(name, desc, subs), 0o755)
    target = lib / ("plugin-cmd" if name == "plugin" else "core-shim")
    (d / "subcommands").mkdir(exist_ok=True)
    for sub, _usage, _text in subs:
        link = d / "subcommands" / sub
        if not link.is_symlink():
            link.symlink_to(target)
    if name == "plugin":
        _write(d / "install",
               f'#!/usr/bin/env bash\nexec "{lib}/plugin-cmd" --install-trigger\n', 0o755)
    if name == "network":
        _write(d / "install",
               f'#!/usr/bin/env bash\nexec "{lib}/core-shim" network:install-trigger\n', 0o755)


def make_root(root: Path | str, plugins: tuple[str, ...] | list[str] = ()) -> Path:
    """Create a fresh stand-in host under `root` (which must be reachable by the dokku user)."""
    root = Path(root).resolve()
    if "core-plugins" in str(root):
        raise SystemExit("stand-in root path must not contain 'core-plugins' (Dokku tests it)")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    _check_traversable(root)
    ids = ensure_dokku_user()
    lib_root = root / "var/lib/dokku"
    lib = root / "usr/lib/standin"
    for d in ("usr/bin", "usr/lib/standin", "etc/default", "var/cache", "home/dokku", "state",
              "var/lib/dokku/core-plugins/available", "var/lib/dokku/core-plugins/enabled",
              "var/lib/dokku/plugins/available", "var/lib/dokku/plugins/enabled",
              "var/lib/dokku/config", "var/lib/dokku/data/storage", "var/lib/dokku/services"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in ("dokku", "plugn"):
        shutil.copy(HERE / f, root / "usr/bin" / f)
        (root / "usr/bin" / f).chmod(0o755)
    for f in ("functions", "plugin-cmd", "fake.py", "state.py", "syntax.py"):
        shutil.copy(HERE / f, lib / f)
        (lib / f).chmod(0o755 if f != "functions" else 0o644)
    _write(lib / "core-shim",
           f'#!/usr/bin/env bash\nexec "{system_python()}" "{lib}/fake.py" "$@"\n', 0o755)
    _write(root / "etc/default/dokku", "\n".join([
        "# Written by the stand-in's layout.py: this host's paths.",
        f"export DOKKU_ROOT={root}/home/dokku",
        f"export DOKKU_LIB_PATH={lib_root}",
        f"export PLUGIN_PATH={lib_root}/plugins",
        f"export PLUGIN_AVAILABLE_PATH={lib_root}/plugins/available",
        f"export PLUGIN_ENABLED_PATH={lib_root}/plugins/enabled",
        f"export PLUGIN_CORE_PATH={lib_root}/core-plugins",
        f"export PLUGIN_CORE_AVAILABLE_PATH={lib_root}/core-plugins/available",
        f"export PLUGIN_CORE_ENABLED_PATH={lib_root}/core-plugins/enabled",
        "",
    ]))
    core_available = lib_root / "core-plugins/available"
    for name, (desc, subs) in CORE.items():
        _plugin_dir(root, core_available, name, desc, subs)
        for link in (lib_root / "core-plugins/enabled" / name,
                     lib_root / "plugins/available" / name,
                     lib_root / "plugins/enabled" / name):
            if not link.is_symlink():
                link.symlink_to(core_available / name)
    (root / "calls.jsonl").touch()
    (root / "calls.jsonl").chmod(0o666)
    if ids and os.geteuid() == 0:
        for d in ("var/lib/dokku", "home/dokku", "state"):
            for dirpath, dirnames, filenames in os.walk(root / d):
                for n in [*dirnames, *filenames]:
                    os.lchown(os.path.join(dirpath, n), *ids)
            os.chown(root / d, *ids)
        os.chown(root / "calls.jsonl", *ids)
    for name in plugins:
        enable_plugin(root, name)
    return root


def enable_plugin(root: Path | str, name: str) -> None:
    """Install one of the COMMUNITY fakes, as `dokku plugin:install` of its repo would."""
    root = Path(root).resolve()
    if name not in COMMUNITY:
        raise SystemExit(f"unknown stand-in plugin {name!r}; known: {', '.join(COMMUNITY)}")
    lib_root = root / "var/lib/dokku"
    desc, subs = COMMUNITY[name]
    _plugin_dir(root, lib_root / "plugins/available", name, desc, subs)
    link = lib_root / "plugins/enabled" / name
    if not link.is_symlink():
        link.symlink_to(lib_root / "plugins/available" / name)
    ids = dokku_ids()
    if ids and os.geteuid() == 0:
        for dirpath, dirnames, filenames in os.walk(lib_root / "plugins/available" / name):
            for n in [dirpath, *[os.path.join(dirpath, x) for x in dirnames + filenames]]:
                os.lchown(n, *ids)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--enable"]:
        enable_plugin(argv[1], argv[2])
        return 0
    if not argv:
        print(__doc__)
        return 2
    plugins = [argv[i + 1] for i, a in enumerate(argv) if a == "--plugin"]
    make_root(argv[0], plugins)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
