"""Login rules of the rendered hub: the authenticator HUB_AUTH_PROVIDER selects, the live
policy's allow and admin rules, Azure AD usernames and the one-identity-per-name guard.

The OAuth provider is the only fake: the token exchange returns what the provider would
send (an id_token signed with an RSA key made here, published as a JWKS by a real HTTP server
on 127.0.0.1); everything after it (id_token verification, username, groups, allow checks,
admin flag, identity record) is the real OAuthenticator / JupyterHub code path."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from support.hub_harness import ADMIN_PASSWORD, RenderedHub, write_policy
from tornado import web

TENANT = "6d1b5f0e-7c2a-4c1e-9a55-2f0d7e3c9b10"
CLIENT = "0f6a2e0c-hub-client"
CALLBACK = "https://hub.example.edu/hub/oauth_callback"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # never published
KID = "tenant-key-1"
POLICY = {
    "version": 1,
    "admins": ["alice--school-edu", "alice"],
    "users": ["bob--school-edu", "carol", "octocat", "dora@example.org"],
    "groups": {"physics": {"members_mode": "ro", "members": []}},
    "limits": {"default": {"memory": "350m"}},
}
AZURE_ENV = {
    "HUB_AUTH_PROVIDER": "azuread",
    "HUB_OAUTH_CLIENT_ID": CLIENT,
    "HUB_OAUTH_CLIENT_SECRET": "s3cret-value",
    "HUB_AZURE_TENANT_ID": TENANT,
    "HUB_OAUTH_CALLBACK_URL": CALLBACK,
}


class JWKSServer:
    """The tenant's published signing key, served as Azure serves it: a JWKS over HTTP."""

    def __init__(self, key) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid=KID, use="sig", alg="RS256")
        body = json.dumps({"keys": [jwk]}).encode()
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{TENANT}/discovery/v2.0/keys"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def jwks():
    server = JWKSServer(SIGNING_KEY)
    yield server
    server.close()


@pytest.fixture
def azure_env(jwks):
    return dict(AZURE_ENV, HUB_OIDC_JWKS_URL=jwks.url)


def make_hub(tmp_path, monkeypatch, policy=POLICY, **env):
    h = RenderedHub(tmp_path, monkeypatch, **env)
    write_policy(h.data, policy)
    h.start()
    return h


@pytest.fixture
def azure(tmp_path, monkeypatch, azure_env):
    h = make_hub(tmp_path, monkeypatch, **azure_env)
    yield h
    h.close()


def azure_token(key=SIGNING_KEY, **claims) -> dict:
    now = int(time.time())
    body = {"aud": CLIENT, "iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT,
            "iat": now, "nbf": now, "exp": now + 3600, "oid": "oid-default"}
    body.update(claims)
    return {
        "access_token": "access",
        "token_type": "Bearer",
        "id_token": jwt.encode(body, key, algorithm="RS256", headers={"kid": KID}),
    }


def login(authenticator, token_info=None, user_info=None):
    """The real login pipeline after the provider's token endpoint answered."""

    async def get_token_info(handler, params):
        return token_info or {"access_token": "access", "token_type": "Bearer"}

    authenticator.build_access_tokens_request_params = lambda handler, data=None: {}
    authenticator.get_token_info = get_token_info
    if user_info is not None:

        async def token_to_user(info):
            return dict(user_info)

        authenticator.token_to_user = token_to_user
    return asyncio.run(authenticator.get_authenticated_user(None, None))


# --- which authenticator ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "cls", "base"),
    [
        ({}, "ClosedAuthenticator", "SharedPasswordAuthenticator"),
        ({"HUB_AUTH_PROVIDER": "none"}, "ClosedAuthenticator", "SharedPasswordAuthenticator"),
        (AZURE_ENV, "AzureAdAuthenticator", "AzureAdOAuthenticator"),
        (
            {"HUB_AUTH_PROVIDER": "github", "HUB_OAUTH_CLIENT_ID": "gh",
             "HUB_OAUTH_CLIENT_SECRET": "x", "HUB_OAUTH_CALLBACK_URL": CALLBACK},
            "GitHubAuthenticator",
            "GitHubOAuthenticator",
        ),
        (
            {"HUB_AUTH_PROVIDER": "generic-oidc", "HUB_OAUTH_CLIENT_ID": "c",
             "HUB_OAUTH_CLIENT_SECRET": "x", "HUB_OAUTH_CALLBACK_URL": CALLBACK,
             "HUB_OIDC_AUTHORIZE_URL": "https://id.example.org/authorize",
             "HUB_OIDC_TOKEN_URL": "https://id.example.org/token",
             "HUB_OIDC_USERDATA_URL": "https://id.example.org/userinfo"},
            "GenericOIDCAuthenticator",
            "GenericOAuthenticator",
        ),
    ],
)
def test_provider_selects_the_authenticator(tmp_path, monkeypatch, env, cls, base):
    h = make_hub(tmp_path, monkeypatch, **env)
    try:
        auth = h.authenticator()
        assert type(auth).__name__ == cls
        assert base in [c.__name__ for c in type(auth).__mro__]
        assert auth.allow_all is False
        assert auth.admin_users == {"alice--school-edu", "alice"}
    finally:
        h.close()


def test_azure_options_reach_oauthenticator(azure):
    auth = azure.authenticator()
    assert auth.client_id == CLIENT
    assert auth.client_secret == "s3cret-value"
    assert auth.tenant_id == TENANT
    assert auth.oauth_callback_url == CALLBACK
    assert auth.authorize_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/authorize"
    assert auth.token_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/token"
    assert auth.manage_groups is False


def test_azure_keys_default_to_the_tenants_and_can_be_overridden(tmp_path, monkeypatch, jwks):
    h = make_hub(tmp_path, monkeypatch, **AZURE_ENV)
    try:
        assert h.authenticator().jwks_url == (
            f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
        )
    finally:
        h.close()
    (tmp_path / "o").mkdir()
    h = make_hub(tmp_path / "o", monkeypatch, **AZURE_ENV, HUB_OIDC_JWKS_URL=jwks.url)
    try:
        assert h.authenticator().jwks_url == jwks.url
    finally:
        h.close()


def test_explicit_endpoints_override_azure_defaults(tmp_path, monkeypatch):
    h = make_hub(
        tmp_path, monkeypatch, **AZURE_ENV,
        HUB_OIDC_AUTHORIZE_URL="http://127.0.0.1:9999/authorize",
        HUB_OIDC_TOKEN_URL="http://127.0.0.1:9999/token",
    )
    try:
        assert h.authenticator().authorize_url == "http://127.0.0.1:9999/authorize"
        assert h.authenticator().token_url == "http://127.0.0.1:9999/token"
    finally:
        h.close()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"HUB_AUTH_PROVIDER": "azuread", "HUB_OAUTH_CLIENT_ID": "c"},
         "needs HUB_OAUTH_CLIENT_SECRET, HUB_AZURE_TENANT_ID"),
        ({"HUB_AUTH_PROVIDER": "okta"}, "HUB_AUTH_PROVIDER must be one of"),
        ({"HUB_ALLOW_ALL": "yes"}, "HUB_ALLOW_ALL must be true or false"),
        ({"HUB_ADMIN_PASSWORD": "short"}, "at least 32 characters"),
    ],
)
def test_bad_login_settings_stop_the_hub_with_one_clear_message(
    tmp_path, monkeypatch, env, message
):
    from jupyterhub.app import JupyterHub

    h = RenderedHub(tmp_path, monkeypatch, **env)
    try:
        with pytest.raises(ValueError, match=message):
            JupyterHub().load_config_file(h.config_file)
    finally:
        h.close()


# --- the closed default ---------------------------------------------------------------------


def password_login(auth, username, password):
    return asyncio.run(
        auth.get_authenticated_user(None, {"username": username, "password": password})
    )


def test_closed_default_admits_only_policy_admins_with_the_admin_password(tmp_path, monkeypatch):
    h = make_hub(tmp_path, monkeypatch)
    try:
        auth = h.authenticator()
        assert auth.user_password is None
        assert password_login(auth, "alice", ADMIN_PASSWORD) == {
            "name": "alice", "admin": True, "auth_state": None, "user_info": None,
        }
        assert password_login(auth, "ALICE", ADMIN_PASSWORD)["name"] == "alice"
        assert password_login(auth, "alice", ADMIN_PASSWORD + "x") is None
        assert password_login(auth, "alice", "") is None
        assert password_login(auth, "carol", ADMIN_PASSWORD) is None  # allowed user, not admin
        assert password_login(auth, "mallory", ADMIN_PASSWORD) is None
        assert password_login(auth, "../alice", ADMIN_PASSWORD) is None
        # Admins added to the policy after start can log in at once.
        write_policy(h.data, dict(POLICY, admins=["alice", "zoe"]))
        assert password_login(auth, "zoe", ADMIN_PASSWORD)["admin"] is True
    finally:
        h.close()


def test_closed_default_without_password_lets_nobody_in(tmp_path, monkeypatch):
    h = make_hub(tmp_path, monkeypatch, HUB_ADMIN_PASSWORD="")
    try:
        assert password_login(h.authenticator(), "alice", "") is None
        assert password_login(h.authenticator(), "alice", ADMIN_PASSWORD) is None
    finally:
        h.close()


# --- Azure AD usernames -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"unique_name": "Bob@School.edu"}, "bob--school-edu"),
        ({"unique_name": "bob@school.edu", "upn": "other@school.edu"}, "bob--school-edu"),
        ({"upn": "Bob@school.edu"}, "bob--school-edu"),  # v1 token without unique_name
        ({"preferred_username": "bob@school.edu"}, "bob--school-edu"),  # v2 token
    ],
)
def test_azure_claims_to_usernames(azure, claims, username):
    result = login(azure.authenticator(), azure_token(**claims))
    assert result["name"] == username
    assert result["admin"] is False


def test_azure_admin_from_policy(azure):
    result = login(azure.authenticator(), azure_token(unique_name="Alice@school.edu"))
    assert result["name"] == "alice--school-edu"
    assert result["admin"] is True


@pytest.mark.parametrize(
    ("claims", "refusal"),
    [
        ({"unique_name": "live.com#eve@gmail.com"}, "maps to the username"),  # guest account
        ({"unique_name": "o'brien@school.edu"}, "maps to the username"),
        ({"name": "No Principal"}, "did not say who you are"),
    ],
)
def test_azure_unusable_principals_are_refused_with_a_message(azure, claims, refusal):
    with pytest.raises(web.HTTPError) as info:
        login(azure.authenticator(), azure_token(**claims))
    assert info.value.status_code == 403
    assert refusal in info.value.log_message


def test_azure_users_not_in_policy_are_not_allowed(azure):
    assert login(azure.authenticator(), azure_token(unique_name="mallory@school.edu")) is None


def test_azure_policy_changes_apply_at_next_login(azure):
    auth = azure.authenticator()
    token = azure_token(unique_name="newkid@school.edu", oid="oid-newkid")
    assert login(auth, token) is None
    write_policy(azure.data, dict(POLICY, users=POLICY["users"] + ["newkid--school-edu"]))
    assert login(auth, token)["name"] == "newkid--school-edu"
    # And removing an admin in the policy removes admin at the next login.
    token = azure_token(unique_name="alice@school.edu", oid="oid-alice")
    assert login(auth, token)["admin"] is True
    write_policy(azure.data, dict(POLICY, admins=[], users=["alice--school-edu"]))
    assert login(auth, token)["admin"] is False


def test_two_identities_mapping_to_one_name_the_second_is_refused(azure):
    auth = azure.authenticator()
    first = azure_token(unique_name="bob@school.edu", oid="oid-bob-1")
    second = azure_token(unique_name="Bob@School.edu", oid="oid-bob-2")
    assert login(auth, first)["name"] == "bob--school-edu"
    assert login(auth, first)["name"] == "bob--school-edu"  # the owner, again: fine
    with pytest.raises(web.HTTPError) as info:
        login(auth, second)
    assert info.value.status_code == 403
    assert "already belongs to another account" in info.value.log_message
    record = json.loads((azure.data / "identities.json").read_text())
    assert record["names"]["bob--school-edu"]["identity"] == f"azuread:{TENANT}:oid-bob-1"
    # The same person from another tenant does not even get past verification.
    other_tenant = azure_token(unique_name="bob@school.edu", oid="oid-bob-1", tid="t2")
    with pytest.raises(web.HTTPError, match="not " + TENANT):
        login(auth, other_tenant)


def test_shortened_long_names_collide_and_the_second_is_refused(azure):
    long_a = "christina.mariabernadette.a@school.edu"
    long_b = "christina.mariabernadette.b@school.edu"
    write_policy(azure.data, dict(POLICY, users=["christina-mariabern--school-edu"]))
    auth = azure.authenticator()
    assert login(auth, azure_token(unique_name=long_a, oid="oid-a"))["name"] == (
        "christina-mariabern--school-edu"
    )
    with pytest.raises(web.HTTPError, match="403"):
        login(auth, azure_token(unique_name=long_b, oid="oid-b"))


def test_refused_identity_claims_nothing(azure):
    auth = azure.authenticator()
    # Not in the policy: not allowed, so the name stays free for its rightful owner.
    assert login(auth, azure_token(unique_name="newkid@school.edu", oid="oid-intruder")) is None
    assert not (azure.data / "identities.json").exists()


def test_allow_all_lets_anyone_in_but_still_guards_names(tmp_path, monkeypatch, azure_env):
    h = make_hub(tmp_path, monkeypatch, **azure_env, HUB_ALLOW_ALL="true")
    try:
        auth = h.authenticator()
        assert auth.allow_all is True
        assert login(auth, azure_token(unique_name="anyone@school.edu", oid="o1"))["name"] == (
            "anyone--school-edu"
        )
        with pytest.raises(web.HTTPError):
            login(auth, azure_token(unique_name="anyone@school.edu", oid="o2"))
    finally:
        h.close()


def test_azure_groups_claim_allows_policy_groups_and_sets_hub_groups(
    tmp_path, monkeypatch, azure_env
):
    h = make_hub(tmp_path, monkeypatch, **azure_env, HUB_OAUTH_GROUPS_CLAIM="groups")
    try:
        auth = h.authenticator()
        assert auth.manage_groups is True
        assert auth.auth_state_groups_key == "user.groups"
        member = azure_token(unique_name="erin@school.edu", oid="o-erin", groups=["physics", "x"])
        result = login(auth, member)
        assert result["name"] == "erin--school-edu"
        assert result["groups"] == ["physics", "x"]
        outsider = azure_token(unique_name="finn@school.edu", oid="o-finn", groups=["x"])
        assert login(auth, outsider) is None
    finally:
        h.close()


# --- Azure AD id_token verification -------------------------------------------------------------


def test_verified_token_logs_in_with_the_username_rule(azure, jwks):
    auth = azure.authenticator()
    before = jwks.fetches
    first = login(auth, azure_token(unique_name="Bob@School.edu", oid="oid-bob"))
    assert first["name"] == "bob--school-edu"
    assert login(auth, azure_token(unique_name="bob@school.edu", oid="oid-bob"))["name"] == (
        "bob--school-edu"
    )
    # The key set is cached between logins, not fetched for each.
    assert jwks.fetches - before <= 1


def refusal(hub, token: dict) -> tuple[str, str]:
    """(what the user is told, what the log says) for a login that must be refused."""
    with pytest.raises(web.HTTPError) as info:
        login(hub.authenticator(), token)
    assert info.value.status_code == 403
    assert "could not verify the login Azure AD sent" in info.value.log_message
    logged = [m for m in hub.log.messages() if "id_token failed verification" in m]
    assert logged, hub.log.messages()
    if token["id_token"]:
        for text in (info.value.log_message, *hub.log.messages()):
            assert token["id_token"] not in text
            assert token["id_token"].split(".")[2] not in text  # nor its signature
    return info.value.log_message, logged[-1]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        # Signed by a key the tenant never published, under the published key's id.
        (lambda: azure_token(OTHER_KEY, unique_name="bob@school.edu"), "Signature"),
        (lambda: azure_token(unique_name="bob@school.edu", aud="another-app"), "Audience"),
        (lambda: azure_token(unique_name="bob@school.edu", iat=int(time.time()) - 7200,
                             nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600),
         "expired"),
        (lambda: azure_token(unique_name="bob@school.edu",
                             tid="11111111-2222-3333-4444-555555555555"),
         "not " + TENANT),
    ],
    ids=["bad-signature", "wrong-audience", "expired", "wrong-tenant"],
)
def test_unverifiable_tokens_are_refused_with_a_reason(azure, token, reason):
    told, logged = refusal(azure, token())
    assert reason in told and reason in logged
    assert not (azure.data / "identities.json").exists()


def test_token_without_id_token_or_key_id_is_refused(azure):
    token = azure_token(unique_name="bob@school.edu")
    told, logged = refusal(azure, {**token, "id_token": ""})
    assert "no id_token" in logged
    unknown_kid = jwt.encode({"aud": CLIENT, "tid": TENANT, "exp": int(time.time()) + 60,
                              "unique_name": "bob@school.edu"}, SIGNING_KEY,
                             algorithm="RS256", headers={"kid": "not-published"})
    told, logged = refusal(azure, {**token, "id_token": unknown_kid})
    assert "signing key" in logged


def test_clock_difference_within_the_leeway_is_accepted(azure):
    now = int(time.time())
    token = azure_token(unique_name="bob@school.edu", oid="oid-bob", exp=now - 20)
    assert login(azure.authenticator(), token)["name"] == "bob--school-edu"


def test_tenant_by_domain_checks_signature_and_audience_only(tmp_path, monkeypatch, azure_env):
    h = make_hub(tmp_path, monkeypatch, **dict(azure_env, HUB_AZURE_TENANT_ID="school.edu"))
    try:
        token = azure_token(unique_name="bob@school.edu", oid="oid-bob")
        assert login(h.authenticator(), token)["name"] == "bob--school-edu"
        refusal(h, azure_token(OTHER_KEY, unique_name="bob@school.edu"))
    finally:
        h.close()


# --- GitHub and generic OIDC -------------------------------------------------------------------


def github_hub(tmp_path, monkeypatch):
    return make_hub(
        tmp_path, monkeypatch, HUB_AUTH_PROVIDER="github", HUB_OAUTH_CLIENT_ID="gh",
        HUB_OAUTH_CLIENT_SECRET="x", HUB_OAUTH_CALLBACK_URL=CALLBACK,
    )


def test_github_login_and_rename_takeover_is_refused(tmp_path, monkeypatch):
    h = github_hub(tmp_path, monkeypatch)
    try:
        auth = h.authenticator()
        owner = {"login": "OctoCat", "id": 583231, "email": "o@example.org"}
        assert login(auth, user_info=owner)["name"] == "octocat"
        # octocat renamed; somebody else registers the freed login.
        taker = {"login": "octocat", "id": 999, "email": "t@example.org"}
        with pytest.raises(web.HTTPError, match="403"):
            login(auth, user_info=taker)
        assert login(auth, user_info={"login": "stranger", "id": 5, "email": None}) is None
    finally:
        h.close()


def test_generic_oidc_uses_preferred_username_and_subject(tmp_path, monkeypatch):
    h = make_hub(
        tmp_path, monkeypatch, HUB_AUTH_PROVIDER="generic-oidc", HUB_OAUTH_CLIENT_ID="c",
        HUB_OAUTH_CLIENT_SECRET="x", HUB_OAUTH_CALLBACK_URL=CALLBACK,
        HUB_OIDC_AUTHORIZE_URL="https://id.example.org/authorize",
        HUB_OIDC_TOKEN_URL="https://id.example.org/token",
        HUB_OIDC_USERDATA_URL="https://id.example.org/userinfo",
    )
    try:
        auth = h.authenticator()
        assert auth.username_claim == "preferred_username"
        assert auth.userdata_url == "https://id.example.org/userinfo"
        info = {"sub": "s-1", "preferred_username": "Dora@Example.org"}
        assert login(auth, user_info=info)["name"] == "dora@example.org"
        record = json.loads((h.data / "identities.json").read_text())
        assert record["names"]["dora@example.org"]["identity"] == (
            "oidc:https://id.example.org/token:s-1"
        )
        with pytest.raises(web.HTTPError, match="403"):
            login(auth, user_info={"sub": "s-1", "preferred_username": "../dora"})
    finally:
        h.close()
