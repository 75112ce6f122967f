"""`jupyterhub:auth:set`: choose how people log in to a hub.

Everything is validated before anything changes. Values go to the app's environment with
`dokku config:set --no-restart` (quietly, so Dokku does not echo them), secrets only ever as
arguments to dokku: they are never printed, logged or put in an error message. The new keys
are set before the stale ones are unset, so a failing dokku never leaves a provider without
its keys. The hub is then restarted (streamed, so the admin sees the deploy) unless
`--no-restart`.
"""

from __future__ import annotations

import sys

import click

from dokku_jupyterhub import dokku_cli, dokku_state, policy_store, properties
from dokku_jupyterhub.hub_apps import require_hub_app
from dokku_jupyterhub.hub_runtime.contract import MASK, Env, Prop
from dokku_jupyterhub.login_config import LOGIN_NAMES, SECRET_KEYS, AuthChange, plan_change
from dokku_jupyterhub.output import DokkuError, info1, verbose, warn


def _admin_warnings(app: str, provider: str, username_claim: str | None) -> list[str]:
    """Policy admins no login of the new provider can be named as (warnings, not refusals:
    the admin may add the provider's form of the name next)."""
    # A chosen username claim (and any generic OIDC one) can hold names of any form.
    if provider not in LOGIN_NAMES or username_claim is not None:
        return []
    can_produce, rule, form = LOGIN_NAMES[provider]
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
    require_hub_app(app)
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
        tls=dokku_state.ssl_enabled(app),
    )
    for message in change.warnings + _admin_warnings(app, change.provider, username_claim):
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
    properties.set(app, Prop.AUTH_PROVIDER, change.provider)
    for line in change.shown():
        verbose(line)
    if change.provider == "none":
        verbose("Closed login: the policy's admins sign in with the admin password")
        verbose(f"(read it with: dokku config:get {app} HUB_ADMIN_PASSWORD)")
    else:
        callback = change.values[Env.CALLBACK_URL]
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
