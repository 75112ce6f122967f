"""The plugin's client of a running hub's REST API (for `users:list`).

The hub registers a service with the token in `HUB_PLUGIN_API_TOKEN` and the scopes
list:users, read:users, read:servers. The plugin runs on the Docker host, so it talks to the
hub container directly on its IP in the app network, port 8000 (the hub's proxy), instead of
through nginx and the public domain (which may not resolve from the host, or have TLS not
set up yet). Standard library only (urllib): no new runtime dependency.

The token never appears in output, errors or logs: only in the Authorization header.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dokku_jupyterhub import docker_api, dokku_cli
from dokku_jupyterhub.hub_runtime.contract import (
    HUB_PORT,
    LABEL_DOKKU_APP,
    LABEL_DOKKU_PROCESS,
    Env,
    network_name,
)
from dokku_jupyterhub.output import DokkuError

TOKEN_KEY = Env.API_TOKEN
PORT = HUB_PORT
TIMEOUT = 5.0
PAGE = 200  # JupyterHub's default api_page_max_limit
MAX_PAGES = 500
PAGINATION = "application/jupyterhub-pagination+json"


class HubUnavailable(Exception):
    """The hub could not be asked; the message says why, in one line, without secrets."""


@dataclass(frozen=True)
class HubUser:
    name: str
    admin: bool
    groups: tuple[str, ...]
    server: str  # running | pending | stopped


@dataclass(frozen=True)
class HubView:
    """What the hub says about its users, or why it could not say (`users` is None)."""

    users: dict[str, HubUser] | None
    note: str | None = None


# ---- where the hub is ------------------------------------------------------------------


def _docker_locator(app: str) -> str:
    """Base URL of the app's running web container, on the app network."""
    try:
        client = docker_api.client()
    except DokkuError as exc:
        raise HubUnavailable(exc.message) from None
    labels = [f"{LABEL_DOKKU_APP}={app}", f"{LABEL_DOKKU_PROCESS}=web"]
    try:
        found = client.containers.list(filters={"label": labels, "status": "running"})
    except Exception as exc:  # noqa: BLE001 - any engine failure means "cannot tell"
        raise HubUnavailable(docker_api.explain(exc)) from None
    if not found:
        raise HubUnavailable("the hub is not running")
    # During a deploy old and new containers both run; the newest is the one nginx uses.
    newest = max(found, key=lambda c: c.attrs.get("Created", ""))
    ip = container_ip(newest.attrs, network_name(app))
    if not ip:
        raise HubUnavailable(f"the hub container has no IP address on {network_name(app)}")
    return f"http://{ip}:{PORT}"


def container_ip(attrs: dict[str, Any], network: str) -> str | None:
    """The container's IP on `network`, else on any network it has (older wiring)."""
    networks = attrs.get("NetworkSettings", {}).get("Networks") or {}
    preferred = networks.get(network, {}).get("IPAddress")
    if preferred:
        return preferred
    return next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), None)


# Tests replace this to point at a local server without Docker.
locator: Callable[[str], str] = _docker_locator


def api_token(app: str) -> str:
    result = dokku_cli.run("config:get", app, TOKEN_KEY, check=False)
    token = result.stdout.strip() if result.ok else ""
    if not token:
        raise HubUnavailable(f"{TOKEN_KEY} is not set for {app}")
    return token


# ---- the API ---------------------------------------------------------------------------


def fetch_users(base_url: str, token: str, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Every user model from `GET /hub/api/users`, following JupyterHub's pagination."""
    users: list[dict[str, Any]] = []
    offset = 0
    for _ in range(MAX_PAGES):
        query = urllib.parse.urlencode({"offset": offset, "limit": PAGE})
        body = _get_json(f"{base_url.rstrip('/')}/hub/api/users?{query}", token, timeout)
        if isinstance(body, list):  # a hub that ignores the pagination Accept header
            return body
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise HubUnavailable("the hub answered /hub/api/users with an unexpected document")
        users.extend(body["items"])
        nxt = (body.get("_pagination") or {}).get("next")
        if not nxt or not body["items"]:
            return users
        offset = int(nxt.get("offset", offset + len(body["items"])))
    raise HubUnavailable("the hub returned more pages of users than expected")


def _get_json(url: str, token: str, timeout: float) -> Any:
    req = urllib.request.Request(
        url, headers={"Authorization": f"token {token}", "Accept": PAGINATION}
    )
    where = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http to the hub
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise HubUnavailable(
                f"the hub at {where} refused the plugin's API token (HTTP {exc.code}): "
                f"redeploy the hub so it registers {TOKEN_KEY}"
            ) from None
        raise HubUnavailable(f"the hub at {where} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise HubUnavailable(f"the hub at {where} is not reachable ({reason})") from None
    except (ValueError, UnicodeDecodeError):
        raise HubUnavailable(f"the hub at {where} did not answer with JSON") from None


def parse_user(model: dict[str, Any]) -> HubUser:
    """A JupyterHub user model (read:users + read:servers) reduced to what users:list shows."""
    servers = model.get("servers") or {}
    if model.get("server") or any(s.get("ready") for s in servers.values()):
        state = "running"
    elif model.get("pending") or any(s.get("pending") for s in servers.values()):
        state = "pending"
    else:
        state = "stopped"
    return HubUser(
        name=str(model.get("name", "")),
        admin=bool(model.get("admin")),
        groups=tuple(sorted(str(g) for g in model.get("groups") or ())),
        server=state,
    )


def hub_users(app: str) -> HubView:
    """The hub's users, or a one-line note why they are unknown. Never raises for an
    unreachable hub: callers show the policy view with the note."""
    try:
        base = locator(app)
        models = fetch_users(base, api_token(app))
    except HubUnavailable as exc:
        return HubView(None, str(exc))
    users = [parse_user(m) for m in models if isinstance(m, dict) and m.get("name")]
    return HubView({u.name: u for u in users})
