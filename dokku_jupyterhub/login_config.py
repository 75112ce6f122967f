"""What `auth:set` will store: the login configuration checked and turned into the hub's
environment keys (the keys not given are unset, so no stale secret stays), and which names a
provider's logins can have. Pure, apart from reading the app's recorded domains for the
default callback URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dokku_jupyterhub import properties
from dokku_jupyterhub.hub_runtime import names
from dokku_jupyterhub.hub_runtime.contract import CLOSED_PROVIDER, MASK, OAUTH_PROVIDERS, Env, Prop
from dokku_jupyterhub.hub_runtime.settings import CLAIM_RE
from dokku_jupyterhub.output import DokkuError

# As offered to the admin: the OAuth providers, then back to the closed default.
PROVIDERS = (*OAUTH_PROVIDERS, CLOSED_PROVIDER)
SECRET_KEYS = {Env.CLIENT_SECRET}
# Every key this command manages; a provider's unused keys are unset so no stale secret stays.
PROVIDER_KEYS = (
    Env.AUTH_PROVIDER,
    Env.CLIENT_ID,
    Env.CLIENT_SECRET,
    Env.CALLBACK_URL,
    Env.AZURE_TENANT_ID,
    Env.AUTHORIZE_URL,
    Env.TOKEN_URL,
    Env.USERDATA_URL,
    Env.JWKS_URL,
    Env.USERNAME_CLAIM,
    Env.GROUPS_CLAIM,
    Env.ALLOW_ALL,
)
# option name -> (env key, providers that accept it)
OPTIONS = {
    "client_id": (Env.CLIENT_ID, OAUTH_PROVIDERS),
    "client_secret": (Env.CLIENT_SECRET, OAUTH_PROVIDERS),
    "callback_url": (Env.CALLBACK_URL, OAUTH_PROVIDERS),
    "tenant_id": (Env.AZURE_TENANT_ID, ("azuread",)),
    "authorize_url": (Env.AUTHORIZE_URL, ("azuread", "generic-oidc")),
    "token_url": (Env.TOKEN_URL, ("azuread", "generic-oidc")),
    "userdata_url": (Env.USERDATA_URL, ("generic-oidc",)),
    "jwks_url": (Env.JWKS_URL, ("azuread",)),
    "username_claim": (Env.USERNAME_CLAIM, OAUTH_PROVIDERS),
    "groups_claim": (Env.GROUPS_CLAIM, OAUTH_PROVIDERS),
}
REQUIRED = {
    "azuread": ("client_id", "client_secret", "tenant_id"),
    "github": ("client_id", "client_secret"),
    "generic-oidc": ("client_id", "client_secret", "authorize_url", "token_url", "userdata_url"),
    "none": (),
}
URL_OPTIONS = ("callback_url", "authorize_url", "token_url", "userdata_url", "jwks_url")
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._~:/@+=-]{1,256}$")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
# GitHub logins: letters, digits and single hyphens, not at either end, at most 39.
_GITHUB_LOGIN_RE = re.compile(r"^[a-z0-9](?:-?[a-z0-9]){0,38}$")


@dataclass
class AuthChange:
    """What `auth:set` will do: keys to set (in order) and keys to unset."""

    provider: str
    values: dict[str, str] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def shown(self) -> list[str]:
        return [f"{k}: {MASK if k in SECRET_KEYS else v}" for k, v in self.values.items()]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_url(name: str, value: str, warnings: list[str]) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() for ch in value)
        or parts.username
        or parts.password
    ):
        raise DokkuError(f"{_flag(name)} must be an http(s) URL without credentials, got {value!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        warnings.append(
            f"{_flag(name)} uses plain http: tokens would cross the network unencrypted"
        )
    return value


def plan_change(
    app: str, provider: str, options: dict[str, str | None], allow_all: bool = False,
    tls: bool = True,
) -> AuthChange:
    """Validate (reads only the app's recorded domains) and return the change, or raise
    DokkuError. Each call states the whole login configuration: keys not given are unset.
    `tls`: whether the hub is served over https (the default callback URL's scheme)."""
    provider = provider.lower()
    if provider not in PROVIDERS:
        raise DokkuError(f"unknown login provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    given = {k: v for k, v in options.items() if v is not None}
    for name, value in given.items():
        if provider not in OPTIONS[name][1]:
            raise DokkuError(f"{_flag(name)} does not apply to the {provider} provider")
        if value == "" or any(ch in value for ch in "\n\r\x00"):
            raise DokkuError(f"{_flag(name)} must be a non-empty single line")
    if provider == "none" and allow_all:
        raise DokkuError("--allow-all does not apply to the none provider (it lets nobody else in)")
    missing = [n for n in REQUIRED[provider] if n not in given]
    if missing:
        raise DokkuError(
            f"the {provider} provider needs {' '.join(_flag(n) for n in missing)}"
        )
    warnings: list[str] = []
    for name in URL_OPTIONS:
        if name in given:
            _check_url(name, given[name], warnings)
    if "client_id" in given and not _CLIENT_ID_RE.fullmatch(given["client_id"]):
        raise DokkuError(f"--client-id has unexpected characters: {given['client_id']!r}")
    if "tenant_id" in given and not _TENANT_RE.fullmatch(given["tenant_id"]):
        raise DokkuError(
            f"--tenant-id must be a tenant ID or domain like contoso.onmicrosoft.com, "
            f"got {given['tenant_id']!r}"
        )
    for name in ("username_claim", "groups_claim"):
        if name in given and not CLAIM_RE.fullmatch(given[name]):
            raise DokkuError(f"{_flag(name)} must be a claim name like upn or groups")
    if provider != "none" and "callback_url" not in given:
        domains = properties.get_list(app, Prop.DOMAINS)
        if not domains:
            raise DokkuError(
                "give --callback-url https://<hub domain>/hub/oauth_callback "
                f"({app} has no domain recorded to derive it from)"
            )
        scheme = "https" if tls else "http"
        given["callback_url"] = f"{scheme}://{domains[0]}/hub/oauth_callback"
        if not tls:
            warnings.append(
                f"{app} is served over plain http, so the login callback is "
                f"{given['callback_url']}: most providers refuse it; enable TLS (dokku "
                f"letsencrypt:enable {app}) and run auth:set again, or give --callback-url"
            )
    change = AuthChange(provider=provider, warnings=warnings)
    change.values[Env.AUTH_PROVIDER] = provider
    for name in OPTIONS:
        if name in given:
            change.values[OPTIONS[name][0]] = given[name]
    if allow_all:
        change.values[Env.ALLOW_ALL] = "true"
        warnings.append("--allow-all: anyone who can log in at the provider gets a server")
    change.unset = [k for k in PROVIDER_KEYS if k not in change.values]
    return change


def azure_can_produce(name: str) -> bool:
    """Whether an Azure AD login can ever be named `name`: its principals are user@domain,
    which the old setup's rule turns into user--domain (so plain `alice` is never produced)."""
    local, sep, domain = name.partition("--")
    return bool(sep) and names.azure_username(f"{local}@{domain}") == name


def github_can_produce(name: str) -> bool:
    return bool(_GITHUB_LOGIN_RE.fullmatch(name))


# provider -> (can a login be given this name?, the rule, the form of name to add)
LOGIN_NAMES = {
    "azuread": (
        azure_can_produce,
        "Azure AD logins are named user--domain: alice@school.edu is alice--school-edu",
        "<user>--<domain>",
    ),
    "github": (
        github_can_produce,
        "GitHub logins are letters, digits and single hyphens",
        "<github-login>",
    ),
}
