"""What the Dokku stand-in knows, for tests to assert on (and for the fakes to keep).

Every function takes `root=None` (default: $STANDIN_ROOT). From pytest:

    from standin import state
    assert state.config("hub", root=sa.root)["HUB_IP"] == "hub.web"

From bats (helpers.bash wraps it as `standin_state`):

    python3 tests/standin/state.py config hub          # KEY=value lines
    python3 tests/standin/state.py app_exists hub      # exit 0/1 (prints true/false)

Lists print one item a line, dicts `key=value` lines (sorted), dicts inside lists as JSON lines,
booleans `true`/`false` with exit 0/1, None prints nothing and exits 1.

Where the state lives (Dokku's own places where a plugin could look; `state/` for what only
Docker or a service would know):
- apps: directories in DOKKU_ROOT (`$STANDIN_ROOT/home/dokku/<app>`, also the bare git repo)
- deployed: property `config/common/<app>/deployed` = `true`
- config: `$DOKKU_LIB_ROOT/config/<app>/ENV` and `config/--global/ENV` (`export K='v'` lines)
- ports: property `config/ports/<app>/map` (newline-separated `http:80:8000`)
- network: properties `config/network/<app>/<key>`; networks in `state/networks/<name>`
- storage: entries `state/storage-entries/<name>.json`, mounts `config/storage/<app>/mounts`
- domains: `DOKKU_ROOT/<app>/VHOST`; nginx: `config/nginx/<app>/<key>`; scheduler likewise
- docker-options: `DOKKU_ROOT/<app>/DOCKER_OPTIONS_{BUILD,DEPLOY,RUN}`
- postgres: `$DOKKU_LIB_ROOT/services/postgres/<svc>/` (LINKS, PASSWORD) as dokku-postgres
- letsencrypt: `config/letsencrypt/<app>/<key>`; proxy rebuilds: `state/proxy-builds.jsonl`
- deploys: `state/deploys.jsonl`; every `dokku` call: `calls.jsonl`
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PHASES = ("build", "deploy", "run")


def root_of(root: str | Path | None = None) -> Path:
    value = root or os.environ.get("STANDIN_ROOT")
    if not value:
        raise RuntimeError("no stand-in root: pass root= or set STANDIN_ROOT")
    return Path(value)


def lib_root(root=None) -> Path:
    return root_of(root) / "var/lib/dokku"


def dokku_root(root=None) -> Path:
    return root_of(root) / "home/dokku"


def state_dir(root=None) -> Path:
    return root_of(root) / "state"


# --- low-level stores (also used by fake.py) ----------------------------------------------


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def prop_dir(plugin: str, app: str, root=None) -> Path:
    return lib_root(root) / "config" / plugin / app


def prop_get(plugin: str, app: str, key: str, root=None) -> str | None:
    try:
        return (prop_dir(plugin, app, root) / key).read_text()
    except FileNotFoundError:
        return None


def prop_set(plugin: str, app: str, key: str, value: str, root=None) -> None:
    path = prop_dir(plugin, app, root) / key
    if value == "":
        path.unlink(missing_ok=True)
    else:
        write_atomic(path, value)


def props(plugin: str, app: str, root=None) -> dict[str, str]:
    d = prop_dir(plugin, app, root)
    if not d.is_dir():
        return {}
    return {p.name: p.read_text() for p in sorted(d.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def env_path(app: str, root=None) -> Path:
    return lib_root(root) / "config" / app / "ENV"


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("'\\''", "'")
    return value


def read_env(app: str, root=None) -> dict[str, str]:
    try:
        text = env_path(app, root).read_text()
    except FileNotFoundError:
        return {}
    env: dict[str, str] = {}
    # Values may span lines (quoted); entries start with "export ".
    entries = ("\n" + text).split("\nexport ")[1:]
    for entry in entries:
        key, _, value = entry.partition("=")
        env[key] = _unquote(value.rstrip("\n"))
    return env


def write_env(app: str, env: dict[str, str], root=None) -> None:
    """Dokku's ENV file: sorted `export KEY='value'` lines, mode 0600."""
    lines = [f"export {k}='{v.replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'"
             for k, v in sorted(env.items())]
    write_atomic(env_path(app, root), "\n".join(lines) + ("\n" if lines else ""))


def read_jsonl(path: Path) -> list[dict]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def append_jsonl(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")


# --- queries for tests ----------------------------------------------------------------------


def apps(root=None) -> list[str]:
    d = dokku_root(root)
    return sorted(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def app_exists(app: str, root=None) -> bool:
    return (dokku_root(root) / app).is_dir()


def deployed(app: str, root=None) -> bool:
    return prop_get("common", app, "deployed", root) == "true"


def config(app: str, root=None) -> dict[str, str]:
    """An app's config vars (`--global` for the global ones), as `config:export` sees them."""
    return read_env(app, root)


def config_get(app: str, key: str, root=None) -> str | None:
    return read_env(app, root).get(key)


def ports(app: str, root=None) -> list[str]:
    value = prop_get("ports", app, "map", root)
    return value.split() if value else []


def networks(root=None) -> list[str]:
    d = state_dir(root) / "networks"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def network(app: str, root=None) -> dict[str, str]:
    """The app's network properties (attach-post-create, bind-all-interfaces, ...)."""
    return props("network", app, root)


def storage_entries(root=None) -> dict[str, dict]:
    d = state_dir(root) / "storage-entries"
    if not d.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(d.glob("*.json"))}


def attachments(app: str, root=None) -> list[dict]:
    """The app's mounts: {"entry", "host", "container", "options", "legacy"} each."""
    value = prop_get("storage", app, "mounts", root)
    return json.loads(value) if value else []


def mounts(app: str, root=None) -> list[str]:
    """The app's mounts as docker-local passes them to `-v`: `host:container[:options]`."""
    out = []
    for a in attachments(app, root):
        spec = f"{a['host']}:{a['container']}"
        out.append(f"{spec}:{a['options']}" if a.get("options") else spec)
    return out


def domains(app: str, root=None) -> list[str]:
    try:
        return (dokku_root(root) / app / "VHOST").read_text().split()
    except FileNotFoundError:
        return []


def nginx(app: str, root=None) -> dict[str, str]:
    return props("nginx", app, root)


def scheduler(app: str, root=None) -> dict[str, str]:
    return props("scheduler", app, root)


def letsencrypt(app: str, root=None) -> dict[str, str]:
    """Properties set with letsencrypt:set, plus `enabled` = `true` after letsencrypt:enable."""
    return props("letsencrypt", app, root)


def docker_options(app: str, phase: str, root=None) -> list[str]:
    path = dokku_root(root) / app / f"DOCKER_OPTIONS_{phase.upper()}"
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def postgres_services(root=None) -> list[str]:
    d = lib_root(root) / "services/postgres"
    return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


def postgres_links(service: str, root=None) -> list[str]:
    path = lib_root(root) / "services/postgres" / service / "LINKS"
    try:
        return [line for line in path.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def proxy_builds(app: str | None = None, root=None) -> list[dict]:
    records = read_jsonl(state_dir(root) / "proxy-builds.jsonl")
    return [r for r in records if app is None or r["app"] == app]


def deploys(app: str | None = None, root=None) -> list[dict]:
    """Deploys in order: {"app", "kind" (git|rebuild|restart|start|config), "rev", "ok"}."""
    records = read_jsonl(state_dir(root) / "deploys.jsonl")
    return [r for r in records if app is None or r["app"] == app]


def calls(command: str | None = None, root=None) -> list[dict]:
    """Every `dokku` call: {"argv", "flags", "user", "pid"}; `command` filters on argv[0]."""
    records = read_jsonl(root_of(root) / "calls.jsonl")
    return [r for r in records if command is None or (r["argv"][:1] == [command])]


def git_rev(app: str, root=None) -> str | None:
    proc = subprocess.run(
        ["git", "-c", f"safe.directory={dokku_root(root) / app}", "--git-dir",
         str(dokku_root(root) / app), "rev-parse", "--verify", "-q", "refs/heads/master"],
        capture_output=True, text=True,
    )
    return proc.stdout.strip() or None


def git_files(app: str, root=None) -> list[str]:
    """Paths committed at the head of the app's deploy branch."""
    proc = subprocess.run(
        ["git", "-c", f"safe.directory={dokku_root(root) / app}", "--git-dir",
         str(dokku_root(root) / app), "ls-tree", "-r", "--name-only", "refs/heads/master"],
        capture_output=True, text=True,
    )
    return proc.stdout.split() if proc.returncode == 0 else []


def git_show(app: str, path: str, root=None) -> bytes | None:
    proc = subprocess.run(
        ["git", "-c", f"safe.directory={dokku_root(root) / app}", "--git-dir",
         str(dokku_root(root) / app), "show", f"refs/heads/master:{path}"],
        capture_output=True,
    )
    return proc.stdout if proc.returncode == 0 else None


QUERIES = {f.__name__: f for f in (
    apps, app_exists, deployed, config, config_get, ports, networks, network, storage_entries,
    attachments, mounts, domains, nginx, scheduler, letsencrypt, docker_options,
    postgres_services, postgres_links, proxy_builds, deploys, calls, git_rev, git_files, git_show,
)}


def _print(value) -> int:
    if isinstance(value, bool):
        print("true" if value else "false")
        return 0 if value else 1
    if value is None:
        return 1
    if isinstance(value, bytes):
        sys.stdout.buffer.write(value)
    elif isinstance(value, dict):
        for k, v in sorted(value.items()):
            print(f"{k}={json.dumps(v) if isinstance(v, dict) else v}")
    elif isinstance(value, list):
        for item in value:
            print(json.dumps(item, sort_keys=True) if isinstance(item, dict) else item)
    else:
        print(value)
    return 0


def main(argv: list[str]) -> int:
    root = None
    if argv[:1] == ["--root"]:
        root, argv = argv[1], argv[2:]
    if not argv or argv[0] not in QUERIES:
        print(f"usage: state.py [--root ROOT] {{{'|'.join(QUERIES)}}} [args...]", file=sys.stderr)
        return 2
    return _print(QUERIES[argv[0]](*argv[1:], root=root))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
