"""The Dokku command syntax the fakes accept, as Dokku 0.38, dokku-postgres and
dokku-letsencrypt accept it: one table for the stand-in (fake.py) and the recording fake
(tests/support/recorder.py), so both refuse the same calls. Standard library only: the
stand-in copies this file beside fake.py."""

from __future__ import annotations

import re
from typing import NamedTuple

APP_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")  # plugins/common IsValidAppName
SERVICE_RE = re.compile(r"^[A-Za-z0-9_-]+$")  # dokku-postgres is_valid_service_name
KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # config keys
PORT_RE = re.compile(r"^(http|https|tcp|udp):[0-9]+:[0-9]+$")
NGINX_PROPERTIES = (
    "access-log-format", "access-log-path", "bind-address-ipv4", "bind-address-ipv6",
    "client-body-timeout", "client-header-timeout", "client-max-body-size", "error-log-path",
    "hsts", "hsts-include-subdomains", "hsts-max-age", "hsts-preload", "keepalive-timeout",
    "lingering-timeout", "nginx-conf-sigil-path", "proxy-buffer-size", "proxy-buffering",
    "proxy-buffers", "proxy-busy-buffers-size", "proxy-connect-timeout", "proxy-keepalive",
    "proxy-read-timeout", "proxy-send-timeout", "send-timeout", "underscore-in-headers",
    "x-forwarded-for-value", "x-forwarded-port-value", "x-forwarded-proto-value",
    "x-forwarded-ssl",
)
NETWORK_PROPERTIES = ("attach-post-create", "attach-post-deploy", "bind-all-interfaces",
                      "initial-network", "static-web-listener", "tld")
LETSENCRYPT_PROPERTIES = ("dns-provider", "email", "graceperiod", "lego-docker-args", "server")


class Flags(NamedTuple):
    """Flags of one command (names without `--`): booleans, flags taking a value, flags that
    may repeat (comma lists), and whether other `--x` flags pass through to a `:report`'s own
    single-value flag check (Dokku's ParseReportArgs)."""

    bools: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()
    multi: frozenset[str] = frozenset()
    report: bool = False


def _f(bools: str = "", values: str = "", multi: str = "", report: bool = False) -> Flags:
    return Flags(frozenset(bools.split()), frozenset(values.split()), frozenset(multi.split()),
                 report)


# Every command the stand-in models (pflag-style: flags anywhere, `--k v` or `--k=v`).
FLAGS: dict[str, Flags] = {
    "apps:clone": _f(bools="ignore-existing skip-deploy"),
    "apps:create": _f(),
    "apps:destroy": _f(bools="force"),
    "apps:exists": _f(),
    "apps:list": _f(),
    "apps:rename": _f(bools="skip-deploy"),
    "apps:report": _f(report=True),
    "certs:report": _f(values="format", report=True),
    "checks:disable": _f(),
    "checks:enable": _f(),
    "checks:report": _f(values="format", report=True),
    "config": _f(bools="global merged", values="format"),
    "config:export": _f(bools="global merged", values="format"),
    "config:get": _f(bools="global quoted"),
    "config:keys": _f(bools="global merged"),
    "config:set": _f(bools="encoded global no-restart"),
    "config:show": _f(bools="global merged", values="format"),
    "config:unset": _f(bools="global no-restart"),
    "docker-options:add": _f(),
    "docker-options:clear": _f(),
    "docker-options:remove": _f(),
    "docker-options:report": _f(values="format", report=True),
    "domains:add": _f(),
    "domains:clear": _f(),
    "domains:remove": _f(),
    "domains:report": _f(values="format", report=True),
    "domains:set": _f(),
    "git:from-archive": _f(),
    "git:report": _f(values="format", report=True),
    "letsencrypt": _f(),
    "letsencrypt:disable": _f(),
    "letsencrypt:enable": _f(),
    "letsencrypt:report": _f(values="format", report=True),
    "letsencrypt:set": _f(),
    "network:create": _f(),
    "network:destroy": _f(bools="force"),
    "network:exists": _f(),
    "network:install-trigger": _f(),
    "network:list": _f(values="format"),
    "network:report": _f(values="format", report=True),
    "network:set": _f(),
    "nginx:report": _f(values="format", report=True),
    "nginx:set": _f(),
    "ports:add": _f(),
    "ports:clear": _f(),
    "ports:list": _f(values="format"),
    "ports:remove": _f(),
    "ports:report": _f(values="format", report=True),
    "ports:set": _f(),
    "postgres:create": _f(
        values=(
            "config-options custom-env image image-version initial-network memory "
            "password post-create-network post-start-network root-password shm-size"
        ),
    ),
    "postgres:destroy": _f(bools="force"),
    "postgres:exists": _f(),
    "postgres:info": _f(bools="dsn exposed-ports links status version"),
    "postgres:link": _f(bools="no-restart", values="alias querystring"),
    "postgres:list": _f(),
    "postgres:unlink": _f(bools="no-restart"),
    "proxy:build-config": _f(bools="all", values="parallel"),
    "proxy:report": _f(values="format", report=True),
    "ps:rebuild": _f(bools="all", values="parallel"),
    "ps:report": _f(values="format", report=True),
    "ps:restart": _f(bools="all", values="parallel"),
    "ps:start": _f(bools="all", values="parallel"),
    "ps:stop": _f(bools="all", values="parallel"),
    "report": _f(values="format"),
    "scheduler:report": _f(values="format", report=True),
    "scheduler:set": _f(),
    "storage:create": _f(values="chown mode reclaim-policy scheduler"),
    "storage:destroy": _f(bools="destroy-host-dir force"),
    "storage:ensure-directory": _f(values="chown"),
    "storage:list": _f(values="format"),
    "storage:mount": _f(
        bools="volume-readonly",
        values=(
            "container-dir process-type volume-chown volume-options volume-subpath"
        ),
        multi="phase",
    ),
    "storage:report": _f(values="format", report=True),
    "storage:unmount": _f(values="container-dir"),
}
