"""The Azure AD stand-in speaks the protocol the hub's authenticator expects (no Docker).

The bed's login scenarios are only as good as this provider: it must refuse what Azure
refuses (wrong secret, wrong redirect, replayed code, bad PKCE verifier) and sign what it
issues with a key its JWKS publishes. The last tests drive the real oauthenticator 17.x
AzureAdOAuthenticator (the hub's own subclass, which verifies the id_token against the
stand-in's JWKS) through a token exchange against it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from support.oidc_standin import AzureADStandin
from tornado import web

CALLBACK = "http://127.0.0.1:9/hub/oauth_callback"


@pytest.fixture
def idp():
    with AzureADStandin() as provider:
        provider.add("First.Last@school.edu", name="First Last", groups=["physics"])
        yield provider


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize(idp: AzureADStandin, login: str, challenge: str | None = None) -> str:
    params = {"client_id": idp.client_id, "response_type": "code", "redirect_uri": CALLBACK,
              "state": "s1", "scope": "openid"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = requests.get(idp.authorize_url, params=params, timeout=5)
    assert page.status_code == 200 and "<form" in page.text
    resp = requests.post(idp.authorize_url, params=params, data={"login": login},
                         allow_redirects=False, timeout=5)
    assert resp.status_code == 302, resp.text
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def exchange(idp: AzureADStandin, code: str, **overrides: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": idp.client_id, "client_secret": idp.client_secret, **overrides}
    return requests.post(idp.token_url, data=data, timeout=5)


def test_id_token_is_signed_with_a_published_key(idp):
    verifier, challenge = pkce()
    resp = exchange(idp, authorize(idp, "First.Last@school.edu", challenge),
                    code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    key = jwt.PyJWKClient(idp.jwks_url).get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], key.key, algorithms=["RS256"],
                        audience=idp.client_id, issuer=idp.issuer)
    assert claims["upn"] == claims["unique_name"] == "First.Last@school.edu"
    assert claims["tid"] == idp.tenant and claims["groups"] == ["physics"]
    # Signed by the stand-in's key, not just any: another key fails verification.
    with AzureADStandin() as other, pytest.raises(jwt.InvalidSignatureError):
        other_key = jwt.PyJWKClient(other.jwks_url).get_signing_key(other.kid)
        jwt.decode(tokens["id_token"], other_key.key, algorithms=["RS256"],
                   audience=idp.client_id)
    info = requests.get(idp.userinfo_url, timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json()["oid"] == claims["oid"]


def test_discovery_names_the_endpoints(idp):
    doc = requests.get(f"{idp.authority}/v2.0/.well-known/openid-configuration", timeout=5)
    assert doc.json()["jwks_uri"] == idp.jwks_url
    assert doc.json()["issuer"] == idp.issuer
    assert requests.get(f"{idp.base_url}/other-tenant/oauth2/token", timeout=5).status_code == 404


@pytest.mark.parametrize("change,error", [
    ({"client_secret": "wrong"}, "invalid_client"),
    ({"redirect_uri": "http://evil.example/cb"}, "invalid_grant"),
    ({"code_verifier": "not-the-verifier"}, "invalid_grant"),
])
def test_token_endpoint_refuses_what_azure_refuses(idp, change, error):
    verifier, challenge = pkce()
    code = authorize(idp, "First.Last@school.edu", challenge)
    resp = exchange(idp, code, **{"code_verifier": verifier, **change})
    assert resp.status_code in (400, 401)
    assert resp.json()["error"] == error


def test_codes_are_single_use_and_accounts_must_exist(idp):
    code = authorize(idp, "First.Last@school.edu")
    assert exchange(idp, code).status_code == 200
    assert exchange(idp, code).json()["error"] == "invalid_grant"
    resp = requests.post(idp.authorize_url, data={"login": "nobody@school.edu"}, timeout=5,
                         params={"client_id": idp.client_id, "response_type": "code",
                                 "redirect_uri": CALLBACK}, allow_redirects=False)
    assert resp.status_code == 200 and "unknown account" in resp.text


def hub_authenticator(idp: AzureADStandin, jwks_url: str):
    from dokku_jupyterhub.hub_runtime.auth import AzureAdAuthenticator

    return AzureAdAuthenticator(
        client_id=idp.client_id, client_secret=idp.client_secret, tenant_id=idp.tenant,
        oauth_callback_url=CALLBACK, authorize_url=idp.authorize_url,
        token_url=idp.token_url, jwks_url=jwks_url,
    )


def code_flow(idp: AzureADStandin, auth) -> dict:
    code = authorize(idp, "First.Last@school.edu")
    params = {"code": code, "redirect_uri": CALLBACK, "grant_type": "authorization_code"}
    if not auth.basic_auth:
        params.update(client_id=idp.client_id, client_secret=idp.client_secret)

    async def flow():
        token_info = await auth.get_token_info(None, params)
        return await auth.token_to_user(token_info)

    return asyncio.run(flow())


def test_hub_authenticator_exchanges_a_code_and_applies_the_username_rule(idp):
    auth = hub_authenticator(idp, idp.jwks_url)
    user_info = code_flow(idp, auth)
    assert user_info["upn"] == "First.Last@school.edu"
    assert auth.user_info_to_username(user_info) == "first-last--school-edu"
    assert idp.token_requests(), "the authenticator never reached the token endpoint"
    assert idp.jwks_requests(), "the authenticator never fetched the keys to verify"


def test_hub_authenticator_refuses_a_token_its_key_set_did_not_sign(idp):
    # Another provider's key set: it lacks the key the stand-in signed with.
    with AzureADStandin(tenant=idp.tenant) as other:
        auth = hub_authenticator(idp, other.jwks_url)
        with pytest.raises(web.HTTPError) as info:
            code_flow(idp, auth)
    assert info.value.status_code == 403
    assert "could not verify the login Azure AD sent" in info.value.log_message
