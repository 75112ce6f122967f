"""`jupyterhub:auth:set`: choose how people log in to a hub.

Everything is validated before anything changes. Values go to the app's environment with
`dokku config:set --no-restart` (quietly, so Dokku does not echo them), secrets only ever as
arguments to dokku: they are never printed, logged or put in an error message. The new keys
are set before the stale ones are unset, so a failing dokku never leaves a provider without
its keys. The hub is then restarted (streamed, so the admin sees the deploy) unless
`--no-restart`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import click

from dokku_jupyterhub import dokku_cli, policy_store, properties
from dokku_jupyterhub.hub import names
from dokku_jupyterhub.output import DokkuError, info1, verbose, warn

PROVIDERS = ("azuread", "github", "generic-oidc", "none")
MASK = "********"
SECRET_KEYS = {"HUB_OAUTH_CLIENT_SECRET"}
# Every key this command manages; a provider's unused keys are unset so no stale secret stays.
PROVIDER_KEYS = (
    "HUB_AUTH_PROVIDER",
    "HUB_OAUTH_CLIENT_ID",
    "HUB_OAUTH_CLIENT_SECRET",
    "HUB_OAUTH_CALLBACK_URL",
    "HUB_AZURE_TENANT_ID",
    "HUB_OIDC_AUTHORIZE_URL",
    "HUB_OIDC_TOKEN_URL",
    "HUB_OIDC_USERDATA_URL",
    "HUB_OIDC_JWKS_URL",
    "HUB_OIDC_USERNAME_CLAIM",
    "HUB_OAUTH_GROUPS_CLAIM",
    "HUB_ALLOW_ALL",
)
# option name -> (env key, providers that accept it)
OPTIONS = {
    "client_id": ("HUB_OAUTH_CLIENT_ID", ("azuread", "github", "generic-oidc")),
    "client_secret": ("HUB_OAUTH_CLIENT_SECRET", ("azuread", "github", "generic-oidc")),
    "callback_url": ("HUB_OAUTH_CALLBACK_URL", ("azuread", "github", "generic-oidc")),
    "tenant_id": ("HUB_AZURE_TENANT_ID", ("azuread",)),
    "authorize_url": ("HUB_OIDC_AUTHORIZE_URL", ("azuread", "generic-oidc")),
    "token_url": ("HUB_OIDC_TOKEN_URL", ("azuread", "generic-oidc")),
    "userdata_url": ("HUB_OIDC_USERDATA_URL", ("generic-oidc",)),
    "jwks_url": ("HUB_OIDC_JWKS_URL", ("azuread",)),
    "username_claim": ("HUB_OIDC_USERNAME_CLAIM", ("azuread", "github", "generic-oidc")),
    "groups_claim": ("HUB_OAUTH_GROUPS_CLAIM", ("azuread", "github", "generic-oidc")),
}
REQUIRED = {
    "azuread": ("client_id", "client_secret", "tenant_id"),
    "github": ("client_id", "client_secret"),
    "generic-oidc": ("client_id", "client_secret", "authorize_url", "token_url", "userdata_url"),
    "none": (),
}
URL_OPTIONS = ("callback_url", "authorize_url", "token_url", "userdata_url", "jwks_url")
_CLAIM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")
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
    app: str, provider: str, options: dict[str, str | None], allow_all: bool = False
) -> AuthChange:
    """Validate (reads only the app's recorded domains) and return the change, or raise
    DokkuError. Each call states the whole login configuration: keys not given are unset."""
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
        if name in given and not _CLAIM_RE.fullmatch(given[name]):
            raise DokkuError(f"{_flag(name)} must be a claim name like upn or groups")
    if provider != "none" and "callback_url" not in given:
        domains = properties.get_list(app, "domains")
        if not domains:
            raise DokkuError(
                "give --callback-url https://<hub domain>/hub/oauth_callback "
                f"({app} has no domain recorded to derive it from)"
            )
        given["callback_url"] = f"https://{domains[0]}/hub/oauth_callback"
    change = AuthChange(provider=provider, warnings=warnings)
    change.values["HUB_AUTH_PROVIDER"] = provider
    for name in OPTIONS:
        if name in given:
            change.values[OPTIONS[name][0]] = given[name]
    if allow_all:
        change.values["HUB_ALLOW_ALL"] = "true"
        warnings.append("--allow-all: anyone who can log in at the provider gets a server")
    change.unset = [k for k in PROVIDER_KEYS if k not in change.values]
    return change


def azure_can_produce(name: str) -> bool:
    """Whether an Azure AD login can ever be named `name`: its principals are user@domain,
    which the seed rule turns into user--domain (so plain `alice` is never produced)."""
    local, sep, domain = name.partition("--")
    return bool(sep) and names.azure_username(f"{local}@{domain}") == name


def github_can_produce(name: str) -> bool:
    return bool(_GITHUB_LOGIN_RE.fullmatch(name))


# provider -> (can a login be given this name?, the rule, the form of name to add)
_LOGIN_NAMES = {
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


def admin_warnings(app: str, provider: str, username_claim: str | None) -> list[str]:
    """Policy admins no login of the new provider can be named as (warnings, not refusals:
    the admin may add the provider's form of the name next)."""
    # A chosen username claim (and any generic OIDC one) can hold names of any form.
    if provider not in _LOGIN_NAMES or username_claim is not None:
        return []
    can_produce, rule, form = _LOGIN_NAMES[provider]
    try:
        admins = policy_store.read(app).get("admins", [])
    except DokkuError as exc:
        return [f"could not check the policy's admins: {exc.message}"]
    return [
        f"admin {name} can never log in with {provider} ({rule}): add the {provider} form "
        f"of the name with dokku jupyterhub:admins:add {app} {form}"
        for name in admins
        if not can_produce(name)
    ]


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def _run_config(change: AuthChange, *args: str) -> None:
    """`dokku --quiet <args>`, failing with a message that cannot carry a secret."""
    result = dokku_cli.run("--quiet", *args, check=False)
    if not result.ok:
        secrets = [change.values[k] for k in SECRET_KEYS if k in change.values]
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        detail = _scrub(lines[-1].lstrip("! ").strip(), secrets) if lines else ""
        msg = f"dokku {args[0]} failed (exit {result.returncode})"
        raise DokkuError(f"{msg}: {detail}" if detail else msg)


def _read_secret() -> str:
    data = sys.stdin.read()
    value = data[:-1] if data.endswith("\n") else data
    if value.endswith("\r"):
        value = value[:-1]
    if not value:
        raise DokkuError("--client-secret -: nothing was read from stdin")
    return value


@click.command("auth:set")
@click.argument("app")
@click.argument("provider")
@click.option("--client-id", metavar="ID", help="OAuth client (application) ID.")
@click.option(
    "--client-secret", metavar="SECRET", help="OAuth client secret; `-` reads it from stdin."
)
@click.option("--tenant-id", metavar="TENANT", help="Azure AD tenant ID or domain.")
@click.option("--callback-url", metavar="URL", help="https://<domain>/hub/oauth_callback.")
@click.option("--authorize-url", metavar="URL", help="Authorization endpoint.")
@click.option("--token-url", metavar="URL", help="Token endpoint.")
@click.option("--userdata-url", metavar="URL", help="Userinfo endpoint (generic-oidc).")
@click.option(
    "--jwks-url",
    metavar="URL",
    help="Azure AD's signing keys (JWKS); default: the tenant's at login.microsoftonline.com.",
)
@click.option("--username-claim", metavar="CLAIM", help="Claim the username is made from.")
@click.option("--groups-claim", metavar="CLAIM", help="Claim listing the user's groups.")
@click.option(
    "--allow-all/--no-allow-all",
    default=False,
    help="Let everyone who can log in at the provider in (default: only the policy's users).",
)
@click.option("--no-restart", is_flag=True, help="Do not restart the hub now.")
def auth_set(
    app: str,
    provider: str,
    client_id: str | None,
    client_secret: str | None,
    tenant_id: str | None,
    callback_url: str | None,
    authorize_url: str | None,
    token_url: str | None,
    userdata_url: str | None,
    jwks_url: str | None,
    username_claim: str | None,
    groups_claim: str | None,
    allow_all: bool,
    no_restart: bool,
) -> None:
    """Set the login provider and its options (none: the closed default)

    Each call states the whole login configuration: options not given are unset.
    """
    if properties.get(app, "hub-app") is None:
        raise DokkuError(f"{app} is not a jupyterhub app")
    if client_secret == "-":
        client_secret = _read_secret()
    change = plan_change(
        app,
        provider,
        {
            "client_id": client_id,
            "client_secret": client_secret,
            "tenant_id": tenant_id,
            "callback_url": callback_url,
            "authorize_url": authorize_url,
            "token_url": token_url,
            "userdata_url": userdata_url,
            "jwks_url": jwks_url,
            "username_claim": username_claim,
            "groups_claim": groups_claim,
        },
        allow_all,
    )
    for message in change.warnings + admin_warnings(app, change.provider, username_claim):
        warn(message)
    info1(f"Setting the login provider of {app} to {change.provider}")
    # Set first, in one config:set, then unset: a failure leaves the hub's environment either
    # as it was or with the whole new configuration (and at worst some stale extra keys).
    _run_config(
        change, "config:set", "--no-restart", app, *(f"{k}={v}" for k, v in change.values.items())
    )
    if change.unset:
        try:
            _run_config(change, "config:unset", "--no-restart", app, *change.unset)
        except DokkuError as exc:
            raise DokkuError(
                f"{exc.message}; the new settings are stored but old keys remain and {app} "
                "was not restarted: run this auth:set again"
            ) from None
    properties.set(app, "auth-provider", change.provider)
    for line in change.shown():
        verbose(line)
    if change.provider == "none":
        verbose("Closed login: the policy's admins sign in with the admin password")
        verbose(f"(read it with: dokku config:get {app} HUB_ADMIN_PASSWORD)")
    else:
        callback = change.values["HUB_OAUTH_CALLBACK_URL"]
        verbose(f"Register this redirect URI at the provider: {callback}")
    if no_restart:
        verbose(f"Not restarted: run `dokku ps:restart {app}` to apply")
        return
    info1(f"Restarting {app}")
    dokku_cli.run("ps:restart", app, stream=True)


# The full option list is in `dokku jupyterhub:auth:set --help` and the README; the help
# screen keeps one readable line.
auth_set.dokku_usage = "<app> azuread|github|generic-oidc|none [--auth-flags...]"

COMMANDS = [auth_set]
