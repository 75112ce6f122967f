"""A recorder in place of `dokku_cli.runner` for the command tests: it keeps the minimal
Dokku state create/destroy/set/report read and write, records every call, and REFUSES (with
an AssertionError that fails the test) any call in a syntax the real Dokku 0.38,
dokku-postgres or dokku-letsencrypt would reject. The flags and name rules come from the
stand-in's table (tests/standin/syntax.py), so the two fakes accept the same syntax; the
argument counts and the report flags below are what this recorder models.

The whole-command flows through the Dokku stand-in live in tests/bats/lifecycle.bats.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dokku_jupyterhub import dokku_cli

# The stand-in's files import each other by name from their folder; so does this one.
_STANDIN = str(Path(__file__).resolve().parents[1] / "standin")
if _STANDIN not in sys.path:
    sys.path.append(_STANDIN)
from syntax import (  # noqa: E402
    APP_RE,
    FLAGS,
    KEY_RE,
    LETSENCRYPT_PROPERTIES,
    NETWORK_PROPERTIES,
    NGINX_PROPERTIES,
    PORT_RE,
    SERVICE_RE,
)

LEGACY_MOUNT_RE = re.compile(r"^/.*:/")  # storage VerifyPaths, absolute host form

# command -> (fewest, most positional arguments) for the commands this recorder models.
ARGUMENTS: dict[str, tuple[int, int]] = {
    "apps:exists": (1, 1), "apps:create": (1, 1), "apps:destroy": (1, 1),
    "config:export": (1, 1), "config:get": (2, 2), "config:set": (2, 99),
    "config:unset": (2, 99), "storage:list": (1, 1), "storage:mount": (2, 2),
    "storage:unmount": (2, 2), "domains:report": (1, 1), "domains:add": (2, 99),
    "ports:report": (1, 1), "ports:set": (2, 99), "network:exists": (1, 1),
    "network:create": (1, 1), "network:destroy": (1, 1), "network:report": (1, 1),
    "network:set": (2, 99), "nginx:report": (1, 1), "nginx:set": (2, 3),
    "proxy:build-config": (1, 1), "postgres:exists": (1, 1), "postgres:create": (1, 1),
    "postgres:link": (2, 2), "postgres:unlink": (2, 2), "postgres:info": (1, 1),
    "postgres:destroy": (1, 1), "letsencrypt:report": (1, 1), "letsencrypt:set": (2, 3),
    "letsencrypt:enable": (1, 1), "git:report": (1, 1), "git:from-archive": (2, 4),
    "ps:report": (1, 1), "ps:rebuild": (1, 1), "ps:restart": (1, 1),
    "certs:report": (1, 1), "checks:disable": (1, 2), "checks:report": (1, 1),
}
# The single-value flags of the reports this recorder answers.
REPORT_FLAGS = {
    "domains:report": {"--domains-app-vhosts"},
    "ports:report": {"--ports-map"},
    "network:report": {"--network-attach-post-create", "--network-bind-all-interfaces",
                       "--network-static-web-listener"},
    "checks:report": {"--checks-disabled-list"},
    "nginx:report": {"--nginx-client-max-body-size", "--nginx-proxy-read-timeout"},
    "letsencrypt:report": {"--letsencrypt-email", "--letsencrypt-active"},
    "git:report": {"--git-sha"},
    "ps:report": {"--deployed"},
    "postgres:info": {"--links"},
    "certs:report": {"--ssl-enabled"},
}
READ_ONLY = {
    "apps:exists", "config:export", "config:get", "storage:list", "domains:report",
    "ports:report", "network:exists", "network:report", "nginx:report", "postgres:exists",
    "postgres:info", "letsencrypt:report", "git:report", "certs:report",
    "ps:report", "checks:report",
}


def check_syntax(args: Sequence[str]) -> tuple[list[str], dict[str, str | bool]]:
    """Positional args and flags of a call, or AssertionError naming what Dokku refuses."""
    cmd, rest = args[0], list(args[1:])
    assert cmd in ARGUMENTS and cmd in FLAGS, (
        f"the plugin called an unknown/unchecked command: {cmd}")
    lo, hi = ARGUMENTS[cmd]
    spec = FLAGS[cmd]
    reports = REPORT_FLAGS.get(cmd, set())
    pos: list[str] = []
    flags: dict[str, str | bool] = {}
    it = iter(rest)
    for a in it:
        if a == "--" and cmd == "git:from-archive":
            pos.append(a)  # "--": read the archive from stdin
        elif a.startswith("--"):
            name, eq, val = a.partition("=")
            if (name[2:] in spec.bools or name in reports) and not eq:
                flags[name] = True
            elif name[2:] in spec.values:
                flags[name] = val if eq else next(it, "")
                assert flags[name], f"{cmd}: {name} needs a value"
            else:
                raise AssertionError(f"{cmd}: Dokku refuses the flag {a}")
        else:
            pos.append(a)
    assert lo <= len(pos) <= hi, f"{cmd}: wrong number of arguments {pos}"
    if cmd in REPORT_FLAGS:
        assert len([f for f in flags if f != "--format"]) == 1, f"{cmd}: one info flag"
    if cmd.split(":")[0] in ("apps", "config", "storage", "domains", "ports", "nginx", "ps",
                             "proxy", "git", "letsencrypt", "checks") or cmd in (
        "network:report", "network:set"
    ):
        assert APP_RE.match(pos[0]), f"{cmd}: invalid app name {pos[0]!r}"
    if cmd in ("postgres:create", "postgres:exists", "postgres:link", "postgres:unlink",
               "postgres:destroy", "postgres:info"):
        assert SERVICE_RE.match(pos[0]), f"{cmd}: invalid service name {pos[0]!r}"
    if cmd in ("config:set",):
        for pair in pos[1:]:
            key, eq, _ = pair.partition("=")
            assert eq and KEY_RE.match(key), f"config:set: invalid pair {pair!r}"
    if cmd in ("config:export",):
        assert flags.get("--format") in ("json", None), "config:export --format"
    if cmd == "storage:list":
        assert flags.get("--format") in ("text", "json"), "storage:list --format"
    if cmd in ("storage:mount", "storage:unmount"):
        assert LEGACY_MOUNT_RE.match(pos[1]), f"{cmd}: {pos[1]!r} is not host:container"
    if cmd == "ports:set":
        assert all(PORT_RE.match(p) for p in pos[1:]), f"ports:set: bad mapping {pos[1:]}"
    if cmd == "nginx:set":
        assert pos[1] in NGINX_PROPERTIES, f"nginx:set: unknown property {pos[1]}"
    if cmd == "network:set":
        assert pos[1] in NETWORK_PROPERTIES, f"network:set: unknown property {pos[1]}"
    if cmd == "letsencrypt:set":
        assert pos[1] in LETSENCRYPT_PROPERTIES, f"letsencrypt:set: unknown property {pos[1]}"
    if cmd == "git:from-archive":
        assert pos[1] == "--", "git:from-archive: the plugin deploys from stdin (--)"
    return pos, flags


@dataclass
class FakeDokku:
    """Minimal Dokku state + a call log. `fail_at(n)` makes the n-th state-changing call
    fail (once); `fail_cmd` fails every call of that command."""

    apps: set[str] = field(default_factory=set)
    config: dict[str, dict[str, str]] = field(default_factory=dict)
    mounts: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, list[str]] = field(default_factory=dict)
    ports: dict[str, list[str]] = field(default_factory=dict)
    networks: set[str] = field(default_factory=set)
    network_props: dict[str, dict[str, str]] = field(default_factory=dict)
    nginx: dict[str, dict[str, str]] = field(default_factory=dict)
    checks_disabled: dict[str, str] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    links: dict[str, set[str]] = field(default_factory=dict)
    le_email: dict[str, str] = field(default_factory=dict)
    le_active: set[str] = field(default_factory=set)
    source: dict[str, bytes] = field(default_factory=dict)
    deployed: set[str] = field(default_factory=set)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    stdin: dict[int, bytes] = field(default_factory=dict)
    fail_change: int | None = None
    fail_cmd: str | None = None
    hooks: dict[str, Callable[[list[str]], None]] = field(default_factory=dict)

    # -- what tests look at -------------------------------------------------------------
    def changes(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] not in READ_ONLY]

    def fail_at(self, n: int) -> None:
        self.fail_change = n

    # -- the runner ---------------------------------------------------------------------
    def __call__(self, args: Sequence[str], input: bytes | None, stream: bool):
        args = list(args)
        pos, flags = check_syntax(args)
        self.calls.append(tuple(args))
        if input is not None:
            self.stdin[len(self.calls) - 1] = input
        cmd = args[0]
        if cmd == self.fail_cmd:
            return dokku_cli.Result(1, "", f" !     injected failure of {cmd}\n")
        if cmd not in READ_ONLY and len(self.changes()) == self.fail_change:
            self.fail_change = None
            return dokku_cli.Result(1, "", f" !     injected failure of {cmd}\n")
        try:
            out = self.handle(cmd, pos, flags, input)
        except _Refused as exc:
            return dokku_cli.Result(exc.code, "", f" !     {exc}\n")
        if cmd in self.hooks:
            self.hooks[cmd](pos)
        return dokku_cli.Result(0, out or "", "")

    def need_app(self, app: str) -> None:
        if app not in self.apps:
            raise _Refused(f"App {app} does not exist", 20)

    def handle(self, cmd: str, pos: list[str], flags: dict, data: bytes | None) -> str:
        app = pos[0] if pos else ""
        if cmd == "apps:exists":
            self.need_app(app)
            return ""
        if cmd == "apps:create":
            if app in self.apps:
                raise _Refused("Name is already taken")
            self.apps.add(app)
            # A host without a global domain (Dokku's default install) makes apps without
            # vhosts (plugins/domains/functions domains_setup).
            self.config[app] = {"NO_VHOST": "1"}
            self.domains[app] = []
            return ""
        if cmd == "apps:destroy":
            self.need_app(app)
            self.apps.discard(app)
            for store in (self.config, self.mounts, self.domains, self.ports,
                          self.network_props, self.nginx, self.le_email, self.source,
                          self.checks_disabled):
                store.pop(app, None)
            self.deployed.discard(app)
            for linked in self.links.values():
                linked.discard(app)
            return ""
        if cmd.startswith(("config:", "storage:", "domains:", "ports:", "nginx:", "ps:",
                           "proxy:", "git:", "letsencrypt:", "certs:", "checks:")) or cmd in (
            "network:report", "network:set"
        ):
            self.need_app(app)
        env = self.config.setdefault(app, {})
        if cmd == "config:export":
            return json.dumps(env)
        if cmd == "config:get":
            if pos[1] not in env:
                raise _Refused("")
            return env[pos[1]] + "\n"
        if cmd == "config:set":
            env.update(p.split("=", 1) for p in pos[1:])
            return ""
        if cmd == "config:unset":
            for k in pos[1:]:
                env.pop(k, None)
            return ""
        mounts = self.mounts.setdefault(app, [])
        if cmd == "storage:list":
            rows = [dict(zip(("host_path", "container_path"), m.split(":", 1), strict=True))
                    for m in mounts]
            return json.dumps(rows)
        if cmd == "storage:mount":
            if pos[1] in mounts:
                raise _Refused("Mount path already exists.")
            mounts.append(pos[1])
            return ""
        if cmd == "storage:unmount":
            if pos[1] not in mounts:
                raise _Refused("Mount path does not exist.")
            mounts.remove(pos[1])
            return ""
        if cmd == "domains:report":
            return " ".join(self.domains.get(app, [])) + "\n"
        if cmd == "domains:add":
            for d in pos[1:]:
                if d not in self.domains[app]:
                    self.domains[app].append(d)
            if env.get("NO_VHOST") == "1":
                # Turning vhosts on clears a port map for vhost-less mode
                # (plugins/nginx-vhosts/pre-enable-vhost).
                if any(p.startswith(("http:80:", "https:443:")) for p in self.ports.get(app, [])):
                    self.ports[app] = []
                env["NO_VHOST"] = "0"
            return ""
        if cmd == "ports:report":
            return " ".join(self.ports.get(app, [])) + "\n"
        if cmd == "ports:set":
            self.ports[app] = list(pos[1:])
            return ""
        if cmd == "network:exists":
            if app not in self.networks:
                raise _Refused("Network does not exist")
            return ""
        if cmd == "network:create":
            if app in self.networks:
                raise _Refused(f"Network {app} already exists")
            self.networks.add(app)
            return ""
        if cmd == "network:destroy":
            if app not in self.networks:
                raise _Refused("Network does not exist")
            self.networks.discard(app)
            return ""
        if cmd == "network:report":
            # the raw property: empty when unset (plugins/network/report.go)
            prop = next(iter(flags)).removeprefix("--network-")
            return self.network_props.get(app, {}).get(prop, "") + "\n"
        if cmd == "network:set":
            # attach-* keep every network given, comma-separated (plugins/network CommandSet)
            value = ",".join(pos[2:]) if pos[1].startswith("attach-") else (
                pos[2] if len(pos) > 2 else "")
            self.network_props.setdefault(app, {})[pos[1]] = value
            return ""
        if cmd == "checks:disable":
            # plugins/checks/subcommands/disable: the process types join `disabled`
            have = [p for p in self.checks_disabled.get(app, "").split(",") if p]
            want = pos[1] if len(pos) > 1 else "_all_"
            self.checks_disabled[app] = want if want == "_all_" else ",".join(
                dict.fromkeys([*have, *want.split(",")]))
            return ""
        if cmd == "checks:report":
            return (self.checks_disabled.get(app) or "none") + "\n"
        if cmd == "nginx:report":
            prop = next(iter(flags)).removeprefix("--nginx-")
            return self.nginx.get(app, {}).get(prop, "") + "\n"
        if cmd == "nginx:set":
            self.nginx.setdefault(app, {})[pos[1]] = pos[2] if len(pos) > 2 else ""
            return ""
        if cmd == "proxy:build-config":
            return ""
        if cmd == "postgres:exists":
            if app not in self.services:
                raise _Refused(f"Postgres service {app} does not exist")
            return ""
        if cmd == "postgres:create":
            if app in self.services:
                raise _Refused(f"Postgres service {app} already exists")
            self.services.add(app)
            self.links[app] = set()
            return ""
        if cmd == "postgres:link":
            service, target = pos
            if service not in self.services:
                raise _Refused(f"Postgres service {service} does not exist")
            self.need_app(target)
            if target in self.links[service]:
                raise _Refused("Already linked as DATABASE_URL")
            self.links[service].add(target)
            self.config.setdefault(target, {})["DATABASE_URL"] = (
                f"postgres://postgres:secretpw@dokku-postgres-{service}:5432/{service}"
            )
            return ""
        if cmd == "postgres:unlink":
            service, target = pos
            if target not in self.links.get(service, set()):
                raise _Refused(f"Not linked to app {target}")
            self.links[service].discard(target)
            self.config.get(target, {}).pop("DATABASE_URL", None)
            return ""
        if cmd == "postgres:info":
            if app not in self.services:
                raise _Refused(f"Postgres service {app} does not exist")
            return (" ".join(sorted(self.links[app])) or "-") + "\n"
        if cmd == "postgres:destroy":
            if self.links.get(app):
                raise _Refused("Cannot delete linked service")
            self.services.discard(app)
            return ""
        if cmd == "letsencrypt:report":
            if "--letsencrypt-active" in flags:
                return ("true" if app in self.le_active else "false") + "\n"
            if not self.le_email.get(app):
                raise _Refused("not deployed")  # the bash report fails on empty values
            return self.le_email[app] + "\n"
        if cmd == "letsencrypt:set":
            self.le_email[app] = pos[2] if len(pos) > 2 else ""
            return ""
        if cmd == "letsencrypt:enable":
            if app not in self.deployed or not self.domains.get(app):
                raise _Refused("app must be deployed and have a domain")
            self.le_active.add(app)
            return ""
        if cmd == "certs:report":
            # letsencrypt:enable installs its certificate through the certs plugin
            return ("true" if app in self.le_active else "false") + "\n"
        if cmd == "git:report":
            # `git rev-parse HEAD` of the app's repository: `HEAD` before the first commit.
            return ("0123abcd" * 5 if app in self.source else "HEAD") + "\n"
        if cmd == "git:from-archive":
            assert data, "git:from-archive -- needs the archive on stdin"
            assert_single_top_folder(data)
            if self.source.get(app) == data:
                return "No changes detected, skipping\n"
            self.source[app] = data
            self.deployed.add(app)
            return ""
        if cmd == "ps:report":
            return ("true" if app in self.deployed else "false") + "\n"
        if cmd == "ps:rebuild":
            if app not in self.source:
                raise _Refused("no source")
            self.deployed.add(app)
            return ""
        if cmd == "ps:restart":
            return ""
        raise AssertionError(f"no fake for {cmd}")  # pragma: no cover


class _Refused(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def assert_single_top_folder(data: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        tops = {m.name.split("/", 1)[0] for m in tf.getmembers()}
    assert len(tops) == 1, f"git:from-archive strips ONE top folder, got {tops}"


def install_plugins(lib: Path, *names: str, monkeypatch: pytest.MonkeyPatch) -> None:
    enabled = lib / "plugins" / "enabled"
    enabled.mkdir(parents=True, exist_ok=True)
    for n in names:
        (enabled / n).mkdir(exist_ok=True)
    monkeypatch.setenv("PLUGIN_ENABLED_PATH", str(enabled))


