"""The hub's site settings, read from the environment the plugin sets with `dokku config`.

Pure: `from_env(environ)` turns a mapping into a validated `HubSettings` or raises
`SettingsError` with a message naming the variable, so a misconfigured hub fails its deploy
with one clear line (Dokku then keeps the old hub running) instead of starting half-working.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .contract import (
    COOKIE_SECRET_FILE,
    DATA_MOUNT,
    DEFAULT_IDLE_TIMEOUT,
    HUB_APP_RE,
    HUB_LOCK_FILE,
    HUB_PORT,
    IDENTITIES_FILE,
    POLICY_FILE,
    PROVIDERS,
    PROXY_API_PORT,
    SQLITE_FILE,
    Env,
    container_prefix,
    hub_alias,
    network_name,
    notebook_image,
    proxy_container_name,
)

ADMIN_PASSWORD_MIN_LENGTH = 32  # JupyterHub's SharedPasswordAuthenticator refuses shorter ones
API_TOKEN_MIN_LENGTH = 8  # JupyterHub refuses shorter service tokens
# An OAuth claim name (also checked by `auth:set` before it is stored).
CLAIM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")
# SQLAlchemy picks psycopg2 for a bare `postgresql://`; the hub image ships psycopg 3.
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
POSTGRES_DRIVER = "postgresql+psycopg://"


class SettingsError(ValueError):
    """The hub's environment is incomplete or invalid."""


@dataclass(frozen=True)
class HubSettings:
    app: str
    network: str
    hub_ip: str
    notebook_image: str
    data_dir: str
    host_data_dir: str
    idle_timeout: int
    db_url: str
    auth_provider: str
    client_id: str = ""
    client_secret: str = ""
    callback_url: str = ""
    azure_tenant_id: str = ""
    authorize_url: str = ""
    token_url: str = ""
    userdata_url: str = ""
    jwks_url: str = ""
    username_claim: str = ""
    groups_claim: str = ""
    allow_all: bool = False
    admin_password: str = ""
    plugin_api_token: str = ""
    # The proxy outside the hub; without a token the hub starts its own proxy, as hubs
    # made before the proxy moved out did.
    proxy_host: str = ""
    proxy_token: str = ""
    # The Docker gate's socket, when the hub reaches Docker through it.
    docker_gate: str = ""

    @property
    def external_proxy(self) -> bool:
        return bool(self.proxy_token)

    @property
    def proxy_api_url(self) -> str:
        return f"http://{self.proxy_host}:{PROXY_API_PORT}"

    @property
    def proxy_url(self) -> str:
        """Where users' servers reach the hub API: through the proxy, whose address stays
        the same while the hub container is replaced (the hub's changes at every deploy)."""
        return f"http://{self.proxy_host}:{HUB_PORT}"

    @property
    def lock_file(self) -> str:
        return self.data_path(HUB_LOCK_FILE)

    def data_path(self, name: str) -> str:
        return f"{self.data_dir}/{name}"

    @property
    def policy_file(self) -> str:
        return self.data_path(POLICY_FILE)

    @property
    def identities_file(self) -> str:
        return self.data_path(IDENTITIES_FILE)

    @property
    def cookie_secret_file(self) -> str:
        return self.data_path(COOKIE_SECRET_FILE)

    @property
    def container_prefix(self) -> str:
        return container_prefix(self.app)

    @property
    def notebook_pull_policy(self) -> str:
        """The plugin builds `dokku/...` images locally: never pull those (a missing build
        then fails as "no such image", not as a confusing registry error). A pinned image
        from a registry is pulled when missing."""
        return "never" if self.notebook_image.startswith("dokku/") else "ifnotpresent"


def db_url(environ: Mapping[str, str], data_dir: str = DATA_MOUNT) -> str:
    """SQLAlchemy URL for the hub database: DATABASE_URL with an explicit psycopg 3 driver
    (dokku-postgres hands out `postgres://`, which SQLAlchemy no longer accepts), else sqlite
    on the persistent data volume. Idempotent: a mapped URL maps to itself."""
    url = (environ.get(Env.DATABASE_URL) or "").strip()
    if not url:
        return f"sqlite:///{data_dir}/{SQLITE_FILE}"
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return POSTGRES_DRIVER + url[len(scheme) :]
    return url


def _text(environ: Mapping[str, str], key: str, default: str = "") -> str:
    value = environ.get(key)
    value = default if value is None else value.strip()
    if any(ch in value for ch in "\n\r\x00"):
        raise SettingsError(f"{key} must be a single line")
    return value


def _url(environ: Mapping[str, str], key: str) -> str:
    value = _text(environ, key)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            raise SettingsError(f"{key} must be an http(s) URL, got {value!r}")
    return value


def _claim(environ: Mapping[str, str], key: str) -> str:
    value = _text(environ, key)
    if value and not CLAIM_RE.fullmatch(value):
        raise SettingsError(f"{key} must be a claim name like upn or groups, got {value!r}")
    return value


def _bool(environ: Mapping[str, str], key: str) -> bool:
    value = _text(environ, key).lower()
    if value not in ("", "true", "false"):
        raise SettingsError(f"{key} must be true or false, got {value!r}")
    return value == "true"


def _require(settings: dict[str, str], provider: str, *keys: tuple[str, str]) -> None:
    missing = [env for attr, env in keys if not settings[attr]]
    if missing:
        raise SettingsError(
            f"login provider {provider} needs {', '.join(missing)}: "
            f"set it with dokku jupyterhub:auth:set"
        )


def from_env(environ: Mapping[str, str]) -> HubSettings:
    app = _text(environ, Env.APP, "jupyterhub")
    if not HUB_APP_RE.fullmatch(app):
        raise SettingsError(f"HUB_APP_NAME must be a Dokku app name, got {app!r}")
    data_dir = _text(environ, Env.DATA_DIR, DATA_MOUNT).rstrip("/") or "/"
    host_data_dir = _text(environ, Env.HOST_DATA_DIR).rstrip("/")
    if not host_data_dir:
        raise SettingsError(
            "HUB_HOST_DATA_DIR is not set: it must name the hub's data directory as the host "
            "sees it (dokku jupyterhub:create sets it)"
        )
    for key, path in ((Env.DATA_DIR, data_dir), (Env.HOST_DATA_DIR, host_data_dir)):
        if not path.startswith("/") or "/../" in f"{path}/" or ":" in path:
            raise SettingsError(
                f"{key} must be an absolute path (the hub's data directory), got {path!r}"
            )
    timeout_text = _text(environ, Env.IDLE_TIMEOUT, str(DEFAULT_IDLE_TIMEOUT))
    if not timeout_text.isdigit():
        raise SettingsError(
            f"HUB_IDLE_TIMEOUT must be whole seconds (0 = off), got {timeout_text!r}"
        )
    provider = _text(environ, Env.AUTH_PROVIDER, "none").lower() or "none"
    if provider not in PROVIDERS:
        raise SettingsError(
            f"HUB_AUTH_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}"
        )
    values = {
        "client_id": _text(environ, Env.CLIENT_ID),
        "client_secret": _text(environ, Env.CLIENT_SECRET),
        "callback_url": _url(environ, Env.CALLBACK_URL),
        "azure_tenant_id": _text(environ, Env.AZURE_TENANT_ID),
        "authorize_url": _url(environ, Env.AUTHORIZE_URL),
        "token_url": _url(environ, Env.TOKEN_URL),
        "userdata_url": _url(environ, Env.USERDATA_URL),
        "jwks_url": _url(environ, Env.JWKS_URL),
        "username_claim": _claim(environ, Env.USERNAME_CLAIM),
        "groups_claim": _claim(environ, Env.GROUPS_CLAIM),
    }
    oauth = (("client_id", Env.CLIENT_ID), ("client_secret", Env.CLIENT_SECRET))
    if provider == "azuread":
        _require(values, provider, *oauth, ("azure_tenant_id", Env.AZURE_TENANT_ID))
    elif provider == "github":
        _require(values, provider, *oauth)
    elif provider == "generic-oidc":
        _require(
            values,
            provider,
            *oauth,
            ("authorize_url", Env.AUTHORIZE_URL),
            ("token_url", Env.TOKEN_URL),
            ("userdata_url", Env.USERDATA_URL),
        )
    admin_password = environ.get(Env.ADMIN_PASSWORD) or ""
    if admin_password and len(admin_password) < ADMIN_PASSWORD_MIN_LENGTH:
        raise SettingsError(
            f"HUB_ADMIN_PASSWORD must be at least {ADMIN_PASSWORD_MIN_LENGTH} characters "
            "(JupyterHub's rule for a shared admin password)"
        )
    token = _text(environ, Env.API_TOKEN)
    if token and len(token) < API_TOKEN_MIN_LENGTH:
        raise SettingsError(
            f"HUB_PLUGIN_API_TOKEN must be at least {API_TOKEN_MIN_LENGTH} characters"
        )
    proxy_token = _text(environ, Env.PROXY_TOKEN)
    if proxy_token and len(proxy_token) < API_TOKEN_MIN_LENGTH:
        raise SettingsError(
            f"{Env.PROXY_TOKEN} must be at least {API_TOKEN_MIN_LENGTH} characters"
        )
    docker_gate = _text(environ, Env.DOCKER_GATE)
    if docker_gate and not docker_gate.startswith("/"):
        raise SettingsError(f"{Env.DOCKER_GATE} must be the gate's socket path, got "
                            f"{docker_gate!r}")
    proxy_host = _text(environ, Env.PROXY_HOST, proxy_container_name(app))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", proxy_host):
        raise SettingsError(f"{Env.PROXY_HOST} must be a container name, got {proxy_host!r}")
    return HubSettings(
        app=app,
        network=_text(environ, Env.NETWORK, network_name(app)),
        hub_ip=_text(environ, Env.HUB_IP, hub_alias(app)),
        notebook_image=_text(environ, Env.NOTEBOOK_IMAGE, notebook_image(app)),
        data_dir=data_dir,
        host_data_dir=host_data_dir,
        idle_timeout=int(timeout_text),
        db_url=db_url(environ, data_dir),
        auth_provider=provider,
        allow_all=_bool(environ, Env.ALLOW_ALL),
        admin_password=admin_password,
        plugin_api_token=token,
        proxy_host=proxy_host,
        proxy_token=proxy_token,
        docker_gate=docker_gate,
        **values,
    )
