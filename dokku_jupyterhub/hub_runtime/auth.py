"""Who may log in, and under which name. Runs inside the hub only (imports JupyterHub and
OAuthenticator, which the plugin's own environment does not have).

Every authenticator here reads the policy file live (through the shared PolicyCache), so
`admins:add`, `groups:add-member` and friends apply at the next login without a restart:
- admins named in the policy are allowed and made admins; anyone else loses admin at login;
- users named in the policy, members of its groups (explicit, or from the provider's groups
  claim when HUB_OAUTH_GROUPS_CLAIM is set) are allowed;
- everyone who can authenticate only when HUB_ALLOW_ALL=true.
Usernames that could leave their data folder are refused whatever the provider sent, and with
OAuth the first identity (provider, tenant, subject) to use a name owns it: another identity
that maps to the same name is refused with a message saying so. Azure AD's id_token is
verified (signature against the tenant's published keys, audience, expiry, tenant) before
anything in it is believed.

The default provider (none) is closed: JupyterHub's own SharedPasswordAuthenticator with only
the admin password (HUB_ADMIN_PASSWORD) and no user password, for the policy's admins.
"""

from __future__ import annotations

import asyncio
import re
from functools import lru_cache
from secrets import compare_digest
from typing import Any

import jwt
from jupyterhub.auth import Authenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from oauthenticator.azuread import AzureAdOAuthenticator
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator
from tornado import web
from traitlets import Bool, List, Unicode, default

from . import identities, names, policy
from .policy_cache import for_path
from .settings import HubSettings

AZURE_PRINCIPAL_CLAIMS = ["unique_name", "upn", "preferred_username"]
ID_TOKEN_LEEWAY = 60  # seconds of clock difference tolerated between Azure AD and the hub
_GUID_RE = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", re.IGNORECASE)


@lru_cache(maxsize=8)
def jwks_client(url: str) -> jwt.PyJWKClient:
    """One client per key-set URL: it caches the keys between logins and fetches them again
    when a token names a key it does not know (Azure rotates its signing keys). RS256 needs
    the `cryptography` package, which JupyterHub itself depends on (through certipy)."""
    return jwt.PyJWKClient(url, timeout=10)


class PolicyAuthenticator(Authenticator):
    """Allow and admin rules from the policy file, read at every login."""

    policy_file = Unicode(
        "/data/policy.json", config=True, help="The policy file the plugin writes."
    )
    groups_from_claim = Bool(
        False,
        config=True,
        help="Count the provider's groups (manage_groups) as policy group memberships.",
    )

    def current_policy(self) -> dict[str, Any]:
        return for_path(self.policy_file, self.log).current()

    def validate_username(self, username: str) -> bool:
        # Host paths are built from this name: refuse anything that could leave its folder,
        # here as well as in the spawner, for every way a user is created.
        return names.is_safe_name(username) and super().validate_username(username)

    def claim_groups(self, authentication: dict[str, Any] | None) -> tuple[str, ...]:
        if not (self.groups_from_claim and authentication):
            return ()
        return tuple(sorted(authentication.get("groups") or ()))

    def check_allowed(self, username: str, authentication: dict[str, Any] | None = None) -> bool:
        if self.allow_all:
            return True
        doc = self.current_policy()
        if policy.is_allowed(doc, username) or policy.groups_of(
            doc, username, self.claim_groups(authentication)
        ):
            return True
        self.log.warning(
            "Login refused for %s: not named in the policy %s", username, self.policy_file
        )
        return False


class ClosedAuthenticator(PolicyAuthenticator, SharedPasswordAuthenticator):
    """The closed default: the policy's admins log in with HUB_ADMIN_PASSWORD; nobody else."""

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        username = self.normalize_username(data.get("username", ""))
        password = data.get("password", "")
        if not self.admin_password or not names.is_safe_name(username):
            return None
        if not policy.is_admin(self.current_policy(), username):
            self.log.warning("Login refused for %s: only the policy's admins can log in", username)
            return None
        if compare_digest(password.encode(), self.admin_password.encode()):
            return {"name": username, "admin": True}
        return None


class PolicyOAuthenticator(PolicyAuthenticator):
    """Mixed in front of an OAuthenticator: safe names, one identity per name, live policy."""

    identities_file = Unicode(
        "/data/identities.json", config=True, help="Which login identity owns which username."
    )

    def identity_of(self, user_info: dict[str, Any]) -> str | None:
        for key in ("sub", "id"):
            if user_info.get(key) not in (None, ""):
                return f"{self.identity_prefix()}:{user_info[key]}"
        return None

    def identity_prefix(self) -> str:
        return type(self).__name__

    def registry(self) -> identities.Registry:
        return identities.Registry(self.identities_file)

    def checked_name(self, name: str, source: str) -> str:
        name = self.normalize_username(name)
        if not names.is_safe_name(name):
            self.log.warning("Login refused: %r maps to the unsafe username %r", source, name)
            raise web.HTTPError(
                403,
                f"Your account {source!r} maps to the username {name!r}, which this hub cannot "
                "use for a data folder (allowed: lowercase letters, digits and . _ @ + -). "
                "Please ask an admin.",
            )
        return name

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        raw = super().user_info_to_username(user_info)  # type: ignore[misc]
        return self.checked_name(str(raw), str(raw))

    def _identity(self, authentication: dict[str, Any] | None) -> str | None:
        state = (authentication or {}).get("auth_state") or {}
        user_info = state.get(self.user_auth_state_key) or {}  # type: ignore[attr-defined]
        return self.identity_of(user_info) if isinstance(user_info, dict) else None

    def _refuse_taken(self, exc: identities.NameTaken) -> web.HTTPError:
        self.log.error(
            "Login refused: username %s belongs to %s, not to %s", exc.name, exc.owner, exc.identity
        )
        return web.HTTPError(
            403,
            f"The username {exc.name} already belongs to another account. Two accounts of your "
            "login provider map to this name; an admin must resolve it before you can log in.",
        )

    def check_blocked_users(
        self, username: str, authentication: dict[str, Any] | None = None
    ) -> bool:
        if not super().check_blocked_users(username, authentication):
            return False
        identity = self._identity(authentication)
        if identity is not None:
            try:
                self.registry().check(username, identity)
            except identities.NameTaken as exc:
                raise self._refuse_taken(exc) from None
        return True

    async def run_post_auth_hook(self, handler: Any, authentication: dict[str, Any]) -> Any:
        # Only allowed users get here: they, not every visitor, claim a name.
        identity = self._identity(authentication)
        if identity is not None:
            try:
                if self.registry().claim(authentication["name"], identity):
                    self.log.info("Username %s now belongs to %s", authentication["name"], identity)
            except identities.NameTaken as exc:
                raise self._refuse_taken(exc) from None
        else:
            self.log.warning(
                "No stable identity for %s: cannot guard its name", authentication["name"]
            )
        return await super().run_post_auth_hook(handler, authentication)

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().update_auth_model(auth_model)  # type: ignore[misc]
        # The policy decides admin both ways, so removing an admin there takes effect.
        auth_model["admin"] = policy.is_admin(self.current_policy(), auth_model["name"])
        return auth_model


class AzureAdAuthenticator(PolicyOAuthenticator, AzureAdOAuthenticator):
    """Azure AD through OAuthenticator, with the old setup's username rule."""

    principal_claims = List(
        Unicode(),
        default_value=AZURE_PRINCIPAL_CLAIMS,
        config=True,
        help="Claims tried in order for the user principal name the username is made from.",
    )
    jwks_url = Unicode(
        config=True, help="The key set (JWKS) whose keys sign the tenant's id_tokens."
    )

    @default("jwks_url")
    def _jwks_url_default(self) -> str:
        return f"{self.graph_url}/{self.tenant_id}/discovery/v2.0/keys"

    def identity_prefix(self) -> str:
        return "azuread"

    async def token_to_user(self, token_info: dict[str, Any]) -> dict[str, Any]:
        # OAuthenticator 17 decodes the id_token without checking its signature; everything
        # about who logs in comes from it, so verify it: Azure's key, our audience, not
        # expired, and (when the tenant is configured by ID) our tenant.
        id_token = token_info.get("id_token")
        try:
            if not id_token:
                raise jwt.InvalidTokenError("the token response has no id_token")
            # The key fetch is blocking I/O (only when the cache misses): keep it off the loop.
            key = await asyncio.get_running_loop().run_in_executor(
                None, jwks_client(self.jwks_url).get_signing_key_from_jwt, id_token
            )
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256"],
                audience=self.client_id,
                leeway=ID_TOKEN_LEEWAY,
                options={"require": ["exp", "aud"]},
            )
            tenant = self.tenant_id
            if _GUID_RE.fullmatch(tenant) and str(claims.get("tid", "")).lower() != tenant.lower():
                raise jwt.InvalidTokenError(
                    f"the token is from tenant {claims.get('tid')!r}, not {tenant}"
                )
        except jwt.PyJWTError as exc:
            # The reason only: never the token.
            self.log.warning("Login refused: Azure AD id_token failed verification: %s", exc)
            raise web.HTTPError(
                403,
                f"The hub could not verify the login Azure AD sent ({exc}). "
                "Please try again; if it keeps failing, ask an admin.",
            ) from None
        return claims

    def identity_of(self, user_info: dict[str, Any]) -> str | None:
        subject = user_info.get("oid") or user_info.get("sub")
        if not subject:
            return None
        return f"azuread:{user_info.get('tid') or self.tenant_id}:{subject}"

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        for claim in self.principal_claims:
            value = user_info.get(claim)
            if isinstance(value, str) and value.strip():
                return self.checked_name(names.azure_username(value), value)
        self.log.error("Azure AD sent none of the claims %s", ", ".join(self.principal_claims))
        raise web.HTTPError(
            403,
            "Azure AD did not say who you are (no "
            + " or ".join(self.principal_claims)
            + " claim). Please ask an admin.",
        )


class GitHubAuthenticator(PolicyOAuthenticator, GitHubOAuthenticator):
    def identity_prefix(self) -> str:
        return "github"

    def identity_of(self, user_info: dict[str, Any]) -> str | None:
        # The numeric id survives renames; a login freed by a rename can be taken by someone else.
        uid = user_info.get("id")
        return f"github:{uid}" if uid not in (None, "") else None


class GenericOIDCAuthenticator(PolicyOAuthenticator, GenericOAuthenticator):
    def identity_prefix(self) -> str:
        return "oidc"

    def identity_of(self, user_info: dict[str, Any]) -> str | None:
        subject = user_info.get("sub") or user_info.get("id")
        if subject in (None, ""):
            return None
        issuer = user_info.get("iss") or self.token_url
        return f"oidc:{issuer}:{subject}"


CLASSES: dict[str, type[Authenticator]] = {
    "none": ClosedAuthenticator,
    "azuread": AzureAdAuthenticator,
    "github": GitHubAuthenticator,
    "generic-oidc": GenericOIDCAuthenticator,
}


def authenticator_class(settings: HubSettings) -> type[Authenticator]:
    return CLASSES[settings.auth_provider]


def configure(c: Any, settings: HubSettings) -> None:
    """Set the chosen authenticator's options on the traitlets config `c`."""
    cls = authenticator_class(settings)
    c.JupyterHub.authenticator_class = cls
    doc = for_path(settings.policy_file).current()
    c.Authenticator.admin_users = set(doc["admins"])
    c.Authenticator.allow_all = settings.allow_all
    # check_allowed reads the policy live; there is no static allow config to warn about.
    c.Authenticator.any_allow_config = True
    c.PolicyAuthenticator.policy_file = settings.policy_file
    c.PolicyOAuthenticator.identities_file = settings.identities_file
    if cls is ClosedAuthenticator:
        c.SharedPasswordAuthenticator.admin_password = settings.admin_password or None
        c.SharedPasswordAuthenticator.user_password = None
        return
    section = c[cls.__name__]
    section.client_id = settings.client_id
    section.client_secret = settings.client_secret
    if settings.callback_url:
        section.oauth_callback_url = settings.callback_url
    if settings.groups_claim:
        section.manage_groups = True
        section.auth_state_groups_key = f"{cls.user_auth_state_key}.{settings.groups_claim}"
        c.PolicyAuthenticator.groups_from_claim = True
    if cls is AzureAdAuthenticator:
        section.tenant_id = settings.azure_tenant_id
        section.scope = ["openid"]
        if settings.username_claim:
            section.principal_claims = [settings.username_claim]
        if settings.jwks_url:
            section.jwks_url = settings.jwks_url
    elif cls is GenericOIDCAuthenticator:
        # The user's claims come from the userinfo endpoint, fetched with the access token
        # over the provider's TLS; userdata_from_id_token stays False (OAuthenticator would
        # decode the id_token without checking its signature), so nothing unverified is used.
        section.username_claim = settings.username_claim or "preferred_username"
        section.scope = ["openid", "profile", "email"]
        section.userdata_url = settings.userdata_url
    elif cls is GitHubAuthenticator and settings.username_claim:
        section.username_claim = settings.username_claim
    # Explicit endpoints (a local test provider, a sovereign cloud) win over the defaults.
    if settings.authorize_url:
        section.authorize_url = settings.authorize_url
    if settings.token_url:
        section.token_url = settings.token_url
